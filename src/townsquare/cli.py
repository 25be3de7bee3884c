"""The `townsquare` command: serve, migrate, demo, user management (more commands join here)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from townsquare.accounts import service as accounts
from townsquare.accounts.models import Role
from townsquare.app import connect_hooks
from townsquare.community.cli import app as community_app
from townsquare.core.database import Database
from townsquare.core.errors import TownsquareError
from townsquare.core.migrate import upgrade
from townsquare.core.settings import get_settings
from townsquare.delivery.cli import app as delivery_app
from townsquare.events import cli as events_cli
from townsquare.gateway import cli as gateway_cli
from townsquare.ordering.cli import app as ordering_app
from townsquare.payments.cli import app as payments_app
from townsquare.payments.trades.cli import app as trades_app
from townsquare.scoring.cli import app as score_app
from townsquare.traffic.cli import app as plan_app


def _roll_up_day(folder: Path) -> None:
    """The scoring's day rollup of an exported day (Ibis is loaded only when a day is written)."""
    from townsquare.scoring.metrics import write_day_activity

    write_day_activity(folder)


connect_hooks()  # the CLI's jobs and the demo notify merchants like the web app does
app = typer.Typer(
    help="Townsquare: a super-app platform for local life services.", no_args_is_help=True
)
user_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(events_cli.events_app(summarise=_roll_up_day), name="events")
app.add_typer(score_app, name="score")
app.add_typer(community_app, name="community")
app.add_typer(plan_app, name="plan")
app.add_typer(ordering_app, name="ordering")
app.add_typer(delivery_app, name="delivery")
app.add_typer(payments_app, name="payments")
app.add_typer(trades_app, name="trades")
app.add_typer(gateway_cli.app, name="gateway")
console = Console()


def _database() -> Database:
    return Database(get_settings().effective_database_url)


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (Alembic) and make what every process needs from
    its first request: the gateway's signing key (no call pays for generating it, and two
    workers starting at once cannot make two)."""
    settings = get_settings()
    url = settings.effective_database_url
    upgrade(url)
    database = Database(url)
    try:
        fingerprint = gateway_cli.ensure_platform_key(database, settings)
    finally:
        database.dispose()
    console.print(f"[green]Database is up to date[/green] ({url.split('@')[-1]}); "
                  f"gateway platform key {fingerprint}")


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (PostgreSQL only)")] = 1,
    reload: bool = False,
    worker_timeout: Annotated[
        int | None,
        typer.Option(
            "--worker-timeout",
            help="Seconds a new worker may take to start before it is restarted "
            "(default: TOWNSQUARE_WORKER_HEALTHCHECK_TIMEOUT_S, 60)",
        ),
    ] = None,
    graceful_timeout: Annotated[
        int, typer.Option(help="Seconds in-flight requests get to finish on SIGTERM")
    ] = 20,
) -> None:
    """Run the web server."""
    import uvicorn

    settings = get_settings()
    timeout = worker_timeout if worker_timeout is not None else (
        settings.worker_healthcheck_timeout_s)
    if timeout < 1:
        console.print("[red]--worker-timeout is at least 1 second[/red]")
        raise typer.Exit(2)
    uvicorn.run(
        "townsquare.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        reload_includes=["*.py", "*.html"] if reload else None,  # templates are read once
        timeout_worker_healthcheck=timeout,
        timeout_graceful_shutdown=graceful_timeout,
        access_log=False,  # our middleware logs one structured line per request
    )


@app.command()
def demo(
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve")] = True,
    seed: int = 20260101,
    port: int = 8000,
) -> None:
    """Migrate, seed the demo city once, print one login per role, then serve."""
    from townsquare.simulation import demo_city

    migrate()
    settings = get_settings()
    if "TOWNSQUARE_BASE_URL" not in os.environ:  # demo links must point at this server
        settings = settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}"})
    with _database().unit_of_work() as db:
        created = demo_city.ensure(db, settings=settings, seed=seed, progress=console)
    console.print(
        "[green]Demo city created[/green]" if created else "[cyan]Demo city already there[/cyan]"
    )
    table = Table(title="Demo logins (password for all: " + demo_city.DEMO_PASSWORD + ")")
    for column in ("role", "username", "start at"):
        table.add_column(column)
    for role, username, path in demo_city.DEMO_LOGINS:
        table.add_row(role, username, f"http://127.0.0.1:{port}{path}")
    console.print(table)
    if serve_after:
        serve(port=port)


@user_app.command("create")
def create_user(
    username: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
    display_name: Annotated[str, typer.Option("--name")] = "",
    role: Annotated[list[Role], typer.Option(help="Repeat for several roles")] = [Role.RESIDENT],  # noqa: B006
) -> None:
    """Create a user with the given roles."""
    try:
        with _database().unit_of_work() as db:
            user = accounts.create_user(
                db,
                actor=None,
                username=username,
                password=password,
                display_name=display_name or username,
                roles=tuple(role),
            )
            public_id = user.public_id
    except TownsquareError as exc:
        console.print(f"[red]{exc.render()}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"[green]Created[/green] {username} ({public_id}) with roles {', '.join(role)}")


if __name__ == "__main__":
    app()
