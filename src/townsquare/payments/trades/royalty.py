"""Royalties (分账): a merchant binds receivers (`alipay.trade.royalty.relation.bind`), and sends
part of a paid trade's money to them (`alipay.trade.order.settle`).

A receiver is an account in the ledger that is not the merchant's: an ISV's commission account
(an ISV the merchant authorizes, named by its public id `isv_…`) or a community's commission
account (`com_…`). A settle is one balanced ledger entry (`kind="royalty"`, reference the trade
number): the merchant's part leaves its pending funds while the trade's money is still pending
there, its available funds after settlement, and lands in the receivers' accounts.

The rules, each enforced under the trade's row lock (which refunds take too):
- idempotent per trade and `out_request_no`: a repeat with the same parts answers the first
  settle and moves nothing; other parts under the same number are refused;
- never more than what is left of the merchant's part of the trade: its part of the payment,
  less its part of the refunds so far, less every settle before;
- only a paid trade (TRADE_SUCCESS or TRADE_FINISHED), not a frozen one, only to receivers
  bound now.

A refund after a settle takes the merchant's part from the merchant's funds, as a refund does
(Alipay's refund without `refund_royalty_parameters`): the receivers keep their royalty."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import column, func, select, table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from townsquare.core.clock import clock
from townsquare.merchants.models import Authorization, Merchant, ServiceProvider
from townsquare.payments import fees, ledger
from townsquare.payments.ledger import accounts
from townsquare.payments.ledger.models import LedgerAccount
from townsquare.payments.trades import service
from townsquare.payments.trades.errors import (
    InvalidParameter,
    ReceiverNotBound,
    ReceiverNotExist,
    SellerBalanceNotEnough,
    SettleAmountExceeded,
    TradeClosed,
    TradeFrozen,
    TradeStatusError,
)
from townsquare.payments.trades.models import (
    RoyaltyReceiver,
    RoyaltyRequest,
    Trade,
    TradeSettle,
    TradeStatus,
)

KIND = "royalty"  # the ledger entry of a settle
MAX_RECEIVERS = 20  # receivers in one bind or unbind call; parts in one settle (Alipay's)
# Communities are a floor above payments: their table is read by name, not imported.
_COMMUNITIES = table("communities", column("id"), column("public_id"), column("name"))


@dataclass(frozen=True)
class Receiver:
    """A receiver as a bind names it."""

    account: str  # public id: isv_… or com_…
    name: str = ""
    memo: str = ""


@dataclass(frozen=True)
class Part:
    """One part of a settle: `amount_fen` to the bound receiver `account`."""

    account: str
    amount_fen: int
    desc: str = ""


def _digest(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _resolve(db: Session, merchant: Merchant, account: str) -> tuple[str, int, str]:
    """(kind, owner id, name) of a receiver the merchant may bind, or ReceiverNotExist."""
    if account.startswith("isv_"):
        found = db.execute(
            select(ServiceProvider.id, ServiceProvider.name)
            .join(Authorization, Authorization.provider_id == ServiceProvider.id)
            .where(ServiceProvider.public_id == account,
                   Authorization.merchant_id == merchant.id,
                   Authorization.revoked_at.is_(None)).limit(1)).first()
        if found is not None:
            return "isv", found.id, found.name
    elif account.startswith("com_"):
        row = db.execute(select(_COMMUNITIES.c.id, _COMMUNITIES.c.name)
                         .where(_COMMUNITIES.c.public_id == account)).first()
        if row is not None:
            return "community", int(row.id), str(row.name)
    raise ReceiverNotExist("The receiver {account} is neither a service provider this merchant "
                           "authorizes nor a community.", account=account[:32])


def ledger_account(kind: str, owner_id: int) -> str:
    return (accounts.isv_commission(owner_id) if kind == "isv"
            else accounts.community_commission(owner_id))


def _claim(db: Session, merchant: Merchant, out_request_no: str, action: str,
           receivers: list[Receiver]) -> bool:
    """Record the request; False when it is a repeat (same content) of one made before."""
    digest = _digest([action, [[r.account, r.name, r.memo] for r in receivers]])
    done = db.scalar(select(RoyaltyRequest).where(RoyaltyRequest.merchant_id == merchant.id,
                                                  RoyaltyRequest.out_request_no == out_request_no))
    if done is None:
        try:
            with db.begin_nested():
                db.add(RoyaltyRequest(merchant_id=merchant.id, out_request_no=out_request_no,
                                      action=action, content_digest=digest,
                                      created_at=clock.now()))
                db.flush()
            return True
        except IntegrityError:  # a concurrent twin claimed it first
            done = db.scalar(select(RoyaltyRequest).where(
                RoyaltyRequest.merchant_id == merchant.id,
                RoyaltyRequest.out_request_no == out_request_no))
            assert done is not None
    if done.content_digest != digest:
        raise InvalidParameter("This out_request_no was already used for other receivers.")
    return False


def _check_list(receivers: list[Receiver]) -> None:
    if not 1 <= len(receivers) <= MAX_RECEIVERS:
        raise InvalidParameter("Name from 1 to {most} receivers.", most=MAX_RECEIVERS)
    if len({r.account for r in receivers}) != len(receivers):
        raise InvalidParameter("A receiver is named twice.")


def bind(db: Session, *, merchant: Merchant, out_request_no: str,
         receivers: list[Receiver]) -> None:
    """Bind every receiver to the merchant (all or none; binding a bound one changes nothing)."""
    _check_list(receivers)
    resolved = [(r, *_resolve(db, merchant, r.account)) for r in receivers]
    if not _claim(db, merchant, out_request_no, "bind", receivers):
        return
    now = clock.now()
    for receiver, kind, owner_id, name in resolved:
        row = db.scalar(select(RoyaltyReceiver).where(
            RoyaltyReceiver.merchant_id == merchant.id,
            RoyaltyReceiver.account == receiver.account))
        if row is None:
            row = RoyaltyReceiver(merchant_id=merchant.id, account=receiver.account, kind=kind,
                                  owner_id=owner_id, bound_at=now)
            try:
                with db.begin_nested():
                    db.add(row)
                    db.flush()
            except IntegrityError:  # bound at the same moment by another request
                continue
        elif row.unbound_at is not None:
            row.unbound_at, row.bound_at = None, now
        row.name = (receiver.name or name)[:64]
        row.memo = receiver.memo[:128]
    db.flush()


def unbind(db: Session, *, merchant: Merchant, out_request_no: str,
           receivers: list[Receiver]) -> None:
    """Unbind the receivers (one not bound is refused, as Alipay refuses it)."""
    _check_list(receivers)
    rows = []
    for receiver in receivers:
        row = db.scalar(select(RoyaltyReceiver).where(
            RoyaltyReceiver.merchant_id == merchant.id,
            RoyaltyReceiver.account == receiver.account))
        rows.append(row)
    if not _claim(db, merchant, out_request_no, "unbind", receivers):
        return
    for receiver, row in zip(receivers, rows, strict=True):
        if row is None or row.unbound_at is not None:
            raise ReceiverNotBound("The receiver {account} is not bound to this merchant.",
                                   account=receiver.account[:32])
        row.unbound_at = clock.now()
    db.flush()


def receivers(db: Session, *, merchant: Merchant, page: int, page_size: int
              ) -> tuple[list[RoyaltyReceiver], int]:
    """The merchant's bound receivers, oldest binding first, one page; and how many in all."""
    bound = (RoyaltyReceiver.merchant_id == merchant.id) & RoyaltyReceiver.unbound_at.is_(None)
    total = db.scalar(select(func.count()).select_from(RoyaltyReceiver).where(bound)) or 0
    rows = list(db.scalars(select(RoyaltyReceiver).where(bound)
                           .order_by(RoyaltyReceiver.bound_at, RoyaltyReceiver.id)
                           .offset((page - 1) * page_size).limit(page_size)))
    return rows, int(total)


