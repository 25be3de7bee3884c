"""Trade notifications to the merchant app's `notify_url` (notify_type `trade_status_sync`),
queued in the gateway's outbox in the transaction of the change they report, with the parameters
Alipay sends and merchants check. The outbox adds notify_id, notify_time, app_id, charset,
version and the signature."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core.money import fen_to_yuan
from townsquare.gateway import notify
from townsquare.gateway.models import GatewayApp
from townsquare.merchants.models import Merchant
from townsquare.payments.trades import hooks
from townsquare.payments.trades.models import Refund, Trade, TradeStatus

BEIJING = ZoneInfo("Asia/Shanghai")  # the protocol's times are Beijing time, whatever the display
NOTIFY_TYPE = "trade_status_sync"


def beijing(at: datetime | None) -> str:
    return at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S") if at else ""


def mask_logon(user: User | None) -> str:
    """The buyer as a merchant may see them: 138****5678, or z***n for a login name."""
    if user is None:
        return ""
    phone = user.identity.phone if user.identity is not None else ""
    if len(phone) >= 7:
        return phone[:3] + "****" + phone[-4:]
    name = user.username
    return name[0] + "***" + name[-1] if len(name) > 1 else name + "***"


def paid_fen(trade: Trade) -> int:
    return trade.total_fen if trade.paid_at is not None else 0


def fund_bills(trade: Trade) -> list[dict[str, str]]:
    """Where the money came from, as `fund_bill_list` items (one funding source per trade)."""
    if trade.paid_at is None:
        return []
    amount = fen_to_yuan(trade.total_fen)
    return [{"fund_channel": trade.fund_channel, "amount": amount, "real_amount": amount}]


def seller_id(db: Session, trade: Trade) -> str:
    merchant = db.get(Merchant, trade.merchant_id)
    return merchant.public_id if merchant else ""


def params_for(db: Session, trade: Trade, refund: Refund | None = None) -> dict[str, Any]:
    """A trade_status_sync notification's business parameters, as Alipay sends them."""
    buyer = db.get(User, trade.buyer_user_id) if trade.buyer_user_id else None
    paid = paid_fen(trade)
    params: dict[str, Any] = {
        "trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no,
        "seller_id": seller_id(db, trade), "buyer_logon_id": mask_logon(buyer),
        "trade_status": trade.status.value, "total_amount": fen_to_yuan(trade.total_fen),
        "receipt_amount": fen_to_yuan(paid), "invoice_amount": fen_to_yuan(paid),
        "buyer_pay_amount": fen_to_yuan(paid), "point_amount": "0.00",
        "subject": trade.subject, "body": trade.body,
        "gmt_create": beijing(trade.created_at), "gmt_payment": beijing(trade.paid_at),
        "gmt_close": beijing(trade.closed_at) if trade.status == TradeStatus.TRADE_CLOSED else "",
        "fund_bill_list": json.dumps(
            [{"amount": b["amount"], "fundChannel": b["fund_channel"]} for b in fund_bills(trade)],
            separators=(",", ":"),
        ) if trade.paid_at else "",
    }
    if refund is not None:
        params |= {"out_biz_no": refund.out_request_no,
                   "refund_fee": fen_to_yuan(trade.refunded_fen),
                   "gmt_refund": beijing(refund.refunded_at)[:19] + ".000"}
    return params


def trade_changed(db: Session, trade: Trade, *, event: str, refund: Refund | None = None) -> None:
    """Announce a paid, refunded, closed or finished trade to the floors above
    (`hooks.trade_changed`, always) and queue its notification (if the app gave a notify_url
    when it created the trade)."""
    hooks.trade_changed.fire(db, hooks.TradeChanged(trade=trade, event=event, refund=refund))
    if not trade.notify_url:
        return
    app = db.get(GatewayApp, trade.app_id)
    assert app is not None
    params = params_for(db, trade, refund) | {"auth_app_id": app.app_id}
    notify.enqueue(db, app=app, url=trade.notify_url, notify_type=NOTIFY_TYPE, params=params)
