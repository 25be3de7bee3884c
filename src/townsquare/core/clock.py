"""An injectable clock: code asks `clock.now()`, tests freeze or move it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


class Clock:
    def __init__(self) -> None:
        self._frozen: datetime | None = None

    def now(self) -> datetime:
        return self._frozen or datetime.now(UTC)

    def freeze(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("the clock needs a timezone-aware time")
        self._frozen = at.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        self._frozen = self.now() + delta

    def unfreeze(self) -> None:
        self._frozen = None

    @property
    def frozen(self) -> datetime | None:
        """The time the clock stands at, or None when it runs (a step that travels in time
        puts it back as it found it)."""
        return self._frozen


clock = Clock()


def local(dt: datetime | None, zone: str) -> datetime | None:
    """`dt` shown in the configured zone (storage is always UTC)."""
    return dt.astimezone(ZoneInfo(zone)) if dt else None
