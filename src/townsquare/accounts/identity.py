"""Format checks for mainland China identity data: resident ID numbers and mobile numbers."""

from __future__ import annotations

import re
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_ID_PATTERN = re.compile(r"^[1-9]\d{16}[\dX]$")
_PHONE_PATTERN = re.compile(r"^1[3-9]\d{9}$")


def normalise_id_number(value: str) -> str:
    return value.strip().upper()


def id_check_char(first17: str) -> str:
    return _CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def is_valid_id_number(value: str, today: date | None = None) -> bool:
    """GB 11643 18-digit resident ID: shape, a real birth date not in the future, checksum."""
    value = normalise_id_number(value)
    if not _ID_PATTERN.fullmatch(value):
        return False
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    if born.year < 1900 or born > (today or date.today()):
        return False
    return id_check_char(value[:17]) == value[17]


def mask_id_number(value: str) -> str:
    value = normalise_id_number(value)
    return value[:3] + "*" * 11 + value[-4:]


def is_valid_phone(value: str) -> bool:
    return bool(_PHONE_PATTERN.fullmatch(value.strip()))


def mask_phone(value: str) -> str:
    return value[:3] + "****" + value[-4:]
