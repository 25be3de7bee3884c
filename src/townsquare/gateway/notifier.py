"""The serving process's notifier thread: every few seconds it sends the outbox's due
notifications (`notify.deliver_due`). Several processes may run one; leases keep them apart."""

from __future__ import annotations

import threading

import structlog
from fastapi import FastAPI

from townsquare.gateway import notify

log = structlog.get_logger(__name__)


class Notifier:
    def __init__(self, app: FastAPI) -> None:
        self.database = app.state.database
        self.settings = app.state.settings
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="gateway-notifier", daemon=True)

    def _run(self) -> None:
        interval = self.settings.gateway_notify_interval_ms / 1000
        while not self.stopping.wait(interval):
            try:
                notify.deliver_due(self.database, self.settings)
            except Exception:  # noqa: BLE001 — a database outage must not end the thread
                log.warning("gateway.notifier.failed", exc_info=True)


def start(app: FastAPI) -> None:
    if app.state.settings.gateway_notify_interval_ms <= 0:
        return
    notifier = app.state.gateway_notifier = Notifier(app)
    notifier.thread.start()


def stop(app: FastAPI) -> None:
    notifier = getattr(app.state, "gateway_notifier", None)
    if notifier is not None:
        notifier.stopping.set()
        notifier.thread.join(timeout=10)
