"""Trades: create (idempotent per app and `out_trade_no`), pay (charged at most once), refund
(idempotent per `out_request_no`, never beyond what was paid), close, cancel, and the jobs that
close unpaid trades at their timeout and finish paid ones when the refund period ends.

Every change of money is one ledger entry posted in the same transaction as the trade's new state
and its notification (gateway outbox), so a crash loses all three or none. Concurrent attempts on
one trade serialise on the trade's row: a conditional UPDATE for pay and close, a row lock for
refunds (SQLite serialises writers anyway)."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from townsquare.accounts.models import Identity, Role, User
from townsquare.core import audit
from townsquare.core.clock import clock
from townsquare.core.database import rows_changed
from townsquare.core.errors import PermissionDenied
from townsquare.gateway.models import GatewayApp
from townsquare.miniapps.models import MiniApp
from townsquare.payments import fees, funding, ledger
from townsquare.payments.ledger import accounts
from townsquare.payments.trades import behaviour, notices
from townsquare.payments.trades.errors import (
    BuyerBalanceNotEnough,
    CancelTimeOut,
    ContextInconsistent,
    InvalidParameter,
    RefundBankFailed,
    RefundExceedsPaid,
    RefundFeeError,
    SellerBalanceNotEnough,
    TradeClosed,
    TradeFinished,
    TradeFrozen,
    TradeNotFound,
    TradePaid,
    TradeStatusError,
)
from townsquare.payments.trades.models import Refund, Trade, TradeStatus, TradeView

REFUND_PERIOD = timedelta(days=90)  # after it a paid trade is TRADE_FINISHED (Alipay: 3 months)
CANCEL_WINDOW = timedelta(hours=24)  # alipay.trade.cancel refunds a paid trade only this long
DEFAULT_TIMEOUT_MINUTES = 120
BATCH = 500  # trades a job changes in one unit of work
MAX_TIMEOUT_MINUTES = 15 * 24 * 60
ZONE = ZoneInfo("Asia/Shanghai")  # trade numbers carry the day in Beijing time, as Alipay's


def new_trade_no() -> str:
    """28 digits like Alipay's: the Beijing day, a fixed channel part, 15 random digits."""
    day = clock.now().astimezone(ZONE).strftime("%Y%m%d")
    return day + "22001" + "".join(secrets.choice("0123456789") for _ in range(15))