# --- settle ------------------------------------------------------------------------------------

def merchant_share(db: Session, trade: Trade) -> tuple[int, int, int]:
    """(the merchant's part of the payment, its part of the refunds so far, settled so far)."""
    original = service.original_split(db, trade)  # read back from the payment entry
    refunded = (fees.split_refund(original, trade.refunded_fen, 0).merchant_fen
                if trade.refunded_fen else 0)
    settled = db.scalar(select(func.coalesce(func.sum(TradeSettle.amount_fen), 0))
                        .where(TradeSettle.trade_id == trade.id)) or 0
    return original.merchant_fen, refunded, int(settled)


def settleable_fen(db: Session, trade: Trade) -> int:
    """What may still be sent to receivers from this trade."""
    if trade.paid_at is None:
        return 0
    share, refunded, settled = merchant_share(db, trade)
    return max(0, share - refunded - settled)


def _legs(db: Session, trade: Trade, parts: list[tuple[str, int]]) -> dict[str, int]:
    """The merchant's part from its pending funds while they last, then from available ones."""
    amount = sum(fen for _, fen in parts)
    pending = db.scalar(select(LedgerAccount.balance_fen).where(
        LedgerAccount.code == accounts.merchant_pending(trade.merchant_id))) or 0
    from_pending = min(max(pending, 0), amount)
    legs: dict[str, int] = {accounts.merchant_pending(trade.merchant_id): -from_pending,
                            accounts.merchant_available(trade.merchant_id):
                                -(amount - from_pending)}
    for code, fen in parts:
        legs[code] = legs.get(code, 0) + fen
    return legs


