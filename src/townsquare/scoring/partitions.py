"""The event log's day partitions on disk: which files hold a window's events, what their
Parquet statistics prove about them, and the export's rollup of each day beside them."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq

from townsquare.events import export

# A day partition's rollup (`metrics.day_activity`), written beside its events by the export
# (in a folder that readers of the events skip, as Hive and Spark do names starting with `_`).
ACTIVITY_FILE = "_summaries/activity.parquet"
ROLLUP_COLUMNS = ("miniapp_id", "merchant_id", "category_code", "n", "active")
# Raised whenever what a rollup means changes, so older rollups are no longer used.
ROLLUP_VERSION = "2"  # 2: punctuality records are not activity


def partition_files(parquet_dir: Path, *, as_of: date, window_days: int) -> list[str]:
    """The event files of the window's day partitions (`date=YYYY-MM-DD/*.parquet`)."""
    files: list[str] = []
    for offset in range(window_days):
        files.extend(event_files(day_folder(parquet_dir, as_of - timedelta(days=offset))))
    return sorted(files)


def day_folder(parquet_dir: Path, day: date) -> Path:
    return Path(parquet_dir) / f"date={day.isoformat()}"


def event_files(folder: Path) -> list[str]:
    """A day partition's event files, as paths (`events.export.event_files`)."""
    return [str(path) for path in export.event_files(folder)]


def sources(files: list[str]) -> list[list]:
    """What identifies the files a rollup was made from: name, rows, size and modification
    time (a file rewritten in place has a new time)."""
    listed = []
    for f in files:
        stat = Path(f).stat()
        listed.append([Path(f).name, pq.read_metadata(f).num_rows, stat.st_size,
                       stat.st_mtime_ns])
    return listed


def rollup(folder: Path, files: list[str]) -> str | None:
    """The day's rollup, if there is one of this version made from exactly these files."""
    path = Path(folder) / ACTIVITY_FILE
    if not files or not path.exists():
        return None
    schema = pq.read_schema(path)
    meta = schema.metadata or {}
    made_from = json.loads(meta.get(b"townsquare.sources", b"null"))
    current = (
        meta.get(b"townsquare.rollup_version") == ROLLUP_VERSION.encode()
        and tuple(schema.names) == ROLLUP_COLUMNS and made_from == sources(files)
    )
    return str(path) if current else None


def inside(files: list[str], start: datetime, end: datetime) -> bool:
    """Whether the files' Parquet statistics show every event's time inside [start, end).

    Day partitions are UTC days, so they always do; the footers are read to make sure (a file
    without statistics, or with a time outside or missing, keeps the time filter on)."""
    if not files:
        return False
    for path in files:
        meta = pq.read_metadata(path)
        names = [meta.schema.column(i).name for i in range(meta.num_columns)]
        if "occurred_at" not in names:
            return False
        at = names.index("occurred_at")
        for group in range(meta.num_row_groups):
            stats = meta.row_group(group).column(at).statistics
            if stats is None or not stats.has_min_max or not stats.has_null_count:
                return False
            low, high = stats.min, stats.max
            if stats.null_count or not isinstance(low, datetime) or low.tzinfo is None:
                return False
            if not (start <= low and high < end):
                return False
    return True
