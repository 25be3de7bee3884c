"""Trade pages: the merchant console's trades (search, filters, a trade with its refunds and
notifications, refund with the same rules as `alipay.trade.refund`) and the operators' trade
lookup (with freezing a disputed trade). Forms post with the CSRF token; a refused refund is
shown again with its message and changes nothing."""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from sqlalchemy.orm import Session

from townsquare.accounts.deps import CurrentUser, FormUser
from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.core.errors import NotFound, ValidationFailed
from townsquare.core.i18n import N_
from townsquare.merchants.access import can_act_for
from townsquare.merchants.models import Merchant
from townsquare.payments.trades import console, royalty, service, statements
from townsquare.payments.trades.models import Trade, TradeStatus
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.forms import attempt, flashes
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)
Short = Annotated[str, Form(max_length=100)]
Text = Annotated[str, Form(max_length=500)]
LIST_PAGE = "payments/merchant_trades.html"
TRADE_PAGE = "payments/merchant_trade.html"
LOOKUP_PAGE = "payments/operator_trades.html"
STATUS_LABELS = {
    TradeStatus.WAIT_BUYER_PAY.value: N_("Waiting for payment"),
    TradeStatus.TRADE_SUCCESS.value: N_("Paid"),
    TradeStatus.TRADE_FINISHED.value: N_("Refund period over"),
    TradeStatus.TRADE_CLOSED.value: N_("Closed"),
}
DONE = {"refunded": N_("Refunded."), "repeated": N_("This refund was already made."),
        "frozen": N_("The trade is frozen: refunds and cancels are refused."),
        "unfrozen": N_("The trade is no longer frozen.")}


