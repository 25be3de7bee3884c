"""Write-behind for what serving records: exposure events, delivered counters, bid impressions.

Writing a response's exposures in the request's own transaction made every feed request a write
(on SQLite all of them queue at BEGIN IMMEDIATE; on PostgreSQL they queue on the row locks of the
same few counters). Instead each process keeps a buffer per database: exposure rows, and summed
deltas of the allocation and promise delivered counters and of the bid impressions per bid and
day. A daemon thread writes the buffer every `exposure_flush_ms` in ONE transaction (`write`):
one bulk INSERT of the events, one UPDATE per distinct counter row with its summed delta (a
single executemany, in id order so concurrent flushers lock rows in the same order), one upsert
of the bid impressions.

`exposure_flush_ms = 0` writes the same batch with the same `write` inside the request's own
transaction (what the tests use). Clicks and their charges are never buffered.

A flush also starts as soon as `exposure_flush_rows` event rows are waiting, so a burst does not
wait for the timer. Trade-offs, stated plainly: a process killed without its shutdown hook
(SIGKILL, a crash) loses what was buffered: at most one flush interval of exposures and counts,
and never more than about `exposure_flush_rows` events plus those that arrive while a flush is
being written (the bound and its measurement are in docs/traffic.md). A failed flush keeps the
batch for the next tick (logged); if the database stays down the event rows are bounded by
`exposure_buffer_max` (the oldest are dropped and counted in the log), while the counter deltas,
one number per row, are kept (a SIGKILL during an outage loses those too). Events are inserted
with ON CONFLICT DO NOTHING, so a flush retried after a commit whose answer was lost does not
duplicate them (its counter deltas would then be applied twice: accepted, rare).
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

import structlog
from sqlalchemy import bindparam, event, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import Session

from townsquare.core.database import table_of
from townsquare.events import rollups
from townsquare.events.models import BehaviourEvent
from townsquare.traffic.market import bids
from townsquare.traffic.models import PlanAllocation, Promise

log = structlog.get_logger("townsquare.traffic.exposures")


# An exposure event row as serving buffers it: a tuple in this column order (a dict per row and
# SQLAlchemy's per-row parameter processing cost more than the INSERT itself).
EVENT_COLUMNS = (
    "event_id", "type", "occurred_at", "received_at", "miniapp_id", "merchant_id",
    "category_code", "user_sub", "city", "community", "surface", "slot_reason", "audience",
)


@dataclass
class Batch:
    """What one or more responses recorded: event rows and summed counter deltas."""

    events: list[tuple[Any, ...]] = field(default_factory=list)  # in EVENT_COLUMNS order
    allocations: Counter[int] = field(default_factory=Counter)
    promises: Counter[int] = field(default_factory=Counter)
    impressions: Counter[tuple[int, date]] = field(default_factory=Counter)

    def __bool__(self) -> bool:
        return bool(self.events or self.allocations or self.promises or self.impressions)

    def merge(self, other: Batch) -> None:
        """Add `other` after this batch (events keep their order)."""
        self.events.extend(other.events)
        self.allocations.update(other.allocations)
        self.promises.update(other.promises)
        self.impressions.update(other.impressions)


def _delivered(table: Any) -> Any:
    return (update(table).where(table.c.id == bindparam("row_id"))
            .values(delivered=table.c.delivered + bindparam("delta")))


_ALLOCATIONS = _delivered(PlanAllocation.__table__)
_PROMISES = _delivered(Promise.__table__)


@lru_cache(maxsize=8)
def _event_insert(dialect: Dialect) -> tuple[str, tuple[Any, ...]] | None:
    """The driver-level INSERT of event tuples and each column's bind processor (None: the
    driver's paramstyle is not one this knows, use SQLAlchemy's INSERT)."""
    marker = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(dialect.paramstyle)
    if marker is None:
        return None
    table = table_of(BehaviourEvent)
    sql = (f"INSERT INTO {table.name} ({', '.join(EVENT_COLUMNS)}) "
           f"VALUES ({', '.join([marker] * len(EVENT_COLUMNS))}) "
           "ON CONFLICT (event_id) DO NOTHING")
    processors = tuple(
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in EVENT_COLUMNS
    )
    return sql, processors


def _insert_events(db: Session, events: list[tuple[Any, ...]]) -> int:
    """One executemany of the event rows, values converted as SQLAlchemy would (the same stored
    form): each distinct value of a column that needs converting is converted once. Returns how
    many rows were new (the others were stored by an earlier try of the same flush)."""
    connection = db.connection()
    found = _event_insert(connection.dialect)
    if found is None:
        rows = [dict(zip(EVENT_COLUMNS, event, strict=True)) for event in events]
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        result = db.execute(dialect.insert(BehaviourEvent.__table__)
                            .on_conflict_do_nothing(index_elements=["event_id"]), rows)
        return int(result.rowcount)  # type: ignore[attr-defined]
    sql, processors = found
    columns = list(zip(*events, strict=True))
    for i, process in enumerate(processors):
        if process is not None:
            memo: dict[Any, Any] = {}
            columns[i] = tuple(
                memo[v] if v in memo else memo.setdefault(v, process(v)) for v in columns[i]
            )
    return int(connection.exec_driver_sql(sql, list(zip(*columns, strict=True))).rowcount)


_ROLLUP_FIELDS = tuple(EVENT_COLUMNS.index(name)
                       for name in ("type", "occurred_at", "miniapp_id", "slot_reason"))


def _count_days(db: Session, events: list[tuple[Any, ...]], inserted: int) -> None:
    """Add the flush's events to the daily rollups. If some rows were already stored (a flush
    retried after a commit whose answer was lost) the days they touch are recomputed from the
    events instead, so the rollups never count a row twice."""
    rows = [tuple(event[i] for i in _ROLLUP_FIELDS) for event in events]
    if inserted == len(events):
        rollups.add_rows(db, rows)
        return
    counts = rollups.count(rows)
    for day in sorted({day for _app, day, _reason in counts}):
        rollups.rebuild(db, first=day, last=day,
                        miniapp_ids={app for app, d, _reason in counts if d == day})


def write(db: Session, batch: Batch) -> None:
    """Write a batch in the caller's transaction (the request's, or a flush's own)."""
    if batch.events:
        _count_days(db, batch.events, _insert_events(db, batch.events))
    for stmt, counts in ((_ALLOCATIONS, batch.allocations), (_PROMISES, batch.promises)):
        if counts:
            db.execute(stmt, [{"row_id": k, "delta": n} for k, n in sorted(counts.items())])
    if batch.impressions:
        bids.add_impressions(db, batch.impressions)


