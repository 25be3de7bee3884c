"""`townsquare gateway …`: make the platform's signing key (also done by `migrate`), and run the
notification outbox outside the web server (for a deployment that sets
`TOWNSQUARE_GATEWAY_NOTIFY_INTERVAL_MS=0`, or a dedicated notifier process)."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import structlog
import typer
from rich.console import Console

from townsquare.core.database import Database
from townsquare.core.settings import Settings, get_settings
from townsquare.gateway import keys, notify

app = typer.Typer(help="The open gateway: platform key, notifications.", no_args_is_help=True)
console = Console()
log = structlog.get_logger(__name__)


def ensure_platform_key(database: Database, settings: Settings) -> str:
    """The platform key's fingerprint, the key made now if there is none (once, whatever the
    number of processes asking at the same time)."""
    with database.unit_of_work() as db:
        return keys.ensure_platform_key(db, secret=settings.effective_secret_key).fingerprint


@app.command("key")
def key() -> None:
    """Make the platform's signing key if there is none; print its fingerprint."""
    settings = get_settings()
    database = Database(settings.effective_database_url)
    try:
        console.print(f"platform key {ensure_platform_key(database, settings)}")
    finally:
        database.dispose()


@app.command("notify")
def notify_command(
    once: Annotated[bool, typer.Option(help="Send what is due now, then stop")] = False,
    interval_ms: Annotated[int, typer.Option(help="Between rounds (0: the setting)")] = 0,
) -> None:
    """Send due notifications every interval until stopped (SIGTERM or Ctrl-C)."""
    settings = get_settings()
    database = Database(settings.effective_database_url)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    interval = (interval_ms or settings.gateway_notify_interval_ms or 2_000) / 1000
    try:
        while True:
            try:
                sent = notify.deliver_due(database, settings)
                if once:
                    console.print(f"tried {sent}")
                    return
            except Exception:  # noqa: BLE001 — a database outage must not end the loop
                if once:
                    raise
                log.warning("gateway.notifier.failed", exc_info=True)
            if stopping.wait(interval):
                return
    finally:
        database.dispose()
