"""Content generations: how every worker process learns that curated content changed.

Pages read operator-curated content (the hub's sections, channels, topics) from an in-process
snapshot instead of the database (`Cached`). A model whose rows feed such a snapshot is
`watch`ed under a name ("hub", "topics"); a unit of work that inserts, changes or deletes one
of its rows through the ORM increments that name's row of `content_generations` just before it
commits (so the row is locked only for the commit itself). Each process compares the
generations with its snapshot's at most every `refresh_seconds` (one primary-key read of a
table of a few rows) and reloads a snapshot whose generation moved. The process that committed
the change hears of it at once (`after_commit`), so its next request already shows it; other
processes within the refresh interval. A snapshot is also reloaded after `max_age` seconds
whatever the generations say, which bounds what a write around the ORM (a bulk Core insert,
an SQL console) can leave stale.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Generic, TypeVar

from sqlalchemy import BigInteger, Select, String, event, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column

from townsquare.core.database import Base, engine_of, table_of

T = TypeVar("T")
_PENDING = "townsquare.generations.pending"
DEFAULT_MAX_AGE = 300.0  # seconds: reload even when no generation moved (writes around the ORM)
monotonic = time.monotonic  # tests replace it to move time


class ContentGeneration(Base):
    """One row per watched name: incremented by each unit of work that changed its content."""

    __tablename__ = "content_generations"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, default=0)


_watched: dict[type, frozenset[str]] = {}
# per engine: how many of this process's commits changed each name (heard at once, no query)
_local: weakref.WeakKeyDictionary[Engine, dict[str, int]] = weakref.WeakKeyDictionary()
_local_lock = threading.Lock()


def watch(model: type, *names: str) -> None:
    """Count changes to `model`'s rows under each of `names` (declared next to the model)."""
    _watched[model] = _watched.get(model, frozenset()) | frozenset(names)


def _names_of(objects: Iterable[Any]) -> set[str]:
    found: set[str] = set()
    for obj in objects:
        names = _watched.get(type(obj))
        if names:
            found |= names
    return found


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, _context: Any) -> None:
    if not _watched:
        return
    names = _names_of(session.new) | _names_of(session.deleted)
    names |= _names_of(obj for obj in session.dirty
                       if type(obj) in _watched and session.is_modified(obj))
    if names:
        session.info.setdefault(_PENDING, set()).update(names)


@event.listens_for(Session, "do_orm_execute")
def _note_bulk(state: ORMExecuteState) -> None:
    if state.is_update or state.is_delete or state.is_insert:
        mapper = state.bind_mapper
        names = _watched.get(mapper.class_) if mapper is not None else None
        if names:
            state.session.info.setdefault(_PENDING, set()).update(names)


def bump(db: Session, names: Iterable[str]) -> None:
    """Increment these names' generations in `db`'s transaction (in name order: two units of
    work bumping the same names cannot deadlock)."""
    table = table_of(ContentGeneration)
    dialect = db.get_bind().dialect.name
    make = pg_insert if dialect == "postgresql" else sqlite_insert
    for name in sorted(set(names)):
        stmt = make(table).values(name=name, generation=1)
        db.execute(stmt.on_conflict_do_update(
            index_elements=[table.c.name], set_={"generation": table.c.generation + 1}))


@event.listens_for(Session, "before_commit")
def _bump_pending(session: Session) -> None:
    if session.new or session.dirty or session.deleted:
        session.flush()  # (commit flushes after this hook) the last changes may add names
    if session.info.get(_PENDING):
        bump(session, session.info[_PENDING])


@event.listens_for(Session, "after_commit")
def _heard_locally(session: Session) -> None:
    names = session.info.pop(_PENDING, None)
    if names:
        engine = engine_of(session)
        with _local_lock:
            counts = _local.setdefault(engine, {})
            for name in names:
                counts[name] = counts.get(name, 0) + 1


@event.listens_for(Session, "after_soft_rollback")
def _forget_pending(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)


@lru_cache(maxsize=256)
def _read_statement(names: tuple[str, ...]) -> Select[str, int]:
    stmt = select(ContentGeneration.name, ContentGeneration.generation)
    if len(names) == 1:  # (an IN list is expanded at each execution)
        return stmt.where(ContentGeneration.name == names[0])
    return stmt.where(ContentGeneration.name.in_(names))


def read(db: Session, names: Iterable[str]) -> tuple[int, ...]:
    """The current generations of `names` (0 for a name never bumped), in that order.

    Read on the session's connection with a statement built once per set of names: the gateway
    reads this on every call, and the ORM session's own execute path costs more than the
    query (nothing here is an ORM object)."""
    names = tuple(names)
    found = db.connection().execute(_read_statement(names))
    rows = {name: generation for name, generation in found}
    return tuple(rows.get(name, 0) for name in names)


def _local_counts(engine: Engine, names: tuple[str, ...]) -> tuple[int, ...]:
    counts = _local.get(engine) or {}
    return tuple(counts.get(name, 0) for name in names)


@dataclass
class _Entry(Generic[T]):
    value: T
    stamp: tuple[int, ...]
    local: tuple[int, ...]
    loaded: float
    checked: float
    lock: threading.Lock = field(default_factory=threading.Lock)


class Cached(Generic[T]):
    """A value built from the database by `load`, kept per engine until a generation of one of
    `names` moves (checked at most every `refresh_seconds`) or `max_age` passes. `load` must
    return plain data, never ORM objects (they belong to one session)."""

    def __init__(self, names: Iterable[str], load: Callable[[Session], T], *,
                 max_age: float = DEFAULT_MAX_AGE) -> None:
        self.names = tuple(names)
        self.load = load
        self.max_age = max_age
        self._entries: weakref.WeakKeyDictionary[Engine, _Entry[T]] = (
            weakref.WeakKeyDictionary())
        self.loads = 0  # how many times `load` ran (tests, benchmarks)

    def forget(self) -> None:
        """Drop every engine's value (tests that change rows around the ORM)."""
        self._entries.clear()

    def get(self, db: Session, *, refresh_seconds: float) -> T:
        engine = engine_of(db)
        now = monotonic()
        local = _local_counts(engine, self.names)
        entry = self._entries.get(engine)
        if entry is not None and entry.local == local and now - entry.loaded < self.max_age:
            if now - entry.checked < refresh_seconds:
                return entry.value
            if not entry.lock.acquire(blocking=False):
                return entry.value  # another request is checking right now
            try:
                stamp = read(db, self.names)
                if stamp == entry.stamp:
                    entry.checked = now
                    return entry.value
            finally:
                entry.lock.release()
        else:
            stamp = read(db, self.names)
        fresh = _Entry(self.load(db), stamp, local, now, now)
        self.loads += 1
        self._entries[engine] = fresh
        return fresh.value
