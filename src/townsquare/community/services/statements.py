"""Commission as the ledger recorded it: what the community's commission account earned from
each admitted merchant's payments and gave back with their refunds (the property's statement),
and what a merchant's payments gave each community (the merchant's statement)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.community import access
from townsquare.community.models import Community
from townsquare.community.services.models import Booking
from townsquare.merchants.models import Merchant
from townsquare.payments.ledger import accounts
from townsquare.payments.ledger.models import JournalEntry, LedgerAccount, Posting


@dataclass(frozen=True)
class CommissionLine:
    booking: Booking
    earned_fen: int  # from the payment
    refunded_fen: int  # given back with refunds (≥ 0)

    @property
    def net_fen(self) -> int:
        return self.earned_fen - self.refunded_fen


@dataclass(frozen=True)
class Statement:
    balance_fen: int  # the community's commission account (every source)
    earned_fen: int
    refunded_fen: int
    lines: list[CommissionLine]


def _by_trade(db: Session, code: str, trade_nos: list[str]) -> dict[str, tuple[int, int]]:
    """trade_no → (earned, given back) on the account `code`, from the entries referring to it."""
    if not trade_nos:
        return {}
    rows = db.execute(
        select(JournalEntry.reference,
               func.sum(case((Posting.amount_fen > 0, Posting.amount_fen), else_=0)),
               func.sum(case((Posting.amount_fen < 0, -Posting.amount_fen), else_=0)))
        .join(Posting, Posting.entry_id == JournalEntry.id)
        .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .where(LedgerAccount.code == code, JournalEntry.reference.in_(trade_nos))
        .group_by(JournalEntry.reference)).all()
    return {ref: (int(e or 0), int(r or 0)) for ref, e, r in rows}


def for_property(db: Session, *, actor: User | None, community: Community) -> Statement:
    """The property's statement of commission (its property manager and committee)."""
    access.require(db, actor=actor, community=community, roles=[access.PM, access.COMMITTEE])
    code = accounts.community_commission(community.id)
    booked = list(db.scalars(select(Booking).where(Booking.community_id == community.id,
                                                   Booking.commission_bp > 0,
                                                   Booking.paid_at.is_not(None))
                             .order_by(Booking.paid_at.desc())))
    moved = _by_trade(db, code, [b.trade_no for b in booked])
    lines = [CommissionLine(b, *moved.get(b.trade_no, (0, 0))) for b in booked]
    balance = db.scalar(select(LedgerAccount.balance_fen).where(LedgerAccount.code == code))
    return Statement(int(balance or 0), sum(x.earned_fen for x in lines),
                     sum(x.refunded_fen for x in lines), lines)


def for_merchant(db: Session, *, merchant: Merchant) -> list[tuple[Community, CommissionLine]]:
    """The commission a merchant's bookings paid, booking by booking (the caller checked that
    the actor may act for the merchant)."""
    booked = list(db.scalars(select(Booking).where(Booking.merchant_id == merchant.id,
                                                   Booking.commission_bp > 0,
                                                   Booking.paid_at.is_not(None))
                             .order_by(Booking.paid_at.desc()).limit(200)))
    found = []
    for booking in booked:
        code = accounts.community_commission(booking.community_id)
        earned, refunded = _by_trade(db, code, [booking.trade_no]).get(booking.trade_no, (0, 0))
        found.append((db.get_one(Community, booking.community_id),
                      CommissionLine(booking, earned, refunded)))
    return found
