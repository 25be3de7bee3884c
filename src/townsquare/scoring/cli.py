"""`townsquare score …`: run a scoring cycle (with a progress bar), list cycles, show a tier."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from townsquare.core.clock import clock
from townsquare.core.database import Database
from townsquare.core.errors import TownsquareError
from townsquare.core.progress import progress
from townsquare.core.settings import get_settings

app = typer.Typer(help="Service scoring cycles.", no_args_is_help=True)
console = Console()


def _database() -> Database:
    return Database(get_settings().effective_database_url)


@app.command("run")
def run(
    as_of: Annotated[str, typer.Option("--as-of", help="YYYY-MM-DD (default: today, UTC)")] = "",
    backend: Annotated[str, typer.Option(help="duckdb or pyspark")] = "duckdb",
) -> None:
    """Run (or re-run) the scoring cycle as of a date."""
    try:
        day = date.fromisoformat(as_of) if as_of else clock.now().date()
    except ValueError as exc:
        console.print("[red]--as-of must be YYYY-MM-DD[/red]")
        raise typer.Exit(2) from exc
    from townsquare.core.database import unavailable
    from townsquare.scoring import jobs

    try:
        with progress(console, f"Scoring as of {day}", total=100) as report:

            def step(label: str, done: float) -> None:
                report.update(completed=done * 100, description=f"{day}: {label}")

            public_id, counts = jobs.run_cycle(
                _database(), settings=get_settings(), as_of=day, backend=backend, progress=step
            )
    except TownsquareError as exc:
        console.print(f"[red]{exc.render()}[/red]")
        raise typer.Exit(1) from exc
    except Exception as exc:
        if not unavailable(exc):
            raise
        console.print(f"[red]The database is unavailable or locked (another run?): {exc}[/red]")
        raise typer.Exit(3) from exc
    console.print(
        f"[green]Cycle {public_id} as of {day} done[/green]: {counts.get('scored', 0)} scored, "
        f"{counts.get('insufficient_data', 0)} without enough data, "
        f"{counts.get('excluded_complaints', 0)} dismissed complaints left out, "
        f"{counts.get('seconds', 0)} s"
    )


@app.command("due")
def due() -> None:
    """Run today's cycle if one is due (for cron); otherwise say when the next one is."""
    from townsquare.scoring import cycles

    with _database().unit_of_work() as db:
        cycle = cycles.run_due(db, settings=get_settings())
        ran = (cycle.public_id, cycle.as_of) if cycle else None
        message = f"[green]Ran cycle {ran[0]}[/green]" if ran else (
            f"Next cycle due {cycles.next_due(db)}")
    if ran is not None:  # anti-fraud flags after the cycle, in their own unit of work
        from townsquare.scoring.integrity import jobs as integrity_jobs

        integrity_jobs.detect(_database(), as_of=ran[1])
    console.print(message)


@app.command("interim")
def interim() -> None:
    """Re-score at once the mini-apps whose complaints or refunds spike (for cron, hourly)."""
    from townsquare.scoring import jobs

    ids = jobs.run_interim(_database(), settings=get_settings())
    console.print(f"Re-scored {len(ids)} mini-app(s) with a complaint or refund spike")


@app.command("cycles")
def list_cycles(limit: int = 12) -> None:
    """The newest cycles."""
    from townsquare.scoring import queries

    table = Table(title="Scoring cycles")
    for column in ("as of", "state", "scored", "not enough data", "config", "seconds"):
        table.add_column(column)
    with _database().unit_of_work() as db:
        for c in queries.list_cycles(db, actor=None, limit=limit):
            table.add_row(
                c.as_of.isoformat(),
                c.state.value,
                str(c.counts.get("scored", "")),
                str(c.counts.get("insufficient_data", "")),
                f"v{c.config_version.version}",
                str(c.counts.get("seconds", "")),
            )
    console.print(table)


@app.command("integrity")
def integrity(
    as_of: Annotated[str, typer.Option("--as-of", help="YYYY-MM-DD (default: today, UTC)")] = "",
) -> None:
    """Run the anti-fraud detectors and queue the flagged mini-apps for an operator's review."""
    try:
        day = date.fromisoformat(as_of) if as_of else clock.now().date()
    except ValueError as exc:
        console.print("[red]--as-of must be YYYY-MM-DD[/red]")
        raise typer.Exit(2) from exc
    from townsquare.scoring.integrity import jobs as integrity_jobs

    found = integrity_jobs.detect(_database(), as_of=day)
    signals = ", ".join(f"{code} {n}" for code, n in found.by_signal.items()) or "none"
    console.print(f"Anti-fraud as of {day}: {found.flagged} of {found.miniapps} mini-apps "
                  f"flagged for review ({signals}); /console/operator/integrity")
