"""`alipay.trade.pay` (当面付条码支付): the merchant's till scans the resident's payment code
(`scene=bar_code`, `auth_code`) and creates and pays the trade in one call.

Everything the call writes runs in the gateway's savepoint: a refused payment leaves no trade,
and the code works again. A repeat with the same `out_trade_no` never charges twice: the paid
trade answers `ACQ.TRADE_HAS_SUCCESS`, as Alipay's does (the till then queries it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from townsquare.core.clock import clock
from townsquare.core.errors import PermissionDenied, TownsquareError
from townsquare.core.i18n import catalogue
from townsquare.gateway.methods import CallContext
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
    """The declared parameters (payments/gateway_methods.py) are checked; the scene, product and
    amount rules answer ACQ.INVALID_PARAMETER as Alipay's do."""
    values = context.values
    miniapp = context.miniapp()  # an ISV app names one of its merchant's: biz mini_app_id
    try:
        scene = trade_methods.text_param(values, "scene") or "bar_code"
        if scene not in SCENES:
            raise InvalidParameter("参数无效：scene 只能是 bar_code 或 security_code")
        product = trade_methods.text_param(values, "product_code") or PRODUCT
        if product != PRODUCT:
            raise InvalidParameter(f"参数无效：product_code 只能是 {PRODUCT}")
        out_trade_no = trade_methods.out_no_param(values, "out_trade_no", required=True)
        total_fen = trade_methods.amount_fen(values.get("total_amount"), "total_amount")
        subject = trade_methods.text_param(values, "subject", required=True)
        body = trade_methods.text_param(values, "body")
        auth_code = trade_methods.text_param(values, "auth_code", required=True)
        minutes = trade_methods.timeout_minutes(values, clock.now())
        _refuse_repeat(context, out_trade_no)  # a till's retry after a timeout: no second charge
        payer = payment_codes.resolve(context.db, settings=context.settings,
                                      auth_code=auth_code)
        trade = trades.create(
            context.db, app=context.app, merchant_id=miniapp.merchant_id, miniapp_id=miniapp.id,
            out_trade_no=out_trade_no, total_fen=total_fen, subject=subject, body=body,
            product_code=PRODUCT, timeout_minutes=minutes,
            notify_url=trade_methods.text_param(values, "notify_url"), return_url="",
            buyer_user_id=payer.user.id,
            content_digest=trades.digest(total_fen=total_fen, subject=subject, body=body))
        trade = paying.pay_trade(context.db, settings=context.settings, actor=payer.user,
                                 trade_no=trade.trade_no,
                                 method=paying.method_for_code(context.db, actor=payer.user,
                                                               amount_fen=total_fen),
                                 payment_pin=None, by_code=True)
    except TownsquareError as error:
        raise _refusal(error) from None
    answer = dict(trade_methods.answer_trade(context, trade))
    for extra in ("trade_status", "subject", "body", "send_pay_date"):
        answer.pop(extra, None)
    answer["gmt_payment"] = beijing(trade.paid_at)
    answer["trans_currency"] = answer["settle_currency"] = "CNY"
    return answer
