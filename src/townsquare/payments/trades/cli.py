"""`townsquare trades …`: the trades' periodic jobs for cron (the server also runs them)."""

from __future__ import annotations

import typer
from rich.console import Console

from townsquare.core.database import Database
from townsquare.core.settings import get_settings

app = typer.Typer(help="Trades: close unpaid trades past their timeout, finish old ones.",
                  no_args_is_help=True)
console = Console()


@app.command()
def due() -> None:
    """Close unpaid trades past their timeout and finish paid trades past the refund period."""
    from townsquare.payments.trades import jobs

    settings = get_settings()
    done = jobs.run_due(Database(settings.effective_database_url), settings)
    console.print(f"[green]Closed {done.closed} unpaid trades past their timeout; finished "
                  f"{done.finished} trades past the {settings.trade_refund_days}-day refund "
                  "period[/green]")
