"""Hooks: a lower floor announces that something happened, a higher floor acts on it.

The floors forbid `miniapps` (a review decision, a template change) or `events` (a complaint
received) from importing `messaging`, yet merchants must be told about those events in the same
transaction. The lower floor declares a `Hook` and fires it where the change is made; the
composition roots (`townsquare/app.py`, `townsquare/cli.py`) connect the listeners once at
start. A listener runs inside the firing transaction: it may add rows (they commit or roll back
with the change) and an error it raises fails the change, so nothing is sent for a change that
did not happen and no change happens without its notice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")


class Hook(Generic[T]):
    """A named event with a payload of type T, and the listeners connected to it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._listeners: dict[str, Callable[[Session, T], None]] = {}

    def connect(self, key: str, listener: Callable[[Session, T], None]) -> None:
        """Add (or, under the same key, replace) a listener: connecting twice is harmless."""
        self._listeners[key] = listener

    def disconnect(self, key: str) -> None:
        self._listeners.pop(key, None)

    def fire(self, db: Session, payload: T) -> None:
        for listener in list(self._listeners.values()):
            listener(db, payload)

    @property
    def connected(self) -> list[str]:
        return list(self._listeners)
