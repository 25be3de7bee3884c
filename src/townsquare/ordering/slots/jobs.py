"""Periodic work of slots: give back the places and stock of holds that expired unpaid, each in
its own unit of work (one hold per transaction keeps the lock order that rules out deadlocks
with live checkouts and payments), and the serving process's thread that does it every few
seconds (several processes may run one: every release is conditional, so none is done twice)."""

from __future__ import annotations

import threading

import structlog
from fastapi import FastAPI

from townsquare.core.database import Database
from townsquare.ordering.slots.holds import due, expire

log = structlog.get_logger(__name__)
BATCH = 200


def expire_holds(database: Database, *, batch: int = BATCH) -> int:
    """Release every hold due now, one transaction each; how many this call released."""
    total = 0
    while True:
        with database.unit_of_work(read_only=True) as db:
            found = due(db, limit=batch)
        for hold_id in found:
            with database.unit_of_work() as db:
                total += expire(db, hold_id)
        if len(found) < batch:
            return total


class Expirer:
    def __init__(self, app: FastAPI) -> None:
        self.database: Database = app.state.database
        self.interval = app.state.settings.ordering_hold_expiry_interval_ms / 1000
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="ordering-hold-expiry",
                                       daemon=True)

    def _run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                expire_holds(self.database)
            except Exception:  # noqa: BLE001 — a database outage must not end the thread
                log.warning("ordering.hold_expiry.failed", exc_info=True)


def start(app: FastAPI) -> None:
    if app.state.settings.ordering_hold_expiry_interval_ms <= 0:
        return
    expirer = app.state.ordering_expirer = Expirer(app)
    expirer.thread.start()


def stop(app: FastAPI) -> None:
    expirer = getattr(app.state, "ordering_expirer", None)
    if expirer is not None:
        expirer.stopping.set()
        expirer.thread.join(timeout=10)
