"""The gateway's call log, written behind the response: a read method then needs no write at
all (on SQLite, no queue at the write lock), and the log costs one bulk insert per interval.

A daemon thread per serving process inserts what is buffered every `gateway_call_log_flush_ms`.
With 0 (the tests) the caller writes each row in its own transaction. A process killed without
its shutdown hook loses at most one interval of log rows (never a business change: those commit
with the request); while the database is down the buffer keeps the newest MAX_BUFFERED rows.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

import structlog
from sqlalchemy import insert
from sqlalchemy.orm import Session

from townsquare.core.database import Database, table_of
from townsquare.gateway.models import CallRecord

MAX_BUFFERED = 100_000
log = structlog.get_logger(__name__)


class CallLog:
    def __init__(self, database: Database, interval_ms: int) -> None:
        self.database = database
        self.interval = interval_ms / 1000
        self._rows: deque[dict[str, Any]] = deque(maxlen=MAX_BUFFERED)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        if self.interval > 0:
            self._thread = threading.Thread(target=self._run, name="gateway-call-log",
                                            daemon=True)
            self._thread.start()

    @property
    def behind(self) -> bool:
        """True: rows are buffered and written later; False: the caller writes them now."""
        return self._thread is not None

    def record(self, db: Session, row: dict[str, Any]) -> None:
        if self.behind:
            with self._lock:
                self._rows.append(row)
        else:
            db.execute(insert(table_of(CallRecord)), [row])

    def flush(self) -> None:
        with self._lock:
            rows = list(self._rows)
            self._rows.clear()
        if not rows:
            return
        try:
            with self.database.unit_of_work() as db:
                db.execute(insert(table_of(CallRecord)), rows)
        except Exception:  # noqa: BLE001 — keep the rows for the next tick
            log.warning("gateway.call_log.flush_failed", rows=len(rows), exc_info=True)
            with self._lock:
                self._rows.extendleft(reversed(rows))

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            self.flush()

    def close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()
