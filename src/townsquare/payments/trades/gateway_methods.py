"""The trade methods of the open gateway (package `payment`), answering as Alipay's do.

Each method has one parsing function that reads and validates its business parameters into a
plain value (the schema a declared-parameter table can replace), and one handler that calls the
service and writes the answer. Refusals carry Alipay's real `sub_code` (docs/payments.md)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.core.errors import ValidationFailed
from townsquare.core.i18n import catalogue
from townsquare.core.money import fen_to_yuan
from townsquare.gateway import notify
from townsquare.gateway.methods import CallContext, Method
from townsquare.gateway.protocol.errors import business, invalid
from townsquare.miniapps.shell import launch
from townsquare.payments.trades import service, statements
from townsquare.payments.trades.errors import InvalidParameter, TradeError
from townsquare.payments.trades.models import Refund, Trade
from townsquare.payments.trades.notices import (
    BEIJING,
    beijing,
    fund_bills,
    mask_logon,
    paid_fen,
)

MAX_FEN = 10_000_000_000  # 100,000,000.00 yuan, Alipay's upper bound for total_amount
_YUAN = re.compile(r"^\d{1,9}(\.\d{1,2})?$")
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


# --- parsing ------------------------------------------------------------------------------

def _bad(text: str) -> InvalidParameter:
    """A refusal whose text (Chinese, as Alipay's sub_msg) may quote what the caller sent."""
    return InvalidParameter(text.replace("{", "{{").replace("}", "}}"))


def amount_fen(value: Any, name: str) -> int:
    """Decimal yuan with at most two places, as a string or a JSON number → integer fen."""
    if isinstance(value, bool) or value is None or value == "":
        raise _bad(f"参数无效：缺少 {name}")
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        text = repr(value)  # the shortest text that reads back as this number
    else:
        text = ""
    if not _YUAN.match(text):
        raise _bad(f"参数无效：{name} 须为元，最多两位小数（如 12.50），收到 {str(value)[:32]}")
    fen = int(Decimal(text) * 100)
    if not 1 <= fen <= MAX_FEN:
        raise _bad(f"参数无效：{name} 须在 0.01 至 100000000.00 之间")
    return fen


def _text(biz: Mapping[str, Any], name: str, *, most: int, required: bool = False) -> str:
    value = biz.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise _bad(f"参数无效：{name} 须为字符串")
    text = str(value).strip()
    if required and not text:
        raise _bad(f"参数无效：缺少 {name}")
    if len(text) > most:
        raise _bad(f"参数无效：{name} 超过 {most} 个字符")
    return text


def _out_no(biz: Mapping[str, Any], name: str, *, required: bool) -> str:
    text = _text(biz, name, most=64, required=required)
    if text and not _OUT_NO.match(text):
        raise _bad(f"参数无效：{name} 只能含字母、数字、下划线和连字符，64 个字符以内")
    return text


def timeout_minutes(biz: Mapping[str, Any], now: datetime) -> int:
    """`timeout_express` (1m–15d, or `1c`: the end of today) or `time_expire` (Beijing time)."""
    express = _text(biz, "timeout_express", most=8)
    expire = _text(biz, "time_expire", most=19)
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
    biz, method = context.biz, context.call.method
    product = _text(biz, "product_code", most=32) or PRODUCTS[method][0]
    if product not in PRODUCTS[method]:
        raise _bad(f"参数无效：{method} 的 product_code 只能是 {'、'.join(PRODUCTS[method])}")
    notify_url = context.call.notify_url
    try:
        notify.check_url(notify_url) if notify_url else None
    except ValidationFailed:
        raise _bad("参数无效：notify_url 须为 http(s) 地址") from None
    return_url = context.call.return_url
    if return_url and not re.match(r"^https?://[^\s]{1,500}$", return_url):
        raise _bad("参数无效：return_url 须为 http(s) 地址")
    return NewTrade(
        out_trade_no=_out_no(biz, "out_trade_no", required=True),
        total_fen=amount_fen(biz.get("total_amount"), "total_amount"),
        subject=_text(biz, "subject", most=256, required=True),
        body=_text(biz, "body", most=128),
        product_code=product, timeout_minutes=timeout_minutes(biz, clock.now()),
        notify_url=notify_url, return_url=return_url,
    )


@dataclass(frozen=True)
class TradeRef:
    trade_no: str
    out_trade_no: str


def parse_ref(context: CallContext) -> TradeRef:
    ref = TradeRef(trade_no=_text(context.biz, "trade_no", most=64),
                   out_trade_no=_out_no(context.biz, "out_trade_no", required=False))
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
    ref = parse_ref(context)
    return RefundAsk(
        ref=ref, refund_fen=amount_fen(context.biz.get("refund_amount"), "refund_amount"),
        # without out_request_no a refund is the trade's whole refund (Alipay's rule)
        out_request_no=_out_no(context.biz, "out_request_no", required=False)
        or ref.trade_no or ref.out_trade_no,
        reason=_text(context.biz, "refund_reason", most=256),
    )


@dataclass(frozen=True)
class RefundLookup:
    ref: TradeRef
    out_request_no: str


def parse_refund_query(context: CallContext) -> RefundLookup:
    ref = parse_ref(context)
    return RefundLookup(ref=ref, out_request_no=_out_no(context.biz, "out_request_no",
                                                        required=False) or ref.out_trade_no
                        or ref.trade_no)


# --- answers --------------------------------------------------------------------------------

def _find(context: CallContext, ref: TradeRef) -> Trade:
    return service.find(context.db, app=context.app, trade_no=ref.trade_no,
                        out_trade_no=ref.out_trade_no)


def _buyer(context: CallContext, trade: Trade) -> dict[str, str]:
    """The buyer as the merchant's app knows them: the pseudonymous id and a masked login."""
    if trade.buyer_user_id is None:
        return {}
    user = context.db.get(User, trade.buyer_user_id)
    if user is None:
        return {}
    open_id = launch.pseudonymous_id(context.settings.effective_secret_key, user.public_id,
                                     context.app.miniapp.public_id)
    return {"buyer_logon_id": mask_logon(user), "buyer_user_id": open_id,
            "buyer_open_id": open_id}


def _nonempty(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v not in ("", None, [])}


def answer_trade(context: CallContext, trade: Trade) -> dict[str, Any]:
    paid = paid_fen(trade)
    return _nonempty({
        "trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no, **_buyer(context, trade),
        "trade_status": trade.status.value, "total_amount": fen_to_yuan(trade.total_fen),
        "receipt_amount": fen_to_yuan(paid), "buyer_pay_amount": fen_to_yuan(paid),
        "invoice_amount": fen_to_yuan(paid), "point_amount": "0.00",
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
    return service.create(
        context.db, app=context.app, merchant_id=context.app.miniapp.merchant_id,
        miniapp_id=context.app.miniapp_id, out_trade_no=asked.out_trade_no,
        total_fen=asked.total_fen, subject=asked.subject, body=asked.body,
        product_code=asked.product_code, timeout_minutes=asked.timeout_minutes,
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
    return answer_trade(context, _find(context, parse_ref(context)))


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


@dataclass(frozen=True)
class BillAsk:
    period: str  # yyyy-MM-dd or yyyy-MM


def parse_bill(context: CallContext) -> BillAsk:
    bill_type = _text(context.biz, "bill_type", most=20)
    if bill_type not in ("trade", "signcustomer"):
        raise invalid("parameter", "参数无效：bill_type 只能是 trade 或 signcustomer")
    period = _text(context.biz, "bill_date", most=15)
    try:
        statements.parse_period(period)
    except ValueError:
        raise invalid("parameter", "参数无效：bill_date 格式应为 yyyy-MM-dd（日账单）或 "
                      "yyyy-MM（月账单）") from None
    return BillAsk(period=period)


def bill_download_url(context: CallContext) -> Mapping[str, Any]:
    """A link to the merchant's statement file for a closed day or month, valid 30 seconds."""
    asked = parse_bill(context)
    _first, last = statements.parse_period(asked.period)
    if not statements.is_closed(last, context.settings.timezone):
        raise business("isp.bill_not_exist", "账单不存在：当日（当月）账单次日（次月）才生成")
    token = statements.download_token(context.settings.effective_secret_key,
                                      merchant_id=context.app.miniapp.merchant_id,
                                      period=asked.period)
    return {"bill_download_url":
            f"{context.settings.base_url.rstrip('/')}/payments/bills/{token}.csv"}


_REF = {"trade_no": "平台交易号（与 out_trade_no 二选一，同时给出以 trade_no 为准）",
        "out_trade_no": "商户订单号"}
_NEW = {
    "out_trade_no": "商户订单号，64 个字符以内（字母、数字、下划线、连字符），同一应用内唯一",
    "total_amount": "订单总金额，单位元，最多两位小数，0.01–100000000.00",
    "subject": "订单标题，256 个字符以内",
    "body": "订单描述，128 个字符以内",
    "product_code": "产品码",
    "timeout_express": "最晚付款时间：1m–15d，或 1c（当天结束）；默认 2h",
    "time_expire": "绝对超时时间 yyyy-MM-dd HH:mm:ss（北京时间），优先于 timeout_express",
    "notify_url": "公共参数：异步通知地址",
}
METHODS = (
    Method("alipay.trade.create", "payment", trade_create,
           "创建交易，返回 trade_no，由小程序交给平台收银台支付", _NEW),
    Method("alipay.trade.precreate", "payment", trade_precreate,
           "预创建交易，返回收银台二维码地址 qr_code，居民扫码支付", _NEW),
    Method("alipay.trade.page.pay", "payment", trade_page_pay,
           "电脑网站支付：由浏览器打开，网关验签后跳转到收银台",
           {**_NEW, "return_url": "公共参数：支付完成后浏览器返回的地址"}, browser=True),
    Method("alipay.trade.wap.pay", "payment", trade_page_pay,
           "手机网站支付：由浏览器打开，网关验签后跳转到收银台",
           {**_NEW, "return_url": "公共参数：支付完成后浏览器返回的地址"}, browser=True),
    Method("alipay.trade.query", "payment", trade_query, "查询交易状态与金额", _REF,
           writes=False),
    Method("alipay.trade.refund", "payment", trade_refund,
           "退款（可多次部分退款，按 out_request_no 幂等，重复请求 fund_change=N）",
           {**_REF, "refund_amount": "退款金额，单位元，不超过未退金额",
            "out_request_no": "退款请求号，部分退款必填，同一交易内唯一",
            "refund_reason": "退款原因"}),
    Method("alipay.trade.fastpay.refund.query", "payment", refund_query, "查询一笔退款",
           {**_REF, "out_request_no": "退款请求号（未给出时为商户订单号）"}, writes=False),
    Method("alipay.trade.close", "payment", trade_close, "关闭未付款的交易", _REF),
    Method("alipay.trade.cancel", "payment", trade_cancel,
           "撤销交易：未付款则关闭，已付款（24 小时内、未退款）则全额退款", _REF),
    Method("alipay.data.dataservice.bill.downloadurl.query", "payment", bill_download_url,
           "对账单下载地址（30 秒内有效）：商户某日或某月的交易与退款明细（CSV）",
           {"bill_type": "trade（或 signcustomer，同一份明细）",
            "bill_date": "yyyy-MM-dd（日账单，次日起可下载）或 yyyy-MM（月账单，次月起）"},
           writes=False),
)
