"""The proof that the ledger holds together: every entry sums to zero, every account's balance
equals the sum of its postings, no account that may not go negative is below zero, and so the
whole ledger sums to zero."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from townsquare.payments.ledger.models import JournalEntry, LedgerAccount, Posting


@dataclass(frozen=True)
class Difference:
    account: str
    balance_fen: int
    posted_fen: int


@dataclass(frozen=True)
class Reconciliation:
    accounts: int
    entries: int
    total_fen: int  # the sum of every posting: zero in a sound ledger
    differences: list[Difference] = field(default_factory=list)
    unbalanced_entries: list[str] = field(default_factory=list)
    negative_accounts: list[str] = field(default_factory=list)

    @property
    def sound(self) -> bool:
        return not (self.total_fen or self.differences or self.unbalanced_entries
                    or self.negative_accounts)


def reconcile(db: Session) -> Reconciliation:
    posted = {account: int(total) for account, total in db.execute(
        select(Posting.account_id, func.sum(Posting.amount_fen)).group_by(Posting.account_id))}
    differences, negative, count = [], [], 0
    for account in db.scalars(select(LedgerAccount).order_by(LedgerAccount.code)
                              .execution_options(populate_existing=True)):
        count += 1
        total = int(posted.get(account.id, 0))
        if total != account.balance_fen:
            differences.append(Difference(account.code, account.balance_fen, total))
        if not account.may_go_negative and min(total, account.balance_fen) < 0:
            negative.append(account.code)
    unbalanced = list(db.scalars(
        select(JournalEntry.public_id).join(Posting, Posting.entry_id == JournalEntry.id)
        .group_by(JournalEntry.id, JournalEntry.public_id)
        .having(func.sum(Posting.amount_fen) != 0)
    ))
    entries = db.scalar(select(func.count()).select_from(JournalEntry)) or 0
    return Reconciliation(
        accounts=count, entries=entries, total_fen=int(sum(posted.values())),
        differences=differences, unbalanced_entries=unbalanced, negative_accounts=negative,
    )
