"""Trades as behaviour events the platform observed itself: a paid trade is an `order_placed`,
each refund a `refund`, stored with the platform's own event ids (`events.intake.
record_platform`, `platform:trade:…`) in the same transaction as the payment or refund. Scoring
counts a mini-app's orders, GMV and refunds from these wherever the platform saw any, whatever
the mini-app reports about itself (docs/scoring.md, "Trades")."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.events import intake
from townsquare.events.models import EventType
from townsquare.miniapps.models import IssuedSub, MiniApp
from townsquare.payments.trades.models import Refund, Trade


def _sub(db: Session, trade: Trade) -> str:
    """The buyer as the mini-app knows them, if the platform issued it the user's id (a
    resident who opened the mini-app); "" for a buyer it never met (a till's payment code)."""
    if trade.buyer_user_id is None:
        return ""
    return db.scalar(select(IssuedSub.sub).where(IssuedSub.miniapp_id == trade.miniapp_id,
                                                 IssuedSub.user_id == trade.buyer_user_id)
                     .limit(1)) or ""


def paid(db: Session, trade: Trade) -> bool:
    """Record a paid trade once (False: already recorded)."""
    miniapp = db.get(MiniApp, trade.miniapp_id)
    assert miniapp is not None and trade.paid_at is not None
    return intake.record_platform(db, miniapp=miniapp, type=EventType.ORDER_PLACED,
                           key=f"trade:{trade.trade_no}:paid", occurred_at=trade.paid_at,
                           user_sub=_sub(db, trade), order_id=trade.out_trade_no,
                           amount_fen=trade.total_fen)


def refunded(db: Session, trade: Trade, refund: Refund) -> bool:
    miniapp = db.get(MiniApp, trade.miniapp_id)
    assert miniapp is not None
    return intake.record_platform(db, miniapp=miniapp, type=EventType.REFUND,
                           key=f"trade:{trade.trade_no}:refund:{refund.id}",
                           occurred_at=refund.refunded_at, user_sub=_sub(db, trade),
                           order_id=trade.out_trade_no, amount_fen=refund.amount_fen)