_ON_COMMIT = "townsquare.traffic.on_commit"


def on_commit(db: Session, action: Callable[[], None]) -> None:
    """Run `action` once `db`'s transaction commits; forget it if the transaction rolls back
    (a request that fails after serving must record nothing)."""
    db.info.setdefault(_ON_COMMIT, []).append(action)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    for action in session.info.pop(_ON_COMMIT, ()):
        try:
            action()
        except Exception:  # noqa: BLE001 — the commit happened: never turn it into an error
            log.exception("exposure_after_commit_failed")


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous: Any) -> None:
    if previous.parent is None:  # the request's own transaction, not a savepoint
        session.info.pop(_ON_COMMIT, None)


class ExposureWriter:
    """One database's buffer in this process, and the thread that flushes it."""

    def __init__(
        self, engine: Engine, *, interval: float, max_rows: int, flush_rows: int = 0
    ) -> None:
        self.engine = engine
        self.interval = interval
        self.max_rows = max(1, max_rows)
        # a flush starts early when this many event rows wait (0: on the timer only)
        self.flush_rows = max(0, flush_rows)
        self.dropped = 0  # event rows dropped because the buffer was full
        self.generation = 0  # successful flushes so far
        self._pending = Batch()
        self._in_flight: Batch | None = None
        self._lock = threading.Lock()  # guards the buffer (held for microseconds)
        self._flushing = threading.Lock()  # one flush at a time
        self._stop = threading.Event()
        self._wake = threading.Event()  # the size threshold was reached: flush before the timer
        self._thread: threading.Thread | None = None

    def add(self, batch: Batch) -> None:
        """Buffer a response's records; the thread starts with the first one."""
        with self._lock:
            self._pending.merge(batch)
            self._trim()
            if self.flush_rows and len(self._pending.events) >= self.flush_rows:
                self._wake.set()
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="townsquare-exposures")
                self._thread.start()
            closed = self._stop.is_set()
        if closed:  # a request that committed after shutdown began: write it now, not never
            log.warning("exposures_after_close", events=len(batch.events))
            self.flush_now()

    def _trim(self) -> None:
        overflow = len(self._pending.events) - self.max_rows
        if overflow > 0:
            del self._pending.events[:overflow]  # the oldest go first
            self.dropped += overflow
            log.warning("exposure_buffer_full", dropped=overflow, dropped_total=self.dropped)

    def unflushed(self) -> tuple[Counter[int], Counter[int], int]:
        """Delivered deltas not yet committed (allocations, promises) and the flush generation."""
        with self._lock:
            allocations, promises = Counter(self._pending.allocations), Counter(
                self._pending.promises)
            if self._in_flight is not None:
                allocations.update(self._in_flight.allocations)
                promises.update(self._in_flight.promises)
            return allocations, promises, self.generation

    def pending_events(self) -> int:
        """Event rows waiting (buffered or being written)."""
        with self._lock:
            flight = len(self._in_flight.events) if self._in_flight is not None else 0
            return len(self._pending.events) + flight

    def flush_now(self) -> bool:
        """Write what is buffered in one transaction; False (batch kept) if that failed."""
        with self._flushing:
            with self._lock:
                batch, self._pending = self._pending, Batch()
                if not batch:
                    return True
                self._in_flight = batch
            try:
                with Session(self.engine) as db, db.begin():
                    write(db, batch)
            except Exception as exc:  # noqa: BLE001 — any failure: keep the batch, retry later
                with self._lock:
                    batch.merge(self._pending)  # older rows first, then what came meanwhile
                    self._pending, self._in_flight = batch, None
                    self._trim()
                    waiting = len(batch.events)
                log.error("exposure_flush_failed", error=f"{type(exc).__name__}: {exc}"[:300],
                          events_waiting=waiting, dropped_total=self.dropped)
                return False
            with self._lock:
                self._in_flight = None
                self.generation += 1
            return True

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)  # the timer, or the size threshold, whichever first
            self._wake.clear()
            if self._stop.is_set():
                break
            self.flush_now()

    def close(self) -> bool:
        """Stop the thread and write what is left (application shutdown)."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=max(5.0, 5 * self.interval))
        done = self.flush_now()
        if not done:
            log.error("exposures_lost_at_shutdown", events=self.pending_events())
        return done


_writers: weakref.WeakKeyDictionary[Engine, ExposureWriter] = weakref.WeakKeyDictionary()
_registry = threading.Lock()


def writer_for(
    engine: Engine, *, interval_ms: int, max_rows: int, flush_rows: int = 0
) -> ExposureWriter:
    """This process's writer for `engine` (created on first use)."""
    found = _writers.get(engine)
    if found is None or found._stop.is_set():
        with _registry:
            found = _writers.get(engine)
            if found is None or found._stop.is_set():
                found = ExposureWriter(engine, interval=interval_ms / 1000, max_rows=max_rows,
                                       flush_rows=flush_rows)
                _writers[engine] = found
    return found


def current(engine: Engine) -> ExposureWriter | None:
    """The writer of `engine`, if this process has buffered anything for it."""
    return _writers.get(engine)


def flush_now(engine: Engine | None = None) -> bool:
    """Write every buffered batch now (of one database, or all); False if any write failed."""
    with _registry:
        writers = [w for e, w in list(_writers.items()) if engine is None or e is engine]
    return all([w.flush_now() for w in writers])


def close(engine: Engine | None = None) -> bool:
    """Flush and stop the writers (of one database, or all): application shutdown."""
    with _registry:
        writers = [(e, w) for e, w in list(_writers.items()) if engine is None or e is engine]
        for e, _w in writers:
            _writers.pop(e, None)
    return all([w.close() for _e, w in writers])
