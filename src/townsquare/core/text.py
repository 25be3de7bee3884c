"""Input checks shared by every service: names, free text, cities, public ids.

Everything is checked before a service touches the database, so a bad value is a clear
ValidationFailed rather than a database error (PostgreSQL, for one, refuses NUL characters).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from townsquare.core.errors import ValidationFailed

NAME_MAX = 64
TEXT_MAX = 2000
REASON_MAX = 500
CITY_MAX = 32
CITIES_MAX = 20
# Control characters; free text may keep tab and newlines, one-line values keep none.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PUBLIC_ID = re.compile(r"^[a-z]{2,4}_[0-9a-z]{1,32}$")


def clean_name(
    value: str, *, field: str = "name", max_length: int = NAME_MAX, message: str | None = None
) -> str:
    """A one-line name (or title): trimmed, 1..max_length characters, no control characters.

    `message` is the field's own msgid (marked with N_) where it is not a name, with {n}."""
    value = (value or "").strip()
    if not 1 <= len(value) <= max_length or LINE_CONTROL.search(value):
        if message is not None:
            raise ValidationFailed(message, n=max_length, field=field)
        raise ValidationFailed("A name is 1 to {n} characters.", n=max_length, field=field)
    return value


def clean_text(
    value: str, *, field: str, message: str, max_length: int = TEXT_MAX, required: bool = False
) -> str:
    """Free text (descriptions, evidence, reasons): trimmed, bounded, newlines allowed.

    `message` is the field's own msgid (marked with N_), with an {n} placeholder for the limit.
    """
    value = (value or "").strip()
    if (required and not value) or len(value) > max_length or CONTROL.search(value):
        raise ValidationFailed(message, n=max_length, field=field)
    return value


def clean_cities(values: Iterable[Any]) -> list[str]:
    """1 to 20 distinct non-empty city names (order kept)."""
    cities: list[str] = []
    for raw in values:
        city = raw.strip() if isinstance(raw, str) else ""
        if not 1 <= len(city) <= CITY_MAX or LINE_CONTROL.search(city):
            raise ValidationFailed(
                "Each city is a name of 1 to {n} characters.", n=CITY_MAX, field="cities"
            )
        if city not in cities:
            cities.append(city)
    if not 1 <= len(cities) <= CITIES_MAX:
        raise ValidationFailed("List 1 to {n} cities.", n=CITIES_MAX, field="cities")
    return cities


def split_cities(text: str) -> list[str]:
    """Cities typed in one form field, separated by commas (ASCII or Chinese) or spaces."""
    return [part for part in re.split(r"[,，、;；\s]+", text or "") if part]


def well_formed(public_id: str, prefix: str) -> bool:
    """Looks like one of our ids (so lookups never send junk, e.g. NUL bytes, to the database)."""
    return (
        isinstance(public_id, str)
        and public_id.startswith(prefix + "_")
        and bool(_PUBLIC_ID.fullmatch(public_id))
    )
