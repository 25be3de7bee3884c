"""The trade methods of the open gateway (package `payment`), answering as Alipay's do.

The gateway checks each call against the method's declared parameters (names, types, lengths,
Alipay's `Price` amounts as exact fen: the table in `payments/gateway_methods.py`) before the
handler runs; the parsing functions here add the trade rules a schema cannot say (amount range,
order-number characters, product codes, timeouts, URLs) and refuse with Alipay's `sub_code`s
(docs/payments.md).

A mini-app's own app acts for its mini-app; an ISV app names one of the authorizing merchant's
mini-apps (`mini_app_id`) to create a trade, and only finds the trades of the merchant it acts
for."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from townsquare.accounts.models import Identity, User
from townsquare.core.clock import clock
from townsquare.core.errors import ValidationFailed
from townsquare.core.i18n import catalogue
from townsquare.core.money import fen_to_yuan
from townsquare.gateway import notify
from townsquare.gateway.methods import CallContext
from townsquare.gateway.protocol.errors import business, invalid
from townsquare.miniapps.models import MiniApp
from townsquare.miniapps.shell import launch
from townsquare.payments.trades import service, statements
from townsquare.payments.trades.errors import InvalidParameter, TradeError, TradeNotFound
from townsquare.payments.trades.models import Refund, Trade, TradeView
from townsquare.payments.trades.notices import (
    BEIJING,
    beijing,
    fund_bills,
    mask_logon_of,
    paid_fen,
)

MAX_FEN = 10_000_000_000  # 100,000,000.00 yuan, Alipay's upper bound for total_amount
_OUT_NO = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_TIMEOUT = re.compile(r"^([1-9]\d{0,4})([mhdc])$")
PRODUCTS = {
    "alipay.trade.create": ("JSAPI_PAY", "FACE_TO_FACE_PAYMENT"),
    "alipay.trade.precreate": ("FACE_TO_FACE_PAYMENT", "QR_CODE_OFFLINE"),
    "alipay.trade.page.pay": ("FAST_INSTANT_TRADE_PAY",),
    "alipay.trade.wap.pay": ("QUICK_WAP_WAY", "QUICK_WAP_PAY"),
}


def cashier_path(trade_no: str) -> str:
    return f"/cashier/{trade_no}"


# --- parsing (the trade rules beyond the declared schema) ---------------------------------

def _bad(text: str) -> InvalidParameter:
    """A refusal whose text (Chinese, as Alipay's sub_msg) may quote what the caller sent."""
    return InvalidParameter(text.replace("{", "{{").replace("}", "}}"))


def amount_fen(fen: int | None, name: str) -> int:
    """A declared amount (the schema made it exact integer fen) within Alipay's range."""
    if fen is None:
        raise _bad(f"参数无效：缺少 {name}")
    if not 1 <= fen <= MAX_FEN:
        raise _bad(f"参数无效：{name} 须在 0.01 至 100000000.00 之间，收到 {fen_to_yuan(fen)}")
    return fen


def text_param(values: Mapping[str, Any], name: str, *, required: bool = False) -> str:
    """A declared string parameter, trimmed (its type and length the schema checked)."""
    value = values.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise _bad(f"参数无效：缺少 {name}")
    return text


def out_no_param(values: Mapping[str, Any], name: str, *, required: bool) -> str:
    text = text_param(values, name, required=required)
    if text and not _OUT_NO.match(text):
        raise _bad(f"参数无效：{name} 只能含字母、数字、下划线和连字符，64 个字符以内")
    return text


def timeout_minutes(values: Mapping[str, Any], now: datetime) -> int:
    """`timeout_express` (1m–15d, or `1c`: the end of today) or `time_expire` (Beijing time)."""
    express = text_param(values, "timeout_express")
    expire = text_param(values, "time_expire")
    if expire:
        try:
            at = datetime.strptime(expire, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
        except ValueError:
            raise _bad("参数无效：time_expire 格式应为 yyyy-MM-dd HH:mm:ss") from None
        minutes = int((at - now).total_seconds() // 60)
    elif express:
        found = _TIMEOUT.match(express)
        if not found:
            raise _bad("参数无效：timeout_express 取值如 90m、2h、1d、1c")
        count, unit = int(found[1]), found[2]
        if unit == "c":
            midnight = (now.astimezone(BEIJING) + timedelta(days=1)).replace(
                hour=0, minute=0, second=0, microsecond=0)
            minutes = int((midnight - now).total_seconds() // 60)
        else:
            minutes = count * {"m": 1, "h": 60, "d": 1440}[unit]
    else:
        return service.DEFAULT_TIMEOUT_MINUTES
    if not 1 <= minutes <= service.MAX_TIMEOUT_MINUTES:
        raise _bad("参数无效：订单有效期须在 1 分钟至 15 天之间")
    return minutes


@dataclass(frozen=True)
class NewTrade:
    out_trade_no: str
    total_fen: int
    subject: str
    body: str
    product_code: str
    timeout_minutes: int
    notify_url: str
    return_url: str


def parse_new_trade(context: CallContext) -> NewTrade:
    """create, precreate, page.pay and wap.pay take the same order fields."""
    values, method = context.values, context.call.method
    product = text_param(values, "product_code") or PRODUCTS[method][0]
    if product not in PRODUCTS[method]:
        raise _bad(f"参数无效：{method} 的 product_code 只能是 {'、'.join(PRODUCTS[method])}")
    notify_url = text_param(values, "notify_url")
    try:
        notify.check_url(notify_url) if notify_url else None
    except ValidationFailed:
        raise _bad("参数无效：notify_url 须为 http(s) 地址") from None
    return_url = text_param(values, "return_url")
    if return_url and not re.match(r"^https?://[^\s]{1,500}$", return_url):
        raise _bad("参数无效：return_url 须为 http(s) 地址")
    return NewTrade(
        out_trade_no=out_no_param(values, "out_trade_no", required=True),
        total_fen=amount_fen(values.get("total_amount"), "total_amount"),
        subject=text_param(values, "subject", required=True),
        body=text_param(values, "body"),
        product_code=product, timeout_minutes=timeout_minutes(values, clock.now()),
        notify_url=notify_url, return_url=return_url,
    )


@dataclass(frozen=True)
class TradeRef:
    trade_no: str
    out_trade_no: str


def parse_ref(context: CallContext) -> TradeRef:
    ref = TradeRef(trade_no=text_param(context.values, "trade_no"),
                   out_trade_no=out_no_param(context.values, "out_trade_no", required=False))
    if not ref.trade_no and not ref.out_trade_no:
        raise _bad("参数无效：trade_no 与 out_trade_no 不能同时为空")
    return ref


@dataclass(frozen=True)
class RefundAsk:
    ref: TradeRef
    refund_fen: int
    out_request_no: str
    reason: str


def parse_refund(context: CallContext) -> RefundAsk:
    ref, values = parse_ref(context), context.values
    return RefundAsk(
        ref=ref, refund_fen=amount_fen(values.get("refund_amount"), "refund_amount"),
        # without out_request_no a refund is the trade's whole refund (Alipay's rule)
        out_request_no=out_no_param(values, "out_request_no", required=False)
        or ref.trade_no or ref.out_trade_no,
        reason=text_param(values, "refund_reason"),
    )


@dataclass(frozen=True)
class RefundLookup:
    ref: TradeRef
    out_request_no: str


def parse_refund_query(context: CallContext) -> RefundLookup:
    ref = parse_ref(context)
    return RefundLookup(ref=ref, out_request_no=out_no_param(context.values, "out_request_no",
                                                        required=False) or ref.out_trade_no
                        or ref.trade_no)


# --- answers --------------------------------------------------------------------------------

def _find(context: CallContext, ref: TradeRef) -> Trade:
    """The app's trade, if it is the merchant's the call acts for (an ISV app serves several)."""
    merchant_id = context.merchant_id
    trade = service.find(context.db, app=context.app, trade_no=ref.trade_no,
                         out_trade_no=ref.out_trade_no)
    if trade.merchant_id != merchant_id:
        raise TradeNotFound("No such trade.")
    return trade


def _buyer(context: CallContext, trade: Trade | TradeView) -> dict[str, str]:
    """The buyer as the trade's mini-app knows them: the pseudonymous id, a masked login."""
    if trade.buyer_user_id is None:
        return {}
    if isinstance(trade, TradeView):  # read with the trade
        public_id, username, phone = (trade.buyer_public_id, trade.buyer_username,
                                      trade.buyer_phone)
        miniapp_public_id: str | None = trade.miniapp_public_id
    else:
        found = context.db.execute(  # the three values, not the user with its roles
            select(User.public_id, User.username, Identity.phone)
            .outerjoin(Identity, Identity.user_id == User.id)
            .where(User.id == trade.buyer_user_id)
        ).one_or_none()
        public_id, username, phone = found if found is not None else (None, None, None)
        miniapp_public_id = (  # a mini-app app's own mini-app: the directory knows it
            context.entry.miniapp_public_id if trade.miniapp_id == context.entry.miniapp_id
            else None) or context.db.scalar(
                select(MiniApp.public_id).where(MiniApp.id == trade.miniapp_id))
    if public_id is None or username is None or miniapp_public_id is None:
        return {}
    open_id = launch.pseudonymous_id(context.settings.effective_secret_key, public_id,
                                     miniapp_public_id)
    return {"buyer_logon_id": mask_logon_of(phone or "", username),
            "buyer_user_id": open_id, "buyer_open_id": open_id}


def _nonempty(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v not in ("", None, [])}


def answer_trade(context: CallContext, trade: Trade | TradeView) -> dict[str, Any]:
    paid = fen_to_yuan(paid_fen(trade))
    return _nonempty({
        "trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no, **_buyer(context, trade),
        "trade_status": trade.status.value, "total_amount": fen_to_yuan(trade.total_fen),
        "receipt_amount": paid, "buyer_pay_amount": paid,
        "invoice_amount": paid, "point_amount": "0.00",
        "send_pay_date": beijing(trade.paid_at), "subject": trade.subject,
        "body": trade.body, "fund_bill_list": fund_bills(trade),
    })


def _refusals(handler: Callable[[CallContext], Mapping[str, Any]]
              ) -> Callable[[CallContext], Mapping[str, Any]]:
    """A trade refusal answered as Alipay does: 40004 with the ACQ.* sub_code, Chinese text."""
    def run(context: CallContext) -> Mapping[str, Any]:
        try:
            return handler(context)
        except TradeError as error:
            zh = catalogue("zh_CN")
            raise business(error.sub_code, error.render(lambda m: zh.get(m, m))) from None
    run.__name__ = handler.__name__
    run.__doc__ = handler.__doc__
    return run


def _create(context: CallContext, asked: NewTrade) -> Trade:
    miniapp = context.miniapp()  # an ISV app names one of its merchant's: biz mini_app_id
    return service.create(
        context.db, app=context.app, merchant_id=miniapp.merchant_id, miniapp_id=miniapp.id,
        out_trade_no=asked.out_trade_no, total_fen=asked.total_fen, subject=asked.subject,
        body=asked.body, product_code=asked.product_code, timeout_minutes=asked.timeout_minutes,
        notify_url=asked.notify_url, return_url=asked.return_url,
        content_digest=service.digest(total_fen=asked.total_fen, subject=asked.subject,
                                      body=asked.body),
    )


@_refusals
def trade_create(context: CallContext) -> Mapping[str, Any]:
    trade = _create(context, parse_new_trade(context))
    return {"trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no}


@_refusals
def trade_precreate(context: CallContext) -> Mapping[str, Any]:
    trade = _create(context, parse_new_trade(context))
    qr_code = context.settings.base_url.rstrip("/") + cashier_path(trade.trade_no)
    return {"out_trade_no": trade.out_trade_no, "qr_code": qr_code}


@_refusals
def trade_page_pay(context: CallContext) -> Mapping[str, Any]:
    """Opened by the resident's browser: the gateway redirects it to the cashier."""
    trade = _create(context, parse_new_trade(context))
    return {"trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no,
            "redirect": cashier_path(trade.trade_no)}


@_refusals
def trade_query(context: CallContext) -> Mapping[str, Any]:
    """Read only: the trade and its buyer in one statement, no ORM objects (the gateway's most
    frequent call; `_find`'s rules)."""
    ref = parse_ref(context)
    merchant_id = context.merchant_id
    trade = service.find_view(context.db, app_id=context.entry.id, trade_no=ref.trade_no,
                              out_trade_no=ref.out_trade_no)
    if trade.merchant_id != merchant_id:
        raise TradeNotFound("No such trade.")
    return answer_trade(context, trade)


@_refusals
def trade_refund(context: CallContext) -> Mapping[str, Any]:
    asked = parse_refund(context)
    trade = _find(context, asked.ref)
    refund, moved = service.refund(context.db, trade=trade, refund_fen=asked.refund_fen,
                                   out_request_no=asked.out_request_no, reason=asked.reason)
    context.db.refresh(trade)
    return _nonempty({
        "trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no,
        **{k: v for k, v in _buyer(context, trade).items() if k != "buyer_user_id"},
        "fund_change": "Y" if moved else "N",
        "refund_fee": fen_to_yuan(trade.refunded_fen),
        "send_back_fee": fen_to_yuan(refund.amount_fen if moved else 0),
        "gmt_refund_pay": beijing(refund.refunded_at),
    })


def _answer_refund(trade: Trade, out_request_no: str, refund: Refund | None) -> dict[str, Any]:
    found: dict[str, Any] = {"trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no,
                             "out_request_no": out_request_no}
    if refund is not None:  # Alipay answers only the numbers when there is no such refund
        found |= _nonempty({
            "total_amount": fen_to_yuan(trade.total_fen),
            "refund_amount": fen_to_yuan(refund.amount_fen), "refund_status": "REFUND_SUCCESS",
            "gmt_refund_pay": beijing(refund.refunded_at), "refund_reason": refund.reason,
            "send_back_fee": fen_to_yuan(refund.amount_fen),
        })
    return found


@_refusals
def refund_query(context: CallContext) -> Mapping[str, Any]:
    asked = parse_refund_query(context)
    trade = _find(context, asked.ref)
    refund = next((r for r in trade.refunds if r.out_request_no == asked.out_request_no), None)
    return _answer_refund(trade, asked.out_request_no, refund)


@_refusals
def trade_close(context: CallContext) -> Mapping[str, Any]:
    trade = service.close(context.db, trade=_find(context, parse_ref(context)))
    return {"trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no}


@_refusals
def trade_cancel(context: CallContext) -> Mapping[str, Any]:
    trade, action = service.cancel(context.db, trade=_find(context, parse_ref(context)))
    refund = next((r for r in trade.refunds if r.out_request_no == service.CANCEL_REQUEST), None)
    return _nonempty({
        "trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no, "retry_flag": "N",
        "action": action, "gmt_refund_pay": beijing(refund.refunded_at) if refund else "",
    })


def bill_download_url(context: CallContext) -> Mapping[str, Any]:
    """A link to the merchant's statement file for a closed day or month, valid 30 seconds
    (`bill_type` is one of the declared choices; both give the same file)."""
    period = text_param(context.values, "bill_date")
    try:
        _first, last = statements.parse_period(period)
    except ValueError:
        raise invalid("parameter", "参数无效：bill_date 格式应为 yyyy-MM-dd（日账单）或 "
                      "yyyy-MM（月账单）") from None
    if not statements.is_closed(last, context.settings.timezone):
        raise business("isp.bill_not_exist", "账单不存在：当日（当月）账单次日（次月）才生成")
    token = statements.download_token(context.settings.effective_secret_key,
                                      merchant_id=context.merchant_id, period=period)
    return {"bill_download_url":
            f"{context.settings.base_url.rstrip('/')}/payments/bills/{token}.csv"}