@router.get("/console/merchant/{mer_id}/trades", response_class=HTMLResponse)
def trades_page(
    request: Request, mer_id: str, user: CurrentUser, db: DbSession, settings: AppSettings,
    status: Annotated[str, Query(max_length=20)] = "",
    q: Annotated[str, Query(max_length=64)] = "",
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
    miniapp: Annotated[str, Query(max_length=24)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    merchant = console.merchant_of(db, actor=user, merchant_public_id=mer_id)
    filters = console.Filters(status=status, q=q, since=since, until=until, miniapp=miniapp)
    found = console.merchant_trades(db, actor=user, merchant=merchant, filters=filters,
                                    page=page, timezone=settings.timezone)
    return render(request, LIST_PAGE, merchant=merchant, found=found, filters=filters,
                  labels=STATUS_LABELS)


def _trade_context(db: Session, user: User, mer_id: str, trade_no: str) -> dict[str, Any]:
    merchant = console.merchant_of(db, actor=user, merchant_public_id=mer_id)
    trade = console.merchant_trade(db, merchant=merchant, trade_no=trade_no)
    return {"merchant": merchant, "trade": trade, "labels": STATUS_LABELS,
            "refundable_fen": _refundable(trade), "can_act": can_act_for(db, user, merchant),
            "notifications": console.notifications_of(db, trade),
            "settles": royalty.settles_of(db, trade),
            "request_key": secrets.token_hex(12)}


def _refundable(trade: Trade) -> int:
    return trade.total_fen - trade.refunded_fen if trade.status == TradeStatus.TRADE_SUCCESS else 0


@router.get("/console/merchant/{mer_id}/trades/{trade_no}", response_class=HTMLResponse)
def trade_page(request: Request, mer_id: str, trade_no: str, user: CurrentUser,
               db: DbSession) -> HTMLResponse:
    return render(request, TRADE_PAGE, flashes=flashes(request, DONE), form={},
                  **_trade_context(db, user, mer_id, trade_no))


@router.post("/console/merchant/{mer_id}/trades/{trade_no}/refund")
def refund(
    request: Request, mer_id: str, trade_no: str, user: FormUser, db: DbSession,
    amount: Short = "", reason: Text = "", request_key: Short = "",
) -> Response:
    outcome: dict[str, bool] = {}

    def act() -> None:
        merchant = console.merchant_of(db, actor=user, merchant_public_id=mer_id)
        _, outcome["moved"] = console.refund_from_console(
            db, actor=user, merchant=merchant, trade_no=trade_no, amount=amount,
            reason=reason, request_key=request_key)

    response = attempt(
        request, db, act, template=TRADE_PAGE, failed="refund",
        form={"amount": amount, "reason": reason},
        context=lambda: _trade_context(db, user, mer_id, trade_no),
        done_url=f"/console/merchant/{mer_id}/trades/{trade_no}?ok=refunded",
    )
    if outcome.get("moved") is False:  # the same form sent again: nothing moved
        response.headers["location"] = response.headers["location"].replace("ok=refunded",
                                                                            "ok=repeated")
    return response


def _lookup_context(db: Session, user: User, number: str) -> dict[str, Any]:
    trade = console.lookup(db, actor=user, number=number)
    return {"number": number, "trade": trade, "labels": STATUS_LABELS,
            "notifications": console.notifications_of(db, trade) if trade else [],
            "settles": royalty.settles_of(db, trade) if trade else []}


@router.get("/console/operator/trades", response_class=HTMLResponse)
def lookup_page(request: Request, user: CurrentUser, db: DbSession,
                q: Annotated[str, Query(max_length=64)] = "") -> HTMLResponse:
    return render(request, LOOKUP_PAGE, flashes=flashes(request, DONE),
                  **_lookup_context(db, user, q))


@router.post("/console/operator/trades/{trade_no}/freeze")
def freeze(request: Request, trade_no: str, user: FormUser, db: DbSession,
           frozen: Short = "", note: Text = "") -> Response:
    def act() -> None:
        service.freeze(db, actor=user, trade=service.get(db, trade_no), frozen=frozen == "1",
                       note=note)

    done = "frozen" if frozen == "1" else "unfrozen"
    return attempt(request, db, act, template=LOOKUP_PAGE,
                   context=lambda: _lookup_context(db, user, trade_no),
                   done_url=f"/console/operator/trades?q={quote(trade_no)}&ok={done}")


STATEMENT_PAGE = "payments/merchant_statements.html"
CSV = "text/csv; charset=utf-8"


def _day(text: str, timezone: str) -> date:
    """The asked local day; yesterday when none is asked (today's statement is still open)."""
    if not text:
        return clock.now().astimezone(ZoneInfo(timezone)).date() - timedelta(days=1)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed("Enter a date as YYYY-MM-DD.", field="day") from None


@router.get("/console/merchant/{mer_id}/statements", response_class=HTMLResponse)
def statements_page(request: Request, mer_id: str, user: CurrentUser, db: DbSession,
                    settings: AppSettings,
                    day: Annotated[str, Query(max_length=10)] = "") -> HTMLResponse:
    merchant = console.merchant_of(db, actor=user, merchant_public_id=mer_id)
    chosen = _day(day, settings.timezone)
    statement = statements.build(db, merchant_id=merchant.id, first=chosen, last=chosen,
                                 timezone=settings.timezone)
    return render(request, STATEMENT_PAGE, merchant=merchant, statement=statement, day=chosen,
                  closed=statements.is_closed(chosen, settings.timezone))


def _csv(db: Session, merchant: Merchant, period: str, timezone: str) -> Response:
    try:
        first, last = statements.parse_period(period)
    except ValueError:
        raise NotFound("No such statement.") from None
    statement = statements.build(db, merchant_id=merchant.id, first=first, last=last,
                                 timezone=timezone)
    text = statements.as_csv(statement, merchant_name=merchant.name, timezone=timezone)
    name = f"statement-{merchant.public_id}-{period}.csv"
    return PlainTextResponse(text, media_type=CSV, headers={
        "content-disposition": f'attachment; filename="{name}"', "cache-control": "no-store"})


@router.get("/console/merchant/{mer_id}/statements/{period}.csv")
def statement_csv(mer_id: str, period: str, user: CurrentUser, db: DbSession,
                  settings: AppSettings) -> Response:
    merchant = console.merchant_of(db, actor=user, merchant_public_id=mer_id)
    return _csv(db, merchant, period[:10], settings.timezone)


@router.get("/payments/bills/{token}.csv")
def bill_download(token: str, db: DbSession, settings: AppSettings) -> Response:
    """The file behind `alipay.data.dataservice.bill.downloadurl.query`: the signed, 30-second
    link is the credential (as Alipay's download URL is), so the merchant's server needs no
    login to fetch it."""
    found = statements.read_token(settings.effective_secret_key, token[:200])
    merchant = db.get(Merchant, found[0]) if found else None
    if found is None or merchant is None:
        raise NotFound("This download link is not valid or has expired.")
    return _csv(db, merchant, found[1], settings.timezone)
