"""`townsquare ordering …`: the periodic work of ordering, for a scheduler or by hand."""

from __future__ import annotations

import typer
from rich.console import Console

from townsquare.core.database import Database
from townsquare.core.settings import get_settings

app = typer.Typer(help="Ordering: stores, catalog, slots and holds.", no_args_is_help=True)
console = Console()


@app.command("expire-holds")
def expire_holds() -> None:
    """Give back the slot places and stock of checkouts whose hold expired unpaid."""
    from townsquare.ordering.slots import jobs

    released = jobs.expire_holds(Database(get_settings().effective_database_url))
    console.print(f"released {released} expired holds")


@app.command("order-jobs")
def order_jobs() -> None:
    """Cancel and refund paid orders not accepted in time; complete orders handed over two
    hours ago."""
    from townsquare.ordering.orders import jobs

    done = jobs.run(Database(get_settings().effective_database_url))
    console.print(f"cancelled {done['cancelled']} orders not accepted in time, "
                  f"completed {done['completed']}")
