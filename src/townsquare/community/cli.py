"""`townsquare community …`: create communities, assign staff, send reminders, purge old
health declarations. Each command is one unit of work."""

from __future__ import annotations

import typer
from rich.console import Console

from townsquare.community.bills import cli as bills_cli
from townsquare.core.database import Database
from townsquare.core.errors import TownsquareError
from townsquare.core.settings import get_settings

app = typer.Typer(help="The community pass: communities, reminders, retention.",
                  no_args_is_help=True)
console = Console()
app.add_typer(bills_cli.app, name="bills")  # issue 18: fee bills


def _database() -> Database:
    return Database(get_settings().effective_database_url)


@app.command()
def create(name: str, city: str) -> None:
    """Create a community and print its id."""
    from townsquare.community import communities

    try:
        with _database().unit_of_work() as db:
            community = communities.create_community(db, actor=None, name=name, city=city)
            console.print(f"[green]Created[/green] {community.public_id} {community.name}")
    except TownsquareError as exc:
        console.print(f"[red]{exc.render()}[/red]")
        raise typer.Exit(1) from exc


@app.command()
def assign(community_id: str, username: str, role: str = "property_manager") -> None:
    """Give a user a role (property_manager, committee, guard) in a community."""
    from townsquare.community import access, communities

    try:
        with _database().unit_of_work() as db:
            community = access.get_community(db, community_id=community_id)
            communities.grant_role(db, actor=None, community=community, username=username,
                                   role=role)
        console.print(f"[green]{username} is now {role} of {community_id}[/green]")
    except TownsquareError as exc:
        console.print(f"[red]{exc.render()}[/red]")
        raise typer.Exit(1) from exc


@app.command()
def remind() -> None:
    """Send today's reminders (declare today, quarantine ends tomorrow, overdue back)."""
    from townsquare.community import jobs

    with console.status("Sending reminders"), _database().unit_of_work() as db:
        counts = jobs.remind(db, settings=get_settings())
    console.print(
        f"declare today: {counts.declare_today}, quarantine ends: {counts.quarantine_ends}, "
        f"overdue back: {counts.overdue_back}, skipped (no consent or limit): {counts.skipped}"
    )


@app.command()
def purge() -> None:
    """Delete health declarations older than the retention period (setting
    TOWNSQUARE_HEALTH_RETENTION_DAYS)."""
    from townsquare.community import jobs

    settings = get_settings()
    with _database().unit_of_work() as db:
        deleted = jobs.purge(db, settings=settings)
    days = settings.health_retention_days
    console.print(f"Deleted {deleted} declarations older than {days} days")


@app.command("repairs-tick")
def repairs_tick() -> None:
    """Repairs: remind the property of tickets past their targets (once each), and confirm
    tickets done longer ago than the community's auto-confirm days."""
    from townsquare.community.repairs import jobs as repair_jobs

    with _database().unit_of_work() as db:
        counts = repair_jobs.tick(db, settings=get_settings())
    console.print(
        f"late response: {counts.late_response}, late completion: {counts.late_completion}, "
        f"confirmed automatically: {counts.auto_confirmed}"
    )
