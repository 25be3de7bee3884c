"""What an ISV has earned, merchant by merchant, read from the ledger itself: the postings on
the ISV's commission account, each attributed to the merchant whose payment (or refund) the same
entry moved. The account's balance is the sum over merchants."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.merchants.models import Merchant, ServiceProvider
from townsquare.merchants.providers import staffed_provider
from townsquare.payments.ledger import accounts
from townsquare.payments.ledger.models import AccountKind, LedgerAccount, Posting


@dataclass(frozen=True)
class MerchantCommission:
    merchant: Merchant | None  # None: entries naming no merchant (none are written today)
    earned_fen: int  # from payments
    refunded_fen: int  # given back with refunds (≥ 0)
    entries: int

    @property
    def net_fen(self) -> int:
        return self.earned_fen - self.refunded_fen


@dataclass(frozen=True)
class Commission:
    provider: ServiceProvider
    balance_fen: int
    merchants: list[MerchantCommission]


def by_merchant(db: Session, *, actor: User | None, provider_id: str) -> Commission:
    """The provider's commission per merchant (its own staff only)."""
    provider = staffed_provider(db, actor=actor, public_id=provider_id)
    code = accounts.isv_commission(provider.id)
    account = db.execute(select(LedgerAccount.id, LedgerAccount.balance_fen)
                         .where(LedgerAccount.code == code)).first()
    if account is None:
        return Commission(provider, 0, [])
    # the merchant of each entry: its merchant pending/available posting (a refund may have both)
    merchant_of = (
        select(Posting.entry_id, func.min(LedgerAccount.code).label("code"))
        .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .where(LedgerAccount.kind.in_([AccountKind.MERCHANT_PENDING,
                                       AccountKind.MERCHANT_AVAILABLE]))
        .group_by(Posting.entry_id).subquery())
    rows = db.execute(
        select(merchant_of.c.code,
               func.sum(case((Posting.amount_fen > 0, Posting.amount_fen), else_=0)),
               func.sum(case((Posting.amount_fen < 0, -Posting.amount_fen), else_=0)),
               func.count())
        .select_from(Posting)
        .outerjoin(merchant_of, merchant_of.c.entry_id == Posting.entry_id)
        .where(Posting.account_id == account.id)
        .group_by(merchant_of.c.code)).all()
    ids = {row[0]: int(row[0].split(":")[1]) for row in rows if row[0]}
    merchants = {m.id: m for m in db.scalars(select(Merchant).where(
        Merchant.id.in_(list(ids.values()))))}
    found = [MerchantCommission(merchants.get(ids[c]) if c else None, int(earned or 0),
                                int(refunded or 0), int(n))
             for c, earned, refunded, n in rows]
    found.sort(key=lambda m: (-m.net_fen, m.merchant.name if m.merchant else ""))
    return Commission(provider, int(account.balance_fen), found)
