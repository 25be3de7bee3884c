"""Commission as the ledger recorded it, line by line: every paid trade that owes a community its
commission (an admitted merchant's booking, an outside provider's repair, an admitted shop's
order) with its gross, rate, the commission the community's account earned and gave back, and
what the merchant's account got; for the property (one community, every merchant) and for a
merchant (every community), for a chosen month (the paying time, in the configured zone).

The amounts are read from the ledger entries that refer to each trade, so a statement always
agrees with the ledger; the trade only says which payments to look at."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.community import access
from townsquare.community.models import Community
from townsquare.community.services.models import Booking
from townsquare.core.errors import ValidationFailed
from townsquare.merchants.models import Merchant
from townsquare.payments.ledger import accounts
from townsquare.payments.ledger.models import JournalEntry, LedgerAccount, Posting
from townsquare.payments.trades.models import Trade

MAX_LINES = 1000
KINDS = (("svb_", "booking"), ("rep_", "repair"))  # any other trade is a shop's order


@dataclass(frozen=True)
class CommissionLine:
    kind: str  # booking, repair, order
    reference: str  # the booking's svb_…, the repair's rep_…, the order's number
    trade_no: str
    subject: str
    paid_at: datetime
    community: Community
    merchant: Merchant
    gross_fen: int  # what the resident paid
    refunded_fen: int  # of it given back
    rate_bp: int
    earned_fen: int  # the commission from the payment
    given_back_fen: int  # the commission given back with refunds (≥ 0)
    net_fen: int  # what the merchant's account got (after the platform fee and commission)
    booking: Booking | None = None

    @property
    def commission_fen(self) -> int:
        return self.earned_fen - self.given_back_fen


@dataclass(frozen=True)
class Statement:
    month: str  # YYYY-MM, or "" for every month
    balance_fen: int  # the community's commission account now (the property's statement)
    lines: list[CommissionLine]

    @property
    def earned_fen(self) -> int:
        return sum(x.earned_fen for x in self.lines)

    @property
    def refunded_fen(self) -> int:
        """The commission given back with refunds."""
        return sum(x.given_back_fen for x in self.lines)

    @property
    def commission_fen(self) -> int:
        return self.earned_fen - self.refunded_fen

    @property
    def gross_fen(self) -> int:
        return sum(x.gross_fen for x in self.lines)

    @property
    def net_fen(self) -> int:
        return sum(x.net_fen for x in self.lines)


def month_bounds(month: str, zone: str) -> tuple[datetime, datetime]:
    """The UTC start and end of a month (`YYYY-MM`) in the zone."""
    found = re.fullmatch(r"(\d{4})-(\d{1,2})", (month or "").strip())
    if found is None or not 1 <= int(found[2]) <= 12 or not 2000 <= int(found[1]) <= 2100:
        raise ValidationFailed("Choose a month as YYYY-MM.", field="month")
    year, number = int(found[1]), int(found[2])
    tz = ZoneInfo(zone)
    start = datetime(year, number, 1, tzinfo=tz)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def this_month(now: datetime, zone: str) -> str:
    return now.astimezone(ZoneInfo(zone)).strftime("%Y-%m")


def _kind(out_trade_no: str) -> tuple[str, str]:
    for prefix, kind in KINDS:
        if out_trade_no.startswith(prefix):
            return kind, out_trade_no.split("-")[0]
    return "order", out_trade_no


def _moved(db: Session, trade_nos: list[str], codes: list[str]
           ) -> dict[tuple[str, str], tuple[int, int]]:
    """(trade_no, account code) → (credited, debited) by the entries referring to the trade."""
    if not trade_nos or not codes:
        return {}
    rows = db.execute(
        select(JournalEntry.reference, LedgerAccount.code,
               func.sum(case((Posting.amount_fen > 0, Posting.amount_fen), else_=0)),
               func.sum(case((Posting.amount_fen < 0, -Posting.amount_fen), else_=0)))
        .join(Posting, Posting.entry_id == JournalEntry.id)
        .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .where(LedgerAccount.code.in_(codes), JournalEntry.reference.in_(trade_nos))
        .group_by(JournalEntry.reference, LedgerAccount.code)).all()
    return {(ref, code): (int(plus or 0), int(minus or 0)) for ref, code, plus, minus in rows}


def _lines(db: Session, *, community_id: int | None = None, merchant_id: int | None = None,
           month: str, zone: str) -> list[CommissionLine]:
    stmt = select(Trade).where(Trade.community_id.is_not(None), Trade.community_rate_bp > 0,
                               Trade.paid_at.is_not(None))
    if community_id is not None:
        stmt = stmt.where(Trade.community_id == community_id)
    if merchant_id is not None:
        stmt = stmt.where(Trade.merchant_id == merchant_id)
    if month:
        start, end = month_bounds(month, zone)
        stmt = stmt.where(Trade.paid_at >= start, Trade.paid_at < end)
    paid = list(db.scalars(stmt.order_by(Trade.paid_at.desc(), Trade.id.desc())
                           .limit(MAX_LINES)))
    trade_nos = [t.trade_no for t in paid]
    codes = sorted({accounts.community_commission(t.community_id or 0) for t in paid}
                   | {accounts.merchant_pending(t.merchant_id) for t in paid}
                   | {accounts.merchant_available(t.merchant_id) for t in paid})
    moved = _moved(db, trade_nos, codes)
    communities = {c.id: c for c in db.scalars(select(Community).where(
        Community.id.in_({t.community_id for t in paid})))}
    merchants = {m.id: m for m in db.scalars(select(Merchant).where(
        Merchant.id.in_({t.merchant_id for t in paid})))}
    booked = {b.trade_no: b for b in db.scalars(select(Booking).where(
        Booking.trade_no.in_(trade_nos)))} if trade_nos else {}
    lines = []
    for trade in paid:
        kind, reference = _kind(trade.out_trade_no)
        earned, given_back = moved.get(
            (trade.trade_no, accounts.community_commission(trade.community_id or 0)), (0, 0))
        # a refund after settlement comes out of the merchant's available money instead
        to_merchant = sum(plus - minus for plus, minus in (
            moved.get((trade.trade_no, code(trade.merchant_id)), (0, 0))
            for code in (accounts.merchant_pending, accounts.merchant_available)))
        assert trade.paid_at is not None
        lines.append(CommissionLine(
            kind=kind, reference=reference, trade_no=trade.trade_no, subject=trade.subject,
            paid_at=trade.paid_at, community=communities[trade.community_id or 0],
            merchant=merchants[trade.merchant_id], gross_fen=trade.total_fen,
            refunded_fen=trade.refunded_fen, rate_bp=trade.community_rate_bp,
            earned_fen=earned, given_back_fen=given_back, net_fen=to_merchant,
            booking=booked.get(trade.trade_no)))
    return lines


def for_property(db: Session, *, actor: User | None, community: Community, month: str = "",
                 zone: str = "Asia/Shanghai") -> Statement:
    """The property's statement of commission (its property manager and committee): every
    commission line of the community in the month, and the account's balance now."""
    access.require(db, actor=actor, community=community, roles=[access.PM, access.COMMITTEE])
    code = accounts.community_commission(community.id)
    balance = db.scalar(select(LedgerAccount.balance_fen).where(LedgerAccount.code == code))
    return Statement(month, int(balance or 0),
                     _lines(db, community_id=community.id, month=month, zone=zone))


def for_merchant(db: Session, *, merchant: Merchant, month: str = "",
                 zone: str = "Asia/Shanghai") -> Statement:
    """The commission a merchant's payments paid each community, line by line (the caller
    checked that the actor may act for the merchant)."""
    return Statement(month, 0, _lines(db, merchant_id=merchant.id, month=month, zone=zone))
