"""What the operator's ledger page shows: money held per kind of account, the newest entries,
the reconciliation runs and the withdrawals still waiting for a bank."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from townsquare.accounts.models import Role, User
from townsquare.accounts.permissions import require_role
from townsquare.payments.ledger.jobs import recent_runs
from townsquare.payments.ledger.models import AccountKind, JournalEntry, LedgerAccount
from townsquare.payments.ledger.records import ReconciliationRun, Withdrawal, WithdrawalStatus


@dataclass(frozen=True)
class KindTotal:
    kind: AccountKind
    accounts: int
    balance_fen: int


@dataclass(frozen=True)
class Overview:
    totals: list[KindTotal]
    sum_fen: int  # of every balance: zero in a sound ledger
    entries: list[JournalEntry]
    runs: list[ReconciliationRun]
    processing_withdrawals: int

    @property
    def alarm(self) -> ReconciliationRun | None:
        """The newest run, when it found the ledger unsound."""
        return self.runs[0] if self.runs and not self.runs[0].sound else None


def overview(db: Session, *, actor: User | None, entries: int = 30) -> Overview:
    require_role(actor, Role.OPERATOR)
    found = {kind: (int(n), int(total or 0)) for kind, n, total in db.execute(
        select(LedgerAccount.kind, func.count(), func.sum(LedgerAccount.balance_fen))
        .group_by(LedgerAccount.kind))}
    totals = [KindTotal(kind, *found.get(kind, (0, 0))) for kind in AccountKind]
    recent = list(db.scalars(select(JournalEntry).order_by(JournalEntry.id.desc())
                             .limit(entries)))
    waiting = db.scalar(select(func.count()).select_from(Withdrawal)
                        .where(Withdrawal.status == WithdrawalStatus.PROCESSING)) or 0
    return Overview(totals=totals, sum_fen=sum(t.balance_fen for t in totals), entries=recent,
                    runs=recent_runs(db), processing_withdrawals=int(waiting))
