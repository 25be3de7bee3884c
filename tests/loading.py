"""Counting what a request loads: a page must cost its page size, not the table."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event


@contextmanager
def rows_loaded(model: type) -> Iterator[list[object]]:
    """The instances of `model` the ORM loads inside the block."""
    loaded: list[object] = []

    def seen(target: object, context: object) -> None:
        loaded.append(target)

    event.listen(model, "load", seen)
    try:
        yield loaded
    finally:
        event.remove(model, "load", seen)
