"""`townsquare payments …`: the ledger's periodic jobs, for cron — `settle` (daily, or more
often: each merchant is settled at most once a day), `payouts` (withdrawals still waiting for
the bank) and `reconcile` (exit code 1 and a loud report when the ledger does not hold
together)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from townsquare.core.database import Database
from townsquare.core.i18n import format_money
from townsquare.core.settings import get_settings

app = typer.Typer(help="Payments: settlement, payouts, reconciliation.", no_args_is_help=True)
console = Console()


def _database() -> Database:
    return Database(get_settings().effective_database_url)


@app.command()
def settle(
    day: Annotated[str, typer.Option("--day", help="YYYY-MM-DD, local (default: today)")] = "",
) -> None:
    """Move merchants' pending money that is due to their available funds (T+N)."""
    from townsquare.payments.ledger import settlement

    try:
        when = date.fromisoformat(day) if day else None
    except ValueError as exc:
        console.print("[red]--day must be YYYY-MM-DD[/red]")
        raise typer.Exit(2) from exc
    settings = get_settings()
    settled = repeated = total = 0
    for done in settlement.run(_database(), settings=settings, day=when):
        if done.repeated:
            repeated += 1
        elif done.amount_fen:
            settled += 1
            total += done.amount_fen
    console.print(f"[green]Settled {settled} merchants, {format_money(total)}[/green]"
                  f" (already settled today: {repeated}; T+{settings.settlement_delay_days})")


@app.command()
def reconcile() -> None:
    """Prove every account's balance equals its postings and the ledger sums to zero; keep the
    result for the operator's ledger page."""
    from townsquare.payments.ledger import jobs

    run = jobs.run_reconciliation(_database())
    summary = (f"{run.public_id}: {run.accounts} accounts, {run.entries} entries, "
               f"sum of all postings {run.total_fen} fen")
    if run.sound:
        console.print(f"[green]The ledger holds together[/green] — {summary}")
        return
    console.print(f"[bold red]THE LEDGER DOES NOT RECONCILE[/bold red] — {summary}")
    table = Table("finding", "account / entry", "balance (fen)", "postings (fen)")
    for found in run.findings.get("differences", []):
        table.add_row("balance ≠ postings", found["account"], str(found["balance_fen"]),
                      str(found["posted_fen"]))
    for entry in run.findings.get("unbalanced_entries", []):
        table.add_row("entry does not sum to zero", entry, "", "")
    for account in run.findings.get("negative_accounts", []):
        table.add_row("negative balance", account, "", "")
    console.print(table)
    raise typer.Exit(1)


@app.command()
def payouts() -> None:
    """Ask the bank again for withdrawals still waiting (a timeout, or a crash between the
    ledger and the bank)."""
    from townsquare.payments.ledger import withdrawals

    done = withdrawals.retry_payouts(_database())
    counts: dict[str, int] = {}
    for withdrawal in done:
        counts[withdrawal.status.value] = counts.get(withdrawal.status.value, 0) + 1
    console.print(f"Withdrawals retried: {len(done)} "
                  + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))


@app.command("orphan-charges")
def orphan_charges() -> None:
    """Refund card charges the platform never used (a crash between the bank's charge and the
    commit), once they are older than the grace period."""
    from townsquare.payments.funding import orphans

    report = orphans.run(_database(), settings=get_settings())
    console.print(f"Charges looked at: {report.looked_at}, accounted for: {report.accounted}, "
                  f"waiting for their trade: {len(report.waiting)}")
    for reference, fen in report.refunded:
        console.print(f"[yellow]Orphan charge {reference} refunded: {format_money(fen)}[/yellow]")
    for reference, code in report.failed:
        console.print(f"[bold red]Orphan charge {reference} NOT refunded ({code}); "
                      "the next run asks the bank again[/bold red]")
    if report.failed:
        raise typer.Exit(1)
