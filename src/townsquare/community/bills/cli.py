"""`townsquare community bills …`: overdue reminders (cron, e.g. daily)."""

from __future__ import annotations

import typer
from rich.console import Console

from townsquare.community.bills import jobs
from townsquare.core.database import Database
from townsquare.core.settings import get_settings

app = typer.Typer(help="Fee bills: overdue reminders.", no_args_is_help=True)
console = Console()


@app.command()
def remind(every_days: int = typer.Option(jobs.REMINDER_INTERVAL_DAYS, min=1, max=90,
                                          help="Remind again after this many days.")) -> None:
    """Send each overdue bill's reminder to its subscribed household members, once per interval."""
    settings = get_settings()
    database = Database(settings.effective_database_url)
    with database.unit_of_work() as db:
        counts = jobs.remind(db, settings=settings, every_days=every_days)
    console.print(f"sent {counts.sent}, skipped {counts.skipped}")
