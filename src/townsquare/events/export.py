"""Export behaviour events to Parquet, one directory per UTC day (`<out>/date=YYYY-MM-DD/`).

One stable, typed schema (SCHEMA) shared with the market simulator's generator, so scoring reads
exports and synthetic benchmark data alike. A day is always rewritten whole: its files are written
to a temporary directory and swapped in with renames, so a reader never sees half a day and a
re-run replaces the day rather than adding to it. Rows are streamed in chunks, never all loaded.

Incremental runs (no dates given) re-export exactly the days that received events since the last
run, including late events for old days; the watermark lives in `<out>/_export_state.json`.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from townsquare.core.clock import clock
from townsquare.events.models import BehaviourEvent

STRING, INT, TS = pa.string(), pa.int64(), pa.timestamp("us", tz="UTC")
SCHEMA = pa.schema([
    ("event_id", STRING),
    ("type", STRING),
    ("occurred_at", TS),
    ("miniapp_id", INT),
    ("merchant_id", INT),
    ("category_code", STRING),
    ("user_sub", STRING),
    ("city", STRING),
    ("community", STRING),
    ("surface", STRING),
    ("slot_reason", STRING),
    ("order_id", STRING),
    ("amount_fen", INT),
    ("duration_seconds", INT),
    ("cancelled_by", STRING),
    ("complaint_category", STRING),
    ("resolution", STRING),
    ("rating", INT),
    ("response_seconds", INT),
])
COLUMNS = tuple(SCHEMA.names)
STATE_FILE = "_export_state.json"
LOCK_FILE = "_export.lock"  # held while an export writes; whoever holds it owns the leftovers
CHUNK_ROWS = 50_000
ROWS_PER_FILE = 2_000_000
# Transactions stamp received_at before they commit: look back a little past the watermark.
COMMIT_MARGIN = timedelta(minutes=10)

Progress = Callable[[date, int, int], None]  # (day, rows in it, days left) after each day
# Called with a day's finished folder before it is swapped in, to write summaries beside the
# events (the scoring's activity rollup); names starting with `_` are not read as events.
Summarise = Callable[[Path], None]


@dataclass
class ExportResult:
    days: list[date] = field(default_factory=list)
    rows: int = 0


def day_dir(out_dir: Path, day: date) -> Path:
    return Path(out_dir) / f"date={day.isoformat()}"


def event_files(folder: Path) -> list[Path]:
    """A day partition's event files: what a reader takes for events (names starting with `_`
    or `.` are not events, as in Hive and Spark), whoever wrote them."""
    return sorted(p for p in Path(folder).glob("*.parquet") if not p.name.startswith(("_", ".")))


class DayWriter:
    """Writes one day's batches to a temporary directory, then swaps it in (`commit`)."""

    def __init__(self, out_dir: Path, day: date, summarise: Summarise | None = None) -> None:
        self.final = day_dir(out_dir, day)
        self.summarise = summarise
        self.tmp = Path(out_dir) / f".tmp-{day.isoformat()}-{uuid.uuid4().hex[:8]}"
        self.tmp.mkdir(parents=True)
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._file_rows = 0
        self._files = 0

    def write(self, batch: pa.RecordBatch | pa.Table) -> None:
        if batch.num_rows == 0:
            return
        if self._writer is None or self._file_rows >= ROWS_PER_FILE:
            self._close_file()
            path = self.tmp / f"part-{self._files:05d}.parquet"
            self._writer = pq.ParquetWriter(path, SCHEMA, compression="zstd")
            self._files += 1
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        self._writer.write_table(table)
        self._file_rows += batch.num_rows
        self.rows += batch.num_rows

    def _close_file(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            self._file_rows = 0

    def commit(self) -> None:
        """Replace the day's directory with what was written (an empty day is removed)."""
        self._close_file()
        if self.rows and self.summarise:
            self.summarise(self.tmp)
        old = self.final.with_name(f".old-{self.final.name}-{uuid.uuid4().hex[:8]}")
        if self.final.exists():
            self.final.rename(old)
        if self.rows:
            self.tmp.rename(self.final)
        else:
            shutil.rmtree(self.tmp)
        shutil.rmtree(old, ignore_errors=True)

    def abort(self) -> None:
        self._close_file()
        shutil.rmtree(self.tmp, ignore_errors=True)


def rows_to_batch(rows: Iterable[dict[str, Any]] | Iterable[tuple[Any, ...]]) -> pa.RecordBatch:
    """A RecordBatch in SCHEMA from row dicts or tuples in COLUMNS order."""
    items: list[dict[str, Any] | tuple[Any, ...]] = list(rows)
    if items and not isinstance(items[0], dict):
        items = [dict(zip(COLUMNS, row, strict=True)) for row in items]
    return pa.RecordBatch.from_pylist(items, schema=SCHEMA)


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), tzinfo=UTC)
    return start, start + timedelta(days=1)


