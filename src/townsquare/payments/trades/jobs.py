"""The trades' periodic work: unpaid trades past their timeout close (TRADE_CLOSED, notified),
paid trades whose refund period is over finish (TRADE_FINISHED, notified). Run by the serving
process's scheduler thread and by `townsquare trades due`; each batch is its own unit of work,
and every change is a conditional update, so two runners never change a trade twice."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta

import structlog

from townsquare.core.database import Database
from townsquare.core.settings import Settings
from townsquare.payments.trades import service

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Due:
    closed: int
    finished: int


def run_due(database: Database, settings: Settings) -> Due:
    """Close and finish everything due now, a batch at a time."""
    closed = finished = 0
    while True:
        with database.unit_of_work() as db:
            done = service.close_expired(db)
        closed += done
        if done < service.BATCH:
            break
    period = timedelta(days=settings.trade_refund_days)
    while True:
        with database.unit_of_work() as db:
            done = service.finish_due(db, period=period)
        finished += done
        if done < service.BATCH:
            break
    return Due(closed, finished)


class Scheduler:
    """A daemon thread of the serving process that runs `run_due` every interval."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database, self.settings = database, settings
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="trade-jobs", daemon=True)

    def _run(self) -> None:
        while not self.stopping.wait(self.settings.trade_jobs_interval_ms / 1000):
            try:
                run_due(self.database, self.settings)
            except Exception:  # noqa: BLE001 — a database outage must not end the thread
                log.warning("payments.trade_jobs.failed", exc_info=True)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)


def start(database: Database, settings: Settings) -> Scheduler | None:
    if settings.trade_jobs_interval_ms <= 0:
        return None
    scheduler = Scheduler(database, settings)
    scheduler.thread.start()
    return scheduler