def digest(*, total_fen: int, subject: str, body: str = "") -> str:
    """What a retried create must repeat exactly to get the same trade back."""
    text = json.dumps([total_fen, subject, body], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _refuse_existing(trade: Trade, content_digest: str) -> Trade:
    if trade.status in (TradeStatus.TRADE_SUCCESS, TradeStatus.TRADE_FINISHED):
        raise TradePaid("The trade has already been paid.", trade_no=trade.trade_no)
    if trade.status == TradeStatus.TRADE_CLOSED or trade.timeout_at <= clock.now():
        raise TradeClosed("The trade has been closed.", trade_no=trade.trade_no)
    if trade.content_digest != content_digest:
        raise ContextInconsistent(
            "A trade with this out_trade_no exists with a different amount or subject."
        )
    return trade


def create(db: Session, *, app: GatewayApp, merchant_id: int, miniapp_id: int,
           out_trade_no: str, total_fen: int, subject: str, body: str = "", product_code: str,
           timeout_minutes: int, notify_url: str, return_url: str,
           buyer_user_id: int | None = None, content_digest: str,
           community_id: int | None = None, community_rate_bp: int = 0) -> Trade:
    """A new trade waiting for payment, or the same one again when the app retries the same
    content under the same `out_trade_no`; different content is refused.

    `community_id` and `community_rate_bp`: the community whose commission the payment owes (an
    outside merchant admitted to serve it), split off by the ledger when the trade is paid."""
    if not 0 < total_fen <= 10_000_000_000 or not 1 <= timeout_minutes <= MAX_TIMEOUT_MINUTES:
        raise InvalidParameter("The amount or the timeout is out of range.")
    if not 0 <= community_rate_bp <= fees.MAX_COMMUNITY_BP or (
            community_rate_bp and community_id is None):
        raise InvalidParameter("The community commission rate is out of range.")
    existing = _by_out_trade_no(db, app, out_trade_no)
    if existing is not None:
        return _refuse_existing(existing, content_digest)
    now = clock.now()
    trade = Trade(
        trade_no=new_trade_no(), app_id=app.id, out_trade_no=out_trade_no,
        merchant_id=merchant_id, miniapp_id=miniapp_id, subject=subject, body=body,
        product_code=product_code, total_fen=total_fen, content_digest=content_digest,
        status=TradeStatus.WAIT_BUYER_PAY, buyer_user_id=buyer_user_id,
        timeout_at=now + timedelta(minutes=timeout_minutes), notify_url=notify_url,
        return_url=return_url, refunded_fen=0, frozen=False, created_at=now,
        community_id=community_id, community_rate_bp=community_rate_bp,
    )
    try:
        with db.begin_nested():
            db.add(trade)
            db.flush()
    except IntegrityError:  # the same out_trade_no, created by a concurrent retry
        again = _by_out_trade_no(db, app, out_trade_no)
        if again is None:
            raise
        return _refuse_existing(again, content_digest)
    return trade


def _by_out_trade_no(db: Session, app: GatewayApp, out_trade_no: str) -> Trade | None:
    return db.scalar(select(Trade).where(Trade.app_id == app.id,
                                         Trade.out_trade_no == out_trade_no))


def get(db: Session, trade_no: str) -> Trade:
    trade = db.scalar(select(Trade).where(Trade.trade_no == trade_no[:32]))
    if trade is None:
        raise TradeNotFound("No such trade.")
    return trade


def find(db: Session, *, app: GatewayApp, trade_no: str = "", out_trade_no: str = "") -> Trade:
    """An app's own trade by either number (`trade_no` wins, as with Alipay)."""
    if not trade_no and not out_trade_no:
        raise InvalidParameter("Give trade_no or out_trade_no.")
    trade = (db.scalar(select(Trade).where(Trade.trade_no == trade_no[:32])) if trade_no
             else _by_out_trade_no(db, app, out_trade_no))
    if trade is None or trade.app_id != app.id:
        raise TradeNotFound("No such trade.")
    return trade


@cache
def _view_statement(by_trade_no: bool) -> Select[*tuple[Any, ...]]:
    """`TradeView`'s columns, in its fields' order: the trade, its mini-app's public id, and
    its buyer (outer joins: a trade waiting for payment has none)."""
    stmt = (
        select(Trade.trade_no, Trade.out_trade_no, Trade.merchant_id, Trade.miniapp_id,
               Trade.status, Trade.total_fen, Trade.subject, Trade.body, Trade.fund_channel,
               Trade.buyer_user_id, Trade.paid_at, MiniApp.public_id.label("miniapp_public_id"),
               User.public_id.label("buyer_public_id"), User.username, Identity.phone)
        .join(MiniApp, MiniApp.id == Trade.miniapp_id)
        .outerjoin(User, User.id == Trade.buyer_user_id)
        .outerjoin(Identity, Identity.user_id == User.id)
        .where(Trade.app_id == bindparam("app_id"))
    )
    if by_trade_no:
        return stmt.where(Trade.trade_no == bindparam("trade_no"))
    return stmt.where(Trade.out_trade_no == bindparam("out_trade_no"))


def find_view(db: Session, *, app_id: int, trade_no: str = "",
              out_trade_no: str = "") -> TradeView:
    """`find` for a read, the app given by its row id: the same trade (or TradeNotFound), with
    its buyer, in one statement on the session's connection and without ORM objects
    (`alipay.trade.query` is the gateway's most frequent call). It reads what is committed or
    flushed: use it before any change in the unit of work."""
    if not trade_no and not out_trade_no:
        raise InvalidParameter("Give trade_no or out_trade_no.")
    params = ({"app_id": app_id, "trade_no": trade_no[:32]} if trade_no
              else {"app_id": app_id, "out_trade_no": out_trade_no})
    row = db.connection().execute(_view_statement(bool(trade_no)), params).one_or_none()
    if row is None:
        raise TradeNotFound("No such trade.")
    return TradeView(*row)


def locked(db: Session, trade: Trade) -> Trade:
    """The trade's row locked until the transaction ends, with its current values."""
    return db.scalars(select(Trade).where(Trade.id == trade.id).with_for_update()
                      .execution_options(populate_existing=True)).one()


def _refuse_state(trade: Trade) -> None:
    if trade.status in (TradeStatus.TRADE_SUCCESS, TradeStatus.TRADE_FINISHED):
        raise TradePaid("The trade has already been paid.", trade_no=trade.trade_no)
    raise TradeClosed("The trade has been closed.", trade_no=trade.trade_no)


def pay(db: Session, *, trade_no: str, payer: User, source: str, fund_channel: str,
        funding_reference: str, idempotency_key: str) -> Trade:
    """Charge the trade once from `source` (a wallet, or BANK_CLEARING after the funding adapter
    charged a card). A repeat with the same idempotency key answers the paid trade again; any
    other second payment is refused, however many arrive at once."""
    trade = get(db, trade_no)
    if trade.pay_key == idempotency_key and trade.paid_at is not None:
        return trade
    if trade.status != TradeStatus.WAIT_BUYER_PAY:
        _refuse_state(trade)
    now = clock.now()
    if trade.timeout_at <= now:
        raise TradeClosed("The trade was not paid in time and is closed.", trade_no=trade_no)
    miniapp = db.get(MiniApp, trade.miniapp_id)
    assert miniapp is not None
    try:
        with db.begin_nested():
            moved = db.execute(
                update(Trade).where(Trade.id == trade.id,
                                    Trade.status == TradeStatus.WAIT_BUYER_PAY)
                .values(status=TradeStatus.TRADE_SUCCESS, paid_at=now, buyer_user_id=payer.id,
                        fund_channel=fund_channel[:32], funding_reference=funding_reference[:64],
                        payment_source=source, pay_key=idempotency_key[:160])
                .execution_options(synchronize_session=False)
            )
            if not rows_changed(moved):  # another session paid or closed it first
                raise _Lost
            split = fees.split_for(db, merchant_id=trade.merchant_id,
                                   category_id=miniapp.category_id, total_fen=trade.total_fen,
                                   community_id=trade.community_id,
                                   community_rate_bp=trade.community_rate_bp)
            ledger.post(db, kind="payment", reference=trade.trade_no,
                        legs=split.legs(source, trade.merchant_id),
                        idempotency_key=f"trade:{trade.trade_no}:pay",
                        memo=trade.subject)
    except _Lost:
        db.refresh(trade)
        if trade.pay_key == idempotency_key and trade.paid_at is not None:
            return trade
        _refuse_state(trade)
    except ledger.InsufficientFunds:
        raise BuyerBalanceNotEnough("Not enough money to pay this trade.") from None
    db.refresh(trade)
    notices.trade_changed(db, trade, event="paid")
    behaviour.paid(db, trade)  # the platform's own record of the order, for scoring
    return trade


class _Lost(Exception):
    """The conditional update found the trade no longer waiting for payment."""


def original_split(db: Session, trade: Trade) -> fees.Split:
    """How the payment was split, read back from its ledger entry (the record of truth)."""
    entry = next(e for e in ledger.entries_for(db, trade.trade_no) if e.kind == "payment")
    merchant = platform = 0
    isv: dict[int, int] = {}
    community: dict[int, int] = {}
    for posting in entry.postings:
        code, amount = posting.account.code, posting.amount_fen
        kind = accounts.kind_of(code)
        owner = code.split(":")[1] if ":" in code else ""
        if code == accounts.merchant_pending(trade.merchant_id):
            merchant += amount
        elif code == accounts.PLATFORM_FEES:
            platform += amount
        elif kind.value == "isv_commission":
            isv[int(owner)] = isv.get(int(owner), 0) + amount
        elif kind.value == "community_commission":
            community[int(owner)] = community.get(int(owner), 0) + amount
    return fees.Split(merchant_fen=merchant, platform_fen=platform, isv=isv, community=community)


def refund(db: Session, *, trade: Trade, refund_fen: int, out_request_no: str,
           reason: str = "", actor: User | None = None) -> tuple[Refund, bool]:
    """Refund part or all of a paid trade to where the money came from. Answers the refund and
    whether money moved now (`fund_change`): a repeated `out_request_no` moves none."""
    if refund_fen <= 0:
        raise RefundFeeError("The refund amount must be more than zero.")
    trade = locked(db, trade)
    done = db.scalar(select(Refund).where(Refund.trade_id == trade.id,
                                          Refund.out_request_no == out_request_no))
    if done is not None:
        if done.amount_fen != refund_fen:
            raise InvalidParameter(
                "This out_request_no was already used for a refund of another amount."
            )
        return done, False
    if trade.frozen:
        raise TradeFrozen("The trade is frozen and cannot be refunded now.")
    if trade.status == TradeStatus.WAIT_BUYER_PAY:
        raise TradeStatusError("The trade has not been paid.")
    if trade.status == TradeStatus.TRADE_FINISHED:
        raise TradeFinished("The refund period of this trade is over.")
    if trade.status == TradeStatus.TRADE_CLOSED:
        raise TradeClosed("The trade has been closed.", trade_no=trade.trade_no)
    if refund_fen > trade.total_fen - trade.refunded_fen:
        raise RefundExceedsPaid("The refund is more than what is left of the payment.")
    # each part of the payment given back in proportion; the merchant's from pending funds
    # while they last, then from settled ones (fees.post_refund keeps the ledger's lock order)
    part = fees.split_refund(original_split(db, trade), refund_fen, trade.refunded_fen)
    try:
        entry = fees.post_refund(db, part, destination=trade.payment_source,
                                 merchant_id=trade.merchant_id, reference=trade.trade_no,
                                 idempotency_key=f"trade:{trade.trade_no}:refund:{out_request_no}",
                                 memo=reason or trade.subject)
    except ledger.InsufficientFunds:
        raise SellerBalanceNotEnough(
            "The merchant's balance is not enough for this refund."
        ) from None
    if trade.payment_source == accounts.BANK_CLEARING:  # a card payment: back to the card
        try:
            funding.refund_to_card(db, trade=trade, amount_fen=refund_fen,
                                   idempotency_key=f"trade:{trade.trade_no}:refund:"
                                                   f"{out_request_no}")
        except funding.FundingError:  # nothing committed; a retry reuses the bank's key
            raise RefundBankFailed("The bank could not take the refund now; try again.") from None
    now = clock.now()
    full = trade.refunded_fen + refund_fen == trade.total_fen
    moved = db.execute(
        update(Trade).where(Trade.id == trade.id,
                            Trade.refunded_fen + refund_fen <= Trade.total_fen)
        .values(refunded_fen=Trade.refunded_fen + refund_fen,
                **({"status": TradeStatus.TRADE_CLOSED, "closed_at": now} if full else {}))
        .execution_options(synchronize_session=False)
    )
    if not rows_changed(moved):  # cannot happen under the row lock; never move money past it
        raise RefundExceedsPaid("The refund is more than what is left of the payment.")
    row = Refund(trade_id=trade.id, out_request_no=out_request_no, amount_fen=refund_fen,
                 reason=reason[:256], refunded_at=now, entry_id=entry.public_id,
                 by_user_id=actor.id if actor else None)
    db.add(row)
    db.flush()
    db.refresh(trade)
    if actor is not None:
        audit.record(db, actor_id=actor.id, action="payments.trade.refund",
                     subject_type="trade", subject_id=trade.trade_no,
                     out_request_no=out_request_no, amount_fen=refund_fen)
    notices.trade_changed(db, trade, event="refunded", refund=row)
    behaviour.refunded(db, trade, row)
    return row, True


def close(db: Session, *, trade: Trade, reason: str = "closed") -> Trade:
    """Close a trade that has not been paid (by the app, or at its timeout)."""
    now = clock.now()
    moved = db.execute(
        update(Trade).where(Trade.id == trade.id, Trade.status == TradeStatus.WAIT_BUYER_PAY)
        .values(status=TradeStatus.TRADE_CLOSED, closed_at=now)
        .execution_options(synchronize_session=False)
    )
    db.refresh(trade)
    if not rows_changed(moved):
        raise TradeStatusError("Only a trade waiting for payment can be closed.")
    notices.trade_changed(db, trade, event=reason)
    return trade


def cancel(db: Session, *, trade: Trade) -> tuple[Trade, str]:
    """Undo a trade whatever became of it: close it if unpaid, refund it whole if paid (within
    a day); repeating a cancel answers the same action. Answers the trade and the action."""
    if trade.frozen:
        raise TradeFrozen("The trade is frozen and cannot be cancelled now.")
    if trade.status == TradeStatus.WAIT_BUYER_PAY:
        return close(db, trade=trade, reason="cancelled"), "close"
    if trade.status == TradeStatus.TRADE_FINISHED:
        raise TradeFinished("The refund period of this trade is over.")
    cancelled = next((r for r in trade.refunds if r.out_request_no == CANCEL_REQUEST), None)
    if trade.status == TradeStatus.TRADE_CLOSED:
        return trade, "refund" if cancelled else "close"
    if trade.refunded_fen:
        raise RefundFeeError("A trade already partly refunded cannot be cancelled.")
    assert trade.paid_at is not None
    if clock.now() - trade.paid_at > CANCEL_WINDOW:
        raise CancelTimeOut("The trade is too old to cancel; refund it instead.")
    refund(db, trade=trade, refund_fen=trade.total_fen, out_request_no=CANCEL_REQUEST,
           reason="cancel")
    db.refresh(trade)
    return trade, "refund"


CANCEL_REQUEST = "cancel"  # the out_request_no of the refund a cancel makes


def freeze(db: Session, *, actor: User, trade: Trade, frozen: bool, note: str = "") -> Trade:
    """An operator holds a trade (refunds and cancels refused) while a dispute is looked at."""
    if not actor.has_role(Role.OPERATOR):
        raise PermissionDenied("Only operators can freeze trades.")
    trade.frozen = frozen
    audit.record(db, actor_id=actor.id, action="payments.trade.freeze" if frozen
                 else "payments.trade.unfreeze", subject_type="trade",
                 subject_id=trade.trade_no, note=note[:200])
    db.flush()
    return trade


def close_expired(db: Session, *, now: datetime | None = None, limit: int = BATCH) -> int:
    """Close unpaid trades past their timeout (each with its TRADE_CLOSED notification)."""
    now = now or clock.now()
    due = list(db.scalars(select(Trade).where(Trade.status == TradeStatus.WAIT_BUYER_PAY,
                                              Trade.timeout_at <= now)
                          .order_by(Trade.timeout_at).limit(limit)))
    closed = 0
    for trade in due:
        try:
            close(db, trade=trade, reason="timed_out")
            closed += 1
        except TradeStatusError:  # paid in the meantime
            continue
    return closed


def finish_due(db: Session, *, now: datetime | None = None, period: timedelta = REFUND_PERIOD,
               limit: int = BATCH) -> int:
    """Paid trades whose refund period has ended become TRADE_FINISHED."""
    now = now or clock.now()
    due = list(db.scalars(select(Trade).where(Trade.status == TradeStatus.TRADE_SUCCESS,
                                              Trade.paid_at <= now - period)
                          .order_by(Trade.paid_at).limit(limit)))
    finished = 0
    for trade in due:
        moved = db.execute(
            update(Trade).where(Trade.id == trade.id, Trade.status == TradeStatus.TRADE_SUCCESS)
            .values(status=TradeStatus.TRADE_FINISHED, finished_at=now)
            .execution_options(synchronize_session=False)
        )
        if rows_changed(moved):
            db.refresh(trade)
            notices.trade_changed(db, trade, event="finished")
            finished += 1
    return finished
