"""The catalog's typed-in values, checked the same way for forms and for imported rows. Pure."""

from __future__ import annotations

import re
from typing import Any

from townsquare.core.errors import ValidationFailed
from townsquare.ordering.catalog.models import UNITS
from townsquare.ordering.stores.hours import clock_text, minutes

MAX_CHOICES = 12
_CODE = re.compile(r"^[A-Za-z0-9._-]{1,32}$")


def unit(value: str) -> str:
    value = (value or "").strip() or "份"
    if value not in UNITS:
        raise ValidationFailed("Choose a unit: {units}.", units=" ".join(UNITS), field="unit")
    return value


def code(value: str) -> str:
    value = (value or "").strip()
    if not _CODE.match(value):
        raise ValidationFailed("A SKU code is 1 to 32 letters, digits, dots, dashes or "
                               "underscores.", field="code")
    return value


def options(text: str) -> list[dict[str, Any]]:
    """"辣度: 不辣/微辣/特辣; 甜度: 少糖/正常" → [{"name": "辣度", "choices": [...]}, …]."""
    found: list[dict[str, Any]] = []
    for part in re.split(r"[;；\n]+", (text or "").strip()):
        if not part.strip():
            continue
        match = re.match(r"^\s*([^:：]{1,16})[:：](.*)$", part)
        choices = [c.strip() for c in re.split(r"[/／、,，]+", match.group(2)) if c.strip()
                   ] if match else []
        if not match or not match.group(1).strip() or not 2 <= len(choices) <= MAX_CHOICES or any(
                len(c) > 16 for c in choices):
            raise ValidationFailed("Write options as 辣度: 不辣/微辣/特辣; one option per line.",
                                   field="options")
        name = match.group(1).strip()
        found.append({"name": name, "choices": choices})
    return found


def options_text(value: list[dict[str, Any]]) -> str:
    return "; ".join(f"{o['name']}: {'/'.join(o['choices'])}" for o in value)


def available(text: str) -> tuple[int | None, int | None]:
    """"10:30-14:00" → (630, 840); empty → all day."""
    text = (text or "").strip()
    if not text:
        return None, None
    parts = re.split(r"\s*[-–~至到]\s*", text)
    if len(parts) != 2:
        raise ValidationFailed("Enter a time of day such as 10:30-14:00, or leave it empty.",
                               field="available")
    start, end = (minutes(p, field="available") for p in parts)
    if end <= start:
        raise ValidationFailed("A closing time comes after its opening time.",
                               field="available")
    return start, end


def available_text(start: int | None, end: int | None) -> str:
    return "" if start is None or end is None else f"{clock_text(start)}-{clock_text(end)}"


def whole(value: str | int | float | None, *, field: str, low: int = 0, high: int = 1_000_000,
          empty: int | None = None) -> int | None:
    """A whole number from a form or a sheet cell ("12", 12, 12.0); empty gives `empty`."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return empty
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if not re.fullmatch(r"\d{1,9}", text) or not low <= int(text) <= high:
        raise ValidationFailed("Enter a whole number from {low} to {high}.", low=low,
                               high=high, field=field)
    return int(text)


YES = {"1", "y", "yes", "true", "是", "售罄", "x", "✓"}
NO = {"", "0", "n", "no", "false", "否"}


def flag(value: object, *, field: str) -> bool:
    text = str(value if value is not None else "").strip().lower()
    if text in YES:
        return True
    if text in NO:
        return False
    raise ValidationFailed("Enter 是 or 否 (yes or no).", field=field)