def _stream_day(db: Session, day: date) -> Iterator[pa.RecordBatch]:
    start, end = _day_bounds(day)
    columns = [getattr(BehaviourEvent, name) for name in COLUMNS]
    stmt = (
        select(*columns)
        .where(BehaviourEvent.occurred_at >= start, BehaviourEvent.occurred_at < end)
        .order_by(BehaviourEvent.occurred_at, BehaviourEvent.id)
        .execution_options(yield_per=CHUNK_ROWS)
    )
    for chunk in db.execute(stmt).partitions():
        yield rows_to_batch(
            [(row[0], str(row[1]), *row[2:]) for row in chunk]  # type: the enum's value
        )


def _days_with_new_events(db: Session, watermark: datetime | None) -> list[date]:
    """The days that hold events received since `watermark` (every day with events without
    one): the span of their times, then each day of it asked whether it has any (a late event
    a month old does not re-export the month in between)."""
    new = BehaviourEvent.received_at >= watermark - COMMIT_MARGIN if watermark else None
    span = select(func.min(BehaviourEvent.occurred_at), func.max(BehaviourEvent.occurred_at))
    earliest, latest = db.execute(span.where(new) if new is not None else span).one()
    if earliest is None:
        return []
    first, last = (_aware(earliest).date(), _aware(latest).date())
    days = []
    for n in range((last - first).days + 1):
        start, end = _day_bounds(first + timedelta(days=n))
        has = select(BehaviourEvent.id).where(
            BehaviourEvent.occurred_at >= start, BehaviourEvent.occurred_at < end).limit(1)
        if db.scalar(has.where(new) if new is not None else has) is not None:
            days.append(start.date())
    return days


def _days_out_of_step(db: Session, out_dir: Path, first: date, last: date) -> list[date]:
    """The days in [first, last] whose partition's event files do not hold as many rows as the
    database has for the day (a stray or foreign file counts too)."""
    stale = []
    for n in range((last - first).days + 1):
        day = first + timedelta(days=n)
        start, end = _day_bounds(day)
        stored = db.scalar(select(func.count()).select_from(BehaviourEvent).where(
            BehaviourEvent.occurred_at >= start, BehaviourEvent.occurred_at < end))
        files = event_files(day_dir(out_dir, day))
        if stored != sum(pq.read_metadata(path).num_rows for path in files):
            stale.append(day)
    return stale


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@contextmanager
def _exclusive(out_dir: Path) -> Iterator[None]:
    """One export of a folder at a time (across processes); the lock dies with its process."""
    with open(Path(out_dir) / LOCK_FILE, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def sweep_leftovers(out_dir: Path) -> list[str]:
    """Remove what a killed export left behind (`.tmp-*` days never swapped in, `.old-*` days
    swapped out but not yet removed). Call only while holding the export lock: then no other
    export is writing them. Returns the names removed."""
    removed = []
    for leftover in sorted(Path(out_dir).glob(".tmp-*")) + sorted(Path(out_dir).glob(".old-*")):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
            removed.append(leftover.name)
    return removed


def _read_state(out_dir: Path) -> datetime | None:
    path = Path(out_dir) / STATE_FILE
    if not path.exists():
        return None
    return datetime.fromisoformat(json.loads(path.read_text())["received_before"])


def _write_state(out_dir: Path, started: datetime) -> None:
    path = Path(out_dir) / STATE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"received_before": started.isoformat()}))
    tmp.replace(path)


def export_events(
    db: Session,
    *,
    out_dir: Path,
    since: date | None = None,
    until: date | None = None,
    progress: Progress | None = None,
    summarise: Summarise | None = None,
    check: tuple[date, date] | None = None,
) -> ExportResult:
    """Export events to Parquet by day and return the days written.

    With `since`/`until` (inclusive) those days are re-exported; with neither, the days that got
    new events since the previous incremental run are (all days on the first run), and with
    `check` (first, last day) also the days in it whose partition does not hold as many events
    as the database has (an event log left from another database, events inserted with an old
    receipt time). `summarise` writes each day's summaries beside its events.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive(out_dir):
        sweep_leftovers(out_dir)
        return _export(db, out_dir=out_dir, since=since, until=until, progress=progress,
                       summarise=summarise, check=check)


def _export(
    db: Session,
    *,
    out_dir: Path,
    since: date | None,
    until: date | None,
    progress: Progress | None,
    summarise: Summarise | None,
    check: tuple[date, date] | None,
) -> ExportResult:
    started = clock.now()
    incremental = since is None and until is None
    if incremental:
        days = _days_with_new_events(db, _read_state(out_dir))
        if check:
            days = sorted(set(days) | set(_days_out_of_step(db, out_dir, *check)))
    else:
        known = _days_with_new_events(db, None)
        since = since or (known[0] if known else started.date())
        until = until or started.date()
        days = [since + timedelta(days=n) for n in range((until - since).days + 1)]
    result = ExportResult()
    for index, day in enumerate(days):
        writer = DayWriter(out_dir, day, summarise)
        try:
            for batch in _stream_day(db, day):
                writer.write(batch)
            writer.commit()
        except BaseException:
            writer.abort()
            raise
        if writer.rows:
            result.days.append(day)
            result.rows += writer.rows
        if progress:
            progress(day, writer.rows, len(days) - index - 1)
    if incremental:
        _write_state(out_dir, started)
    return result

