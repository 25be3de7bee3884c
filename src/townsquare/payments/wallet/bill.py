"""The resident's bill: every payment (with the trade's state now), every refund of those
payments, every top-up; newest first; and the receipt of one of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core.errors import NotFound
from townsquare.core.i18n import N_
from townsquare.merchants.models import Merchant
from townsquare.miniapps.models import MiniApp
from townsquare.payments.trades.models import Refund, Trade, TradeStatus
from townsquare.payments.wallet.models import Spend, TopUp, WalletCard


@dataclass(frozen=True)
class Item:
    kind: str  # payment, refund, top_up
    at: datetime
    title: str
    amount_fen: int  # from the resident's side: − paid out, + came in
    status: str  # an English msgid
    href: str


def payment_status(trade: Trade) -> str:
    if trade.status is TradeStatus.WAIT_BUYER_PAY:
        return N_("Waiting")
    if trade.refunded_fen >= trade.total_fen:
        return N_("Refunded")
    if trade.refunded_fen:
        return N_("Partly refunded")
    if trade.status is TradeStatus.TRADE_CLOSED:
        return N_("Closed")
    return N_("Paid")


def items(db: Session, *, user: User, limit: int = 200) -> list[Item]:
    found: list[Item] = []
    rows = db.execute(
        select(Spend, Trade, MiniApp.name).join(Trade, Trade.trade_no == Spend.trade_no)
        .join(MiniApp, MiniApp.id == Trade.miniapp_id)
        .where(Spend.user_id == user.id).order_by(Spend.id.desc()).limit(limit))
    trades: dict[int, tuple[Trade, str]] = {}
    for spend, trade, name in rows:
        trades[trade.id] = (trade, name)
        found.append(Item("payment", spend.created_at, f"{name} · {trade.subject}",
                          -spend.amount_fen, payment_status(trade),
                          f"/me/bill/pay/{trade.trade_no}"))
    if trades:
        for refund in db.scalars(select(Refund).where(Refund.trade_id.in_(trades))):
            trade, name = trades[refund.trade_id]
            found.append(Item("refund", refund.refunded_at, f"{name} · {trade.subject}",
                              refund.amount_fen, N_("Refunded"),
                              f"/me/bill/pay/{trade.trade_no}"))
    for top_up, card in db.execute(
            select(TopUp, WalletCard).join(WalletCard, WalletCard.id == TopUp.card_id)
            .where(TopUp.user_id == user.id).order_by(TopUp.id.desc()).limit(limit)):
        found.append(Item("top_up", top_up.created_at,
                          f"{card.bank_name} {card.number_masked[-4:]}", top_up.amount_fen,
                          N_("Succeeded"), f"/me/bill/top-up/{top_up.public_id}"))
    return sorted(found, key=lambda item: item.at, reverse=True)[:limit]


@dataclass(frozen=True)
class PaymentReceipt:
    trade: Trade
    spend: Spend
    miniapp: MiniApp
    merchant: Merchant
    card: WalletCard | None
    refunds: list[Refund]
    status: str


def payment_receipt(db: Session, *, user: User, trade_no: str) -> PaymentReceipt:
    """The receipt of one of the resident's own payments (NotFound for anyone else's)."""
    spend = db.scalar(select(Spend).where(Spend.trade_no == trade_no, Spend.user_id == user.id))
    trade = db.scalar(select(Trade).where(Trade.trade_no == trade_no))
    if spend is None or trade is None:
        raise NotFound("No such payment.")
    miniapp, merchant = db.get(MiniApp, trade.miniapp_id), db.get(Merchant, trade.merchant_id)
    assert miniapp is not None and merchant is not None
    card = db.get(WalletCard, spend.card_id) if spend.card_id else None
    refunds = sorted(trade.refunds, key=lambda r: r.refunded_at)
    return PaymentReceipt(trade, spend, miniapp, merchant, card, refunds, payment_status(trade))


def top_up_receipt(db: Session, *, user: User, public_id: str) -> tuple[TopUp, WalletCard]:
    row = db.execute(select(TopUp, WalletCard).join(WalletCard, WalletCard.id == TopUp.card_id)
                     .where(TopUp.public_id == public_id, TopUp.user_id == user.id)).first()
    if row is None:
        raise NotFound("No such top-up.")
    return row[0], row[1]