def new_settle_no() -> str:
    return service.new_trade_no()


def settle(db: Session, *, trade: Trade, out_request_no: str, parts: list[Part],
           operator_id: str = "") -> tuple[TradeSettle, bool]:
    """Send `parts` of the merchant's share of `trade` to bound receivers, once per
    `out_request_no`. Answers the settle and whether money moved now."""
    if not 1 <= len(parts) <= MAX_RECEIVERS or any(p.amount_fen <= 0 for p in parts):
        raise InvalidParameter("A settle has from 1 to {most} parts, each above zero.",
                               most=MAX_RECEIVERS)
    digest = _digest([[p.account, p.amount_fen] for p in parts])
    trade = service.locked(db, trade)  # refunds and other settles of the trade wait here
    done = db.scalar(select(TradeSettle).where(TradeSettle.trade_id == trade.id,
                                               TradeSettle.out_request_no == out_request_no))
    if done is not None:
        if done.content_digest != digest:
            raise InvalidParameter("This out_request_no was already used for a settle with "
                                   "other parts.")
        return done, False
    if trade.frozen:
        raise TradeFrozen("The trade is frozen and cannot be settled now.")
    if trade.status is TradeStatus.WAIT_BUYER_PAY:
        raise TradeStatusError("The trade has not been paid.")
    if trade.status is TradeStatus.TRADE_CLOSED:
        raise TradeClosed("The trade has been closed.", trade_no=trade.trade_no)
    bound = {row.account: row for row in db.scalars(select(RoyaltyReceiver).where(
        RoyaltyReceiver.merchant_id == trade.merchant_id,
        RoyaltyReceiver.account.in_([p.account for p in parts]),
        RoyaltyReceiver.unbound_at.is_(None)))}
    for part in parts:
        if part.account not in bound:
            raise ReceiverNotBound("The receiver {account} is not bound to this merchant.",
                                   account=part.account[:32])
    amount = sum(p.amount_fen for p in parts)
    left = settleable_fen(db, trade)
    if amount > left:
        raise SettleAmountExceeded("The settle ({amount} fen) is more than what is left of the "
                                   "merchant's part of the trade ({left} fen).",
                                   amount=amount, left=left)
    codes = [(ledger_account(bound[p.account].kind, bound[p.account].owner_id), p.amount_fen)
             for p in parts]
    settle_no = new_settle_no()
    entry = None
    for attempt in range(2):  # settlement may move the pending money between read and post
        try:
            entry = ledger.post(db, kind=KIND, reference=trade.trade_no,
                                legs=_legs(db, trade, codes),
                                idempotency_key=f"trade:{trade.trade_no}:settle:{out_request_no}",
                                memo=f"settle {settle_no}")
            break
        except ledger.InsufficientFunds:
            if attempt:
                raise SellerBalanceNotEnough(
                    "The merchant's balance is not enough for this settle.") from None
    assert entry is not None
    row = TradeSettle(
        settle_no=settle_no, trade_id=trade.id, out_request_no=out_request_no,
        amount_fen=amount, content_digest=digest, operator_id=operator_id[:64],
        details=[{"trans_in": p.account, "kind": bound[p.account].kind,
                  "amount_fen": p.amount_fen, "desc": p.desc[:200]} for p in parts],
        entry_id=entry.public_id, settled_at=clock.now())
    db.add(row)
    db.flush()
    return row, True


def find_settle(db: Session, *, trade: Trade | None = None, out_request_no: str = "",
                settle_no: str = "") -> TradeSettle | None:
    if settle_no:
        found = db.scalar(select(TradeSettle).where(TradeSettle.settle_no == settle_no[:32]))
        return found if found is not None and (trade is None or found.trade_id == trade.id) \
            else None
    if trade is None:
        return None
    return db.scalar(select(TradeSettle).where(TradeSettle.trade_id == trade.id,
                                               TradeSettle.out_request_no == out_request_no))


def settles_of(db: Session, trade: Trade) -> list[TradeSettle]:
    return list(db.scalars(select(TradeSettle).where(TradeSettle.trade_id == trade.id)
                           .order_by(TradeSettle.id)))


def sent_to_receivers(db: Session, *, merchant_id: int) -> dict[str, int]:
    """Receiver (public id) → what the merchant's settles sent it in all."""
    sent: dict[str, int] = {}
    rows = db.scalars(select(TradeSettle.details)
                      .join(Trade, Trade.id == TradeSettle.trade_id)
                      .where(Trade.merchant_id == merchant_id))
    for details in rows:
        for part in details:
            sent[part["trans_in"]] = sent.get(part["trans_in"], 0) + int(part["amount_fen"])
    return sent

