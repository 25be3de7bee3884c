"""`townsquare events …`: export behaviour events to Parquet (with a progress bar)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

from townsquare.core.database import Database
from townsquare.core.progress import progress
from townsquare.core.settings import get_settings
from townsquare.events import rollups
from townsquare.events.export import Summarise, export_events

console = Console()


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


def events_app(*, summarise: Summarise | None = None) -> typer.Typer:
    """The `events` commands; `summarise` rolls each exported day up (the top-level CLI passes
    the scoring's day rollups, so events need not know who reads them)."""
    app = typer.Typer(help="Behaviour events: export to Parquet.", no_args_is_help=True)

    @app.command("export")
    def export_command(
        since: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"],
                                                       help="First day (UTC), inclusive")] = None,
        until: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"],
                                                       help="Last day (UTC), inclusive")] = None,
        out: Annotated[Path | None, typer.Option(help="Default: <data dir>/events")] = None,
    ) -> None:
        """Export events to <out>/date=YYYY-MM-DD/; without dates, only days with new events."""
        settings = get_settings()
        out_dir = out or settings.data_dir / "events"
        database = Database(settings.effective_database_url)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn())
        with progress(console, "Exporting events", columns=columns) as report, \
                database.unit_of_work() as db:

            def advance(day: date, rows: int, left: int) -> None:
                done = report.completed + 1
                report.update(total=done + left, completed=done,
                              description=f"Exported {day.isoformat()} ({rows:,} events)")

            result = export_events(db, out_dir=out_dir, since=_day(since), until=_day(until),
                                   progress=advance, summarise=summarise)
        database.dispose()
        console.print(f"[green]Exported[/green] {result.rows:,} events in {len(result.days)} "
                      f"days to {out_dir}")

    @app.command("rollup")
    def rollup_command(
        since: Annotated[datetime | None, typer.Option(
            formats=["%Y-%m-%d"], help="First local day; without dates, every day")] = None,
        until: Annotated[datetime | None, typer.Option(
            formats=["%Y-%m-%d"], help="Last local day, inclusive")] = None,
    ) -> None:
        """Recompute the daily exposure and click rollups from the events (after a change of
        TOWNSQUARE_TIMEZONE, or events written around the platform's code)."""
        settings = get_settings()
        database = Database(settings.effective_database_url)
        with database.unit_of_work() as db:
            if since is None and until is None:
                rows = rollups.rebuild_all(db)
            else:
                first = _day(since) or _day(until)
                last = _day(until) or _day(since)
                assert first is not None and last is not None
                if first > last:
                    raise typer.BadParameter("--since is after --until")
                rows = rollups.rebuild(db, first=first, last=last)
        database.dispose()
        console.print(f"[green]Rolled up[/green] {rows:,} day rows ({settings.timezone} days)")

    return app
