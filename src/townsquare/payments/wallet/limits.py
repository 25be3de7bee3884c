"""Limits on what a resident pays: per payment and per local day (settings), counted over every
payment the resident made from the wallet or a card (`Spend` rows).

`record` takes a per-resident lock (PostgreSQL: an advisory lock; SQLite: the writing unit of
work already holds the database's write lock) before it sums the day, so two payments at once
cannot both squeeze under the limit."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.core.database import advisory_lock
from townsquare.core.errors import Conflict
from townsquare.core.i18n import format_money
from townsquare.core.settings import Settings
from townsquare.payments.wallet.models import Spend


class LimitExceeded(Conflict):
    code = "payment_limit_exceeded"


class AlreadyPaid(Conflict):
    code = "trade_paid"


def today(settings: Settings) -> date:
    return clock.now().astimezone(ZoneInfo(settings.timezone)).date()


def lock(db: Session, *, user: User) -> None:
    """Serialise this resident's payments until the transaction ends."""
    advisory_lock(db, f"wallet-spend:{user.id}")


def spent_today(db: Session, *, settings: Settings, user: User) -> int:
    return int(db.scalar(select(func.coalesce(func.sum(Spend.amount_fen), 0))
                         .where(Spend.user_id == user.id, Spend.local_day == today(settings)))
               or 0)


def check(db: Session, *, settings: Settings, user: User, amount_fen: int) -> None:
    """Refuse clearly a payment over either limit (call under `lock`)."""
    if amount_fen > settings.payment_limit_per_payment_fen:
        raise LimitExceeded("This payment is over your limit of {limit} per payment.",
                            limit=format_money(settings.payment_limit_per_payment_fen),
                            per="payment")
    spent = spent_today(db, settings=settings, user=user)
    if spent + amount_fen > settings.payment_limit_per_day_fen:
        raise LimitExceeded(
            "This payment would take today's payments over your daily limit of {limit} "
            "(left today: {left}).",
            limit=format_money(settings.payment_limit_per_day_fen),
            left=format_money(max(0, settings.payment_limit_per_day_fen - spent)), per="day")


def record(db: Session, *, settings: Settings, user: User, trade_no: str, amount_fen: int,
           fund_channel: str, card_id: int | None = None, funding_reference: str = "") -> Spend:
    """Check the limits and count the payment (one per trade), under the resident's lock."""
    lock(db, user=user)
    if db.scalar(select(Spend.id).where(Spend.trade_no == trade_no)) is not None:
        raise AlreadyPaid("This trade has already been paid.")
    check(db, settings=settings, user=user, amount_fen=amount_fen)
    row = Spend(user_id=user.id, trade_no=trade_no, amount_fen=amount_fen,
                fund_channel=fund_channel, card_id=card_id, funding_reference=funding_reference,
                local_day=today(settings))
    try:
        with db.begin_nested():
            db.add(row)
            db.flush()
    except IntegrityError:
        raise AlreadyPaid("This trade has already been paid.") from None
    return row
