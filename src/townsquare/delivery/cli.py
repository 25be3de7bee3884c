"""`townsquare delivery …`: book deliveries that wait for a provider and ask providers about
quiet ones (a missed webhook), for a scheduler or by hand; and one delivery's log."""

from __future__ import annotations

import typer
from rich.console import Console

from townsquare.core.database import Database
from townsquare.core.settings import get_settings

app = typer.Typer(help="Delivery: booking, failover, polling.", no_args_is_help=True)
console = Console()


@app.command("poll")
def poll() -> None:
    """Book what waits for a provider, then poll providers about quiet open deliveries."""
    from townsquare.delivery import jobs

    settings = get_settings()
    found = jobs.poll(Database(settings.effective_database_url), settings=settings)
    console.print(f"booked {found.booked}, asked {found.asked}, changed {found.changed}, "
                  f"failed {found.failed}")


@app.command("log")
def log(delivery_id: str) -> None:
    """Every decision and status change of one delivery."""
    from townsquare.delivery import labels, service

    database = Database(get_settings().effective_database_url)
    with database.unit_of_work(read_only=True) as db:
        delivery = service.by_public_id(db, delivery_id)
        console.print(f"{delivery.public_id} {delivery.status.value} "
                      f"{delivery.provider or '-'} {delivery.fee_fen}")
        for event in service.timeline(db, delivery):
            console.print(f"{event.at:%Y-%m-%d %H:%M:%S} {event.kind:12} "
                          f"{labels.event_text(event)}")
