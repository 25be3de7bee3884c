"""Input checks shared by every service: names, free text, cities, public ids.

Everything is checked before a service touches the database, so a bad value is a clear
ValidationFailed rather than a database error (PostgreSQL, for one, refuses NUL characters).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from townsquare.core.confusables import has_bidi_control, visible_form
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
    """A one-line name (or title): trimmed, 1..max_length characters, no control characters, no
    bidi controls (which make a name read differently from what it is), not invisible.

    `message` is the field's own msgid (marked with N_) where it is not a name, with {n}."""
    value = (value or "").strip()
    too_long_or_short = ValidationFailed(message or "A name is 1 to {n} characters.",
                                         n=max_length, field=field)
    if not 1 <= len(value) <= max_length or LINE_CONTROL.search(value):
        raise too_long_or_short
    if has_bidi_control(value):
        raise ValidationFailed("A name may not contain text-direction control characters.",
                               field=field)
    if not visible_form(value):
        raise too_long_or_short
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


_PROBE_HOST = "townsquare.invalid"


def is_local_path(value: object, *, max_length: int = 500) -> bool:
    """A link that stays on this site however a browser reads it: a path beginning with one
    "/", with no backslash (browsers read "\\" as "/" in http URLs, so "/\\evil.example" is
    scheme-relative), no whitespace or control character (browsers drop tabs and newlines
    inside URLs: "/\t/evil.example" is "//evil.example"), and the same after percent-decoding
    (up to three rounds: "/%2F%5Cevil.example", "%2F%2Fevil.example"), resolving to this host."""
    if not isinstance(value, str) or not 1 <= len(value) <= max_length:
        return False
    candidate = value
    for _round in range(4):
        if not candidate.startswith("/") or candidate[1:2] in ("/", "\\"):
            return False
        if "\\" in candidate or any(ch <= " " or ch == "\x7f" for ch in candidate):
            return False
        decoded = unquote(candidate)
        if decoded == candidate:
            break
        candidate = decoded
    else:
        return False  # encoded more deeply than any honest link
    resolved = urlsplit(urljoin(f"https://{_PROBE_HOST}/", value))
    return resolved.scheme == "https" and resolved.netloc == _PROBE_HOST


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
