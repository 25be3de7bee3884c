"""`alipay.trade.pay` (当面付条码支付): the merchant's till scans the resident's payment code
(`scene=bar_code`, `auth_code`) and creates and pays the trade in one call.

Everything the call writes runs in the gateway's savepoint: a refused payment leaves no trade,
and the code works again. A repeat with the same `out_trade_no` never charges twice: the paid
trade answers `ACQ.TRADE_HAS_SUCCESS`, as Alipay's does (the till then queries it)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from townsquare.core.clock import clock
from townsquare.core.errors import PermissionDenied, TownsquareError
from townsquare.core.i18n import catalogue
from townsquare.gateway.methods import CallContext, Method
from townsquare.gateway.protocol.errors import GatewayFailure, business
from townsquare.payments.trades import gateway_methods as trade_methods
from townsquare.payments.trades import service as trades
from townsquare.payments.trades.errors import (
    InvalidParameter,
    TradeClosed,
    TradeError,
    TradeNotFound,
    TradePaid,
)
from townsquare.payments.trades.models import TradeStatus
from townsquare.payments.trades.notices import beijing
from townsquare.payments.wallet import limits, paying, payment_codes

SCENES = ("bar_code", "security_code")
PRODUCT = "FACE_TO_FACE_PAYMENT"
_OUT_NO = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


def _text(biz: Mapping[str, Any], name: str, most: int, *, required: bool = False) -> str:
    value = biz.get(name, "")
    text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) \
        else ""
    if required and not text:
        raise InvalidParameter(f"参数无效：缺少 {name}")
    if len(text) > most:
        raise InvalidParameter(f"参数无效：{name} 超过 {most} 个字符")
    return text


def _zh(error: TownsquareError) -> str:
    zh = catalogue("zh_CN")
    return error.render(lambda message: zh.get(message, message))


def _refusal(error: TownsquareError) -> GatewayFailure:
    """Our refusal as Alipay's sub_code for the same situation."""
    if isinstance(error, payment_codes.CodeInvalid):
        return business("ACQ.PAYMENT_AUTH_CODE_INVALID",
                        "支付失败，获取顾客账户信息失败，请顾客刷新付款码后重新收款。" + _zh(error))
    if isinstance(error, paying.WalletBalanceNotEnough):
        return business("ACQ.BUYER_BALANCE_NOT_ENOUGH", "买家余额不足")
    if isinstance(error, limits.LimitExceeded):
        if error.params.get("per") == "day":
            return business("ACQ.BUYER_PAYMENT_AMOUNT_DAY_LIMIT_ERROR", _zh(error))
        return business("ACQ.PAYMENT_FAIL", _zh(error))
    if isinstance(error, limits.AlreadyPaid):
        return business("ACQ.TRADE_HAS_SUCCESS", "交易已被支付")
    if isinstance(error, PermissionDenied):
        return business("ACQ.TRADE_BUYER_NOT_MATCH", "交易买家不匹配")
    if isinstance(error, TradeError):
        return business(error.sub_code, _zh(error))
    return business("ACQ.PAYMENT_FAIL", _zh(error))


def _refuse_repeat(context: CallContext, out_trade_no: str) -> None:
    """A paid or closed trade under this out_trade_no answers as such before the code (used by
    the first attempt) is even looked at."""
    try:
        trade = trades.find(context.db, app=context.app, out_trade_no=out_trade_no)
    except TradeNotFound:
        return
    if trade.status is TradeStatus.TRADE_CLOSED:
        raise TradeClosed("The trade has been closed.", trade_no=trade.trade_no)
    if trade.status is not TradeStatus.WAIT_BUYER_PAY:
        raise TradePaid("The trade has already been paid.", trade_no=trade.trade_no)


def trade_pay(context: CallContext) -> Mapping[str, Any]:
    biz = context.biz
    try:
        scene = _text(biz, "scene", 32) or "bar_code"
        if scene not in SCENES:
            raise InvalidParameter("参数无效：scene 只能是 bar_code 或 security_code")
        product = _text(biz, "product_code", 32) or PRODUCT
        if product != PRODUCT:
            raise InvalidParameter(f"参数无效：product_code 只能是 {PRODUCT}")
        out_trade_no = _text(biz, "out_trade_no", 64, required=True)
        if not _OUT_NO.match(out_trade_no):
            raise InvalidParameter("参数无效：out_trade_no 只能含字母、数字、下划线和连字符")
        total_fen = trade_methods.amount_fen(biz.get("total_amount"), "total_amount")
        subject = _text(biz, "subject", 256, required=True)
        body = _text(biz, "body", 128)
        auth_code = _text(biz, "auth_code", 64, required=True)
        minutes = trade_methods.timeout_minutes(biz, clock.now())
        _refuse_repeat(context, out_trade_no)  # a till's retry after a timeout: no second charge
        payer = payment_codes.resolve(context.db, settings=context.settings,
                                      auth_code=auth_code)
        trade = trades.create(
            context.db, app=context.app, merchant_id=context.app.miniapp.merchant_id,
            miniapp_id=context.app.miniapp_id, out_trade_no=out_trade_no, total_fen=total_fen,
            subject=subject, body=body, product_code=PRODUCT, timeout_minutes=minutes,
            notify_url=context.call.notify_url, return_url="", buyer_user_id=payer.user.id,
            content_digest=trades.digest(total_fen=total_fen, subject=subject, body=body))
        trade = paying.pay_trade(context.db, settings=context.settings, actor=payer.user,
                                 trade_no=trade.trade_no, method=paying.WALLET,
                                 payment_pin=None, by_code=True)
    except TownsquareError as error:
        raise _refusal(error) from None
    answer = dict(trade_methods.answer_trade(context, trade))
    for extra in ("trade_status", "subject", "body", "send_pay_date"):
        answer.pop(extra, None)
    answer["gmt_payment"] = beijing(trade.paid_at)
    answer["trans_currency"] = answer["settle_currency"] = "CNY"
    return answer


METHODS = (
    Method("alipay.trade.pay", "payment", trade_pay,
           "当面付条码支付：商家扫居民的付款码（auth_code），一次调用创建并支付交易",
           {"out_trade_no": "商户订单号，同一应用内唯一（重复请求不会重复扣款）",
            "scene": "bar_code（条码）或 security_code，默认 bar_code",
            "auth_code": "居民付款码（18 位数字，28 开头），一码一用，约 90 秒内有效",
            "total_amount": "订单总金额，单位元，最多两位小数", "subject": "订单标题",
            "body": "订单描述", "product_code": "FACE_TO_FACE_PAYMENT",
            "timeout_express": "最晚付款时间，默认 2h"}),
)
