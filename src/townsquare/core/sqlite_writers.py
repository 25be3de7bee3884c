"""One queue per SQLite file for the writing transactions of this process.

SQLite lets one writer in at a time. A writer that finds the lock taken is put to sleep by
SQLite's busy handler in growing steps (up to 100 ms), so under a few concurrent writers the
lock often sits free while every waiter sleeps: throughput falls and the slowest waits reach a
second. Threads of the same process therefore queue on a Python lock before `BEGIN IMMEDIATE`
and are woken the moment the writer before them commits or rolls back. Other processes on the
same file still meet SQLite's own busy handler, as before.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any

from sqlalchemy import exc as sa_exc

_HELD = "townsquare_sqlite_writer"  # in the connection record's info while it holds the queue
_queues: dict[str, threading.Lock] = {}
_queues_lock = threading.Lock()


def queue_for(path: str) -> threading.Lock | None:
    """The process's writer queue for a database file (None for an in-memory database)."""
    if not path or path == ":memory:" or path.startswith("file::memory:"):
        return None
    with _queues_lock:
        return _queues.setdefault(path, threading.Lock())


def enter(queue: threading.Lock, info: dict[str, Any], timeout_s: float) -> None:
    """Wait for this file's writers before us (raise "database is locked" after `timeout_s`,
    as SQLite would); `info` is the connection record's, released by `leave`."""
    if info.get(_HELD):
        return
    started = time.monotonic()
    if not queue.acquire(timeout=timeout_s):
        waited = time.monotonic() - started
        raise sa_exc.OperationalError(
            "BEGIN IMMEDIATE", None,
            sqlite3.OperationalError(f"database is locked (queued {waited:.1f} s)"),
        )
    info[_HELD] = queue


def leave(info: dict[str, Any]) -> None:
    """Let the next writer of this file in (at commit, rollback or the connection's return)."""
    queue = info.pop(_HELD, None)
    if queue is not None:
        queue.release()
