"""The cashier (`/cashier/{trade_no}`): what is paid, to whom, how much, from what; confirmed
with the payment PIN; then back to the merchant (the trade's own return_url, or the mini-app)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from townsquare.accounts.deps import CurrentUser, FormUser
from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.core.errors import PermissionDenied, TownsquareError
from townsquare.core.settings import Settings
from townsquare.merchants.models import Merchant
from townsquare.miniapps.models import MiniApp
from townsquare.payments.cashier.returns import return_target
from townsquare.payments.trades import service as trades
from townsquare.payments.trades.errors import TradeClosed
from townsquare.payments.trades.models import Trade, TradeStatus
from townsquare.payments.wallet import paying, pin
from townsquare.payments.wallet import service as wallet
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.forms import rejected, see_other
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)
Field = Annotated[str, Form(max_length=64)]
TRADE_NO = r"^\d{16,32}$"


def _context(db: Session, settings: Settings, user: User, trade: Trade) -> dict[str, Any]:
    miniapp = db.get(MiniApp, trade.miniapp_id)
    merchant = db.get(Merchant, trade.merchant_id)
    options = paying.choices(db, actor=user, amount_fen=trade.total_fen)
    chosen = next((o.key for o in options if o.enough), options[0].key)
    return {
        "trade": trade, "miniapp": miniapp, "merchant": merchant, "options": options,
        "chosen": chosen, "balance": wallet.balance(db, user=user),
        "has_pin": pin.has_pin(db, user=user),
        "lock": pin.state(db, settings=settings, user=user),
    }


def _own_paid(trade: Trade, user: User) -> bool:
    return trade.status is not TradeStatus.WAIT_BUYER_PAY and trade.buyer_user_id == user.id \
        and trade.paid_at is not None


@router.get("/cashier/{trade_no}", response_class=HTMLResponse)
def cashier(request: Request, trade_no: str, db: DbSession, settings: AppSettings,
            user: CurrentUser) -> Response:
    trade = trades.get(db, trade_no)
    if _own_paid(trade, user):
        return see_other(f"/cashier/{trade.trade_no}/done")
    paying.payable(db, actor=user, trade_no=trade.trade_no)  # refused: the error page says why
    if trade.timeout_at <= clock.now():  # not closed by the job yet, but no longer payable
        raise TradeClosed("The trade was not paid in time and is closed.",
                          trade_no=trade.trade_no)
    return render(request, "cashier/pay.html", **_context(db, settings, user, trade))


@router.post("/cashier/{trade_no}")
def pay(request: Request, trade_no: str, db: DbSession, settings: AppSettings, user: FormUser,
        method: Field = paying.WALLET, payment_pin: Field = "") -> Response:
    trade = trades.get(db, trade_no)
    try:
        paying.pay_trade(db, settings=settings, actor=user, trade_no=trade.trade_no,
                         method=method, payment_pin=payment_pin)
    except TownsquareError as exc:
        db.rollback()  # what the attempt wrote goes; a wrong PIN's count stays (kept)
        trade = trades.get(db, trade_no)
        if trade.status is not TradeStatus.WAIT_BUYER_PAY and not _own_paid(trade, user):
            raise
        if _own_paid(trade, user):
            return see_other(f"/cashier/{trade.trade_no}/done")
        context = _context(db, settings, user, trade)
        context["chosen"] = method if any(o.key == method for o in context["options"]) \
            else context["chosen"]
        return rejected(request, db, "cashier/pay.html", exc, **context)
    return see_other(f"/cashier/{trade.trade_no}/done")


@router.get("/cashier/{trade_no}/done", response_class=HTMLResponse)
def done(request: Request, trade_no: str, db: DbSession, settings: AppSettings,
         user: CurrentUser) -> HTMLResponse:
    trade = trades.get(db, trade_no)
    if not _own_paid(trade, user):
        raise PermissionDenied("This payment is not yours.")
    return render(request, "cashier/done.html", trade=trade,
                  miniapp=db.get(MiniApp, trade.miniapp_id),
                  target=return_target(db, settings=settings, trade=trade),
                  external=bool(trade.return_url))
