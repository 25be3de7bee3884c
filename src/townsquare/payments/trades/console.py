"""What the merchant console (and the operator's lookup) reads and does with trades: a
filtered, paged list, one trade with its refunds and notifications, and a refund with the same
rules as `alipay.trade.refund` (the form's one-time key is its out_request_no, so a form sent
twice refunds once)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from townsquare.accounts.models import Role, User
from townsquare.accounts.permissions import require_role
from townsquare.core.errors import NotFound, ValidationFailed
from townsquare.core.money import yuan_to_fen
from townsquare.gateway.models import Notification
from townsquare.merchants import access
from townsquare.merchants.models import Merchant
from townsquare.merchants.service import get_merchant
from townsquare.miniapps.models import MiniApp
from townsquare.payments.trades import service
from townsquare.payments.trades.models import Refund, Trade, TradeStatus

PAGE_SIZE = 50


@dataclass(frozen=True)
class Filters:
    status: str = ""
    q: str = ""  # a trade number, the merchant's order number, or words of the subject
    since: str = ""  # local days, YYYY-MM-DD
    until: str = ""
    miniapp: str = ""  # a mini-app's public id


@dataclass(frozen=True)
class TradePage:
    trades: list[Trade]
    total: int
    page: int
    pages: int
    sums: dict[str, int]  # paid_fen, refunded_fen of everything the filters match
    miniapps: dict[int, MiniApp]


def _day(text: str, zone: ZoneInfo, *, field: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.combine(date.fromisoformat(text), time(), tzinfo=zone)
    except ValueError:
        raise ValidationFailed("Enter a date as YYYY-MM-DD.", field=field) from None


def merchant_trades(db: Session, *, actor: User, merchant: Merchant, filters: Filters,
                    page: int, timezone: str) -> TradePage:
    """The merchant's trades, newest first, as the filters choose them."""
    zone = ZoneInfo(timezone)
    where = [Trade.merchant_id == merchant.id]
    if filters.status in TradeStatus.__members__:
        where.append(Trade.status == TradeStatus(filters.status))
    if filters.q:
        words = filters.q.strip()[:64]
        where.append(or_(Trade.trade_no == words, Trade.out_trade_no == words,
                         Trade.subject.contains(words, autoescape=True)))
    if since := _day(filters.since, zone, field="since"):
        where.append(Trade.created_at >= since)
    if until := _day(filters.until, zone, field="until"):
        where.append(Trade.created_at < until + timedelta(days=1))
    miniapps = {m.id: m for m in db.scalars(select(MiniApp)
                                            .where(MiniApp.merchant_id == merchant.id))}
    if filters.miniapp:
        chosen = [i for i, m in miniapps.items() if m.public_id == filters.miniapp]
        where.append(Trade.miniapp_id.in_(chosen))
    total, paid, refunded = db.execute(
        select(func.count(Trade.id),
               func.coalesce(func.sum(Trade.total_fen).filter(Trade.paid_at.is_not(None)), 0),
               func.coalesce(func.sum(Trade.refunded_fen), 0)).where(*where)).one()
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    trades = list(db.scalars(select(Trade).where(*where)
                             .order_by(Trade.created_at.desc(), Trade.id.desc())
                             .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)))
    return TradePage(trades=trades, total=total, page=page, pages=pages,
                     sums={"paid_fen": int(paid), "refunded_fen": int(refunded)},
                     miniapps=miniapps)


def merchant_of(db: Session, *, actor: User, merchant_public_id: str) -> Merchant:
    """The merchant whose trades the actor may see (staff, an authorized ISV, operators)."""
    return get_merchant(db, actor=actor, public_id=merchant_public_id)


def merchant_trade(db: Session, *, merchant: Merchant, trade_no: str) -> Trade:
    trade = db.scalar(select(Trade).where(Trade.trade_no == trade_no[:32],
                                          Trade.merchant_id == merchant.id))
    if trade is None:
        raise NotFound("No such trade.")
    return trade


def notifications_of(db: Session, trade: Trade) -> list[Notification]:
    """The trade's notifications to the app (newest first)."""
    rows = db.scalars(select(Notification).where(Notification.app_id == trade.app_id)
                      .order_by(Notification.id.desc()).limit(200))
    return [n for n in rows if n.params.get("trade_no") == trade.trade_no]


def refund_from_console(db: Session, *, actor: User, merchant: Merchant, trade_no: str,
                        amount: str, reason: str, request_key: str) -> tuple[Refund, bool]:
    """A refund asked for in the console by someone who may act for the merchant."""
    access.require_act_for(db, actor, merchant)
    trade = merchant_trade(db, merchant=merchant, trade_no=trade_no)
    key = "".join(c for c in request_key if c.isalnum())[:40]
    if len(key) < 8:
        raise ValidationFailed("The form has expired; open the trade again.")
    return service.refund(db, trade=trade, refund_fen=yuan_to_fen(amount, field="amount"),
                          out_request_no=f"console-{key}", reason=reason.strip()[:256],
                          actor=actor)


def lookup(db: Session, *, actor: User, number: str) -> Trade | None:
    """The operator's lookup by trade number or merchant order number (any merchant)."""
    require_role(actor, Role.OPERATOR)
    words = number.strip()[:64]
    if not words:
        return None
    return db.scalar(select(Trade).where(or_(Trade.trade_no == words,
                                             Trade.out_trade_no == words))
                     .order_by(Trade.id.desc()).limit(1))
