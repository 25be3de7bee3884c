"""The ledger's periodic work as the CLI (and cron) runs it: settlement, payouts left waiting,
and the reconciliation whose every result is kept (`payment_reconciliation_runs`) so that the
operator's ledger page shows a difference loudly until a sound run follows it."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.core.clock import clock
from townsquare.core.database import Database
from townsquare.payments.ledger.reconciliation import reconcile
from townsquare.payments.ledger.records import ReconciliationRun


def record_reconciliation(db: Session) -> ReconciliationRun:
    """Reconcile the whole ledger now and keep the result."""
    started = clock.now()
    result = reconcile(db)
    run = ReconciliationRun(
        started_at=started, finished_at=clock.now(), sound=result.sound,
        accounts=result.accounts, entries=result.entries, total_fen=result.total_fen,
        findings={"differences": [asdict(d) for d in result.differences],
                  "unbalanced_entries": list(result.unbalanced_entries),
                  "negative_accounts": list(result.negative_accounts)})
    db.add(run)
    db.flush()
    return run


def run_reconciliation(database: Database) -> ReconciliationRun:
    """The job: one run in its own unit of work, reading the ledger as one snapshot (PostgreSQL's
    repeatable read; a SQLite transaction is one already), so entries posted while it runs
    cannot show as a false difference."""
    with database.unit_of_work() as db:
        if not database.is_sqlite:
            db.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        run = record_reconciliation(db)
        db.expunge(run)
    return run


def recent_runs(db: Session, *, limit: int = 20) -> list[ReconciliationRun]:
    return list(db.scalars(select(ReconciliationRun)
                           .order_by(ReconciliationRun.id.desc()).limit(limit)))
