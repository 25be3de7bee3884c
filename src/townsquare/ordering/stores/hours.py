"""Opening hours and closed days as people type them, and as the slot calendar reads them.

Pure (no database). Hours are per weekday (Monday = 0) lists of [open, close) intervals in
minutes since local midnight: "08:00-12:00, 13:30-21:00" → [[480, 720], [810, 1260]]. A close of
24:00 is allowed; an interval across midnight is two intervals on two days."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date

from townsquare.core.errors import ValidationFailed

WEEKDAYS = range(7)
_INTERVAL = re.compile(r"^(\d{1,2})[:：](\d{2})\s*[-–~至到]\s*(\d{1,2})[:：](\d{2})$")
Intervals = list[list[int]]


def minutes(text: str, *, field: str) -> int:
    """"08:30" → 510 (00:00 to 24:00)."""
    match = re.fullmatch(r"(\d{1,2})[:：](\d{2})", (text or "").strip())
    value = int(match.group(1)) * 60 + int(match.group(2)) if match else -1
    if not match or int(match.group(2)) > 59 or not 0 <= value <= 1440:
        raise ValidationFailed("Enter a time such as 08:30.", field=field)
    return value


def parse_day(text: str, *, field: str) -> Intervals:
    """One weekday's hours: intervals separated by commas; empty means closed that day."""
    found: Intervals = []
    for part in re.split(r"[,，;；、\s]+(?=\d)", (text or "").strip()):
        part = part.strip()
        if not part:
            continue
        match = _INTERVAL.match(part)
        if not match:
            raise ValidationFailed("Enter opening hours such as 08:00-12:00, 13:30-21:00.",
                                   field=field)
        start = minutes(f"{match.group(1)}:{match.group(2)}", field=field)
        end = minutes(f"{match.group(3)}:{match.group(4)}", field=field)
        if end <= start:
            raise ValidationFailed("A closing time comes after its opening time.", field=field)
        found.append([start, end])
    found.sort()
    for (_, end), (start, _) in zip(found, found[1:], strict=False):
        if start < end:
            raise ValidationFailed("Opening hours of one day may not overlap.", field=field)
    return found


def parse_week(texts: Mapping[int, str]) -> dict[str, Intervals]:
    return {str(day): parse_day(texts.get(day, ""), field=f"hours_{day}") for day in WEEKDAYS}


def clock_text(value: int) -> str:
    return f"{value // 60:02d}:{value % 60:02d}"


def day_text(intervals: Sequence[Sequence[int]]) -> str:
    """The form's text for one weekday: "08:00-12:00, 13:30-21:00"."""
    return ", ".join(f"{clock_text(a)}-{clock_text(b)}" for a, b in intervals)


def intervals_on(hours: Mapping[str, Sequence[Sequence[int]]], day: date) -> Intervals:
    return [[int(a), int(b)] for a, b in hours.get(str(day.weekday()), [])]


def parse_closed_days(text: str, *, field: str = "closed_days") -> list[str]:
    """Dates one per line or separated by commas, "2026-12-25"; sorted, without repeats."""
    found: set[str] = set()
    for part in re.split(r"[\s,，;；、]+", (text or "").strip()):
        if not part:
            continue
        try:
            found.add(date.fromisoformat(part).isoformat())
        except ValueError as exc:
            raise ValidationFailed("Enter dates such as 2026-12-25, one per line.",
                                   field=field) from exc
    if len(found) > 366:
        raise ValidationFailed("At most a year of closed days.", field=field)
    return sorted(found)


def is_closed(closed_days: Iterable[str], day: date) -> bool:
    return day.isoformat() in set(closed_days)
