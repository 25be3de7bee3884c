"""`townsquare plan …`: run the traffic planner now (for cron or by hand) and show the plan."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from townsquare.core.database import Database
from townsquare.core.errors import TownsquareError
from townsquare.core.progress import progress
from townsquare.core.settings import get_settings

app = typer.Typer(help="Traffic allocation plans.", no_args_is_help=True)
console = Console()
KINDS = ("tier_incentive", "points", "campaign", "cold_start")


@app.command("run")
def run(
    method: Annotated[str, typer.Option(help="exact (min-cost flow) or greedy")] = "exact",
) -> None:
    """Forecast supply, sync promises and store a new serving plan."""
    from townsquare.traffic.planning import service as planning

    if method not in planning.METHODS:
        console.print("[red]--method must be exact or greedy[/red]")
        raise typer.Exit(2)
    settings = get_settings()
    database = Database(settings.effective_database_url)
    try:
        with progress(console, "Planning", total=100) as report, database.unit_of_work() as db:

            def step(label: str, done: float) -> None:
                report.update(completed=done * 100, description=f"Planning: {label}")

            plan = planning.run(db, actor=None, method=method, timezone=settings.timezone,
                                progress=step)
            public_id, stats = plan.public_id, dict(plan.stats)
            objective, seconds = plan.objective, plan.solve_seconds
    except TownsquareError as exc:
        console.print(f"[red]{exc.render()}[/red]")
        raise typer.Exit(1) from exc
    table = Table(title=f"Plan {public_id} ({method}): objective {objective:,.1f}, "
                        f"solved in {seconds:.2f} s")
    for column in ("kind", "promises", "to deliver", "planned", "shortfall"):
        table.add_column(column, justify="left" if column == "kind" else "right")
    for kind in KINDS:
        requested = stats.get("requested", {}).get(kind, 0)
        planned = stats.get("planned", {}).get(kind, 0)
        table.add_row(kind, str(stats.get("demands_by_kind", {}).get(kind, 0)),
                      f"{requested:,}", f"{planned:,}", f"{requested - planned:,}")
    console.print(table)
    console.print(f"Supply {stats.get('supply', 0):,} impressions in "
                  f"{stats.get('segments', 0):,} segments; "
                  f"{stats.get('allocations', 0):,} allocations.")


@app.command("refund-clicks")
def refund_clicks() -> None:
    """The later invalid-click check: refund the day's clicks of addresses that clicked far
    more sponsored links than a person does (run hourly from cron)."""
    from townsquare.core.clock import clock
    from townsquare.traffic.market import bids

    settings = get_settings()
    database = Database(settings.effective_database_url)
    with database.unit_of_work() as db:
        refunded = bids.refund_invalid(db, now=clock.now(), timezone=settings.timezone)
    console.print(f"Refunded {refunded} invalid clicks.")
