"""Every gateway method payments offers, for the application factory to collect: each with its
declared parameters (Alipay's names and lengths; the gateway checks them before the handler
runs), an example call and answer, and the ACQ.* refusals it can answer. The handlers, with
the trade rules a schema cannot say, are in trades/ and wallet/ `gateway_methods.py`."""

from __future__ import annotations

from townsquare.core.i18n import N_
from townsquare.gateway.app_auth import MINI_APP_FIELD
from townsquare.gateway.methods import Method
from townsquare.gateway.schema import Example, Field, MethodError
from townsquare.payments.trades import gateway_methods as trades
from townsquare.payments.trades import royalty_methods as royalty
from townsquare.payments.wallet import gateway_methods as wallet

# --- parameters ------------------------------------------------------------------------------

OUT_TRADE_NO = Field(
    "out_trade_no", "string",
    N_("The merchant's order number: letters, digits, underscores and hyphens, unique within "
       "the app (a retry with the same content answers the same trade)."),
    required=True, max_length=64)
# A malformed amount is a business refusal in Alipay's trade methods, not a 40002.
AMOUNT_INVALID = ("40004", "ACQ.INVALID_PARAMETER")
TOTAL_AMOUNT = Field("total_amount", "amount",
                     N_("The order's total in yuan, at most two decimals, from 0.01 to "
                        "100000000.00."), required=True, when_invalid=AMOUNT_INVALID)
SUBJECT = Field("subject", "string", N_("The order's title, shown to the resident."),
                required=True, max_length=256)
BODY = Field("body", "string", N_("The order's description."), max_length=128, default="")
TIMEOUT_EXPRESS = Field(
    "timeout_express", "string",
    N_("How long the resident may take to pay: 1m to 15d (m, h, d), or 1c for the end of "
       "today; 2h when left out."),
    max_length=6, default="")
TIME_EXPIRE = Field("time_expire", "string",
                    N_("The latest time to pay, yyyy-MM-dd HH:mm:ss in Beijing time; wins over "
                       "timeout_express."), max_length=32, default="")
NOTIFY_URL = Field("notify_url", "string",
                   N_("Common parameter: the http(s) address the trade's notifications are "
                      "posted to."), max_length=512, default="", source="common")
RETURN_URL = Field("return_url", "string",
                   N_("Common parameter: the http(s) address the browser returns to after "
                      "paying."), max_length=512, default="", source="common")
TRADE_NO = Field("trade_no", "string",
                 N_("Townsquare's trade number; give it or out_trade_no (with both, trade_no "
                    "is used)."), max_length=64, default="")
OUT_TRADE_NO_REF = Field("out_trade_no", "string",
                         N_("The merchant's order number; give it or trade_no."),
                         max_length=64, default="")
REF = (TRADE_NO, OUT_TRADE_NO_REF)


def _product(description: str) -> Field:
    return Field("product_code", "string", description, max_length=64, default="")


def _new_trade(product: Field, *browser: Field) -> tuple[Field, ...]:
    return (OUT_TRADE_NO, TOTAL_AMOUNT, SUBJECT, BODY, product, TIMEOUT_EXPRESS, TIME_EXPIRE,
            NOTIFY_URL, *browser, MINI_APP_FIELD)


# --- what each method can refuse -----------------------------------------------------------

NEW_TRADE_ERRORS = (
    MethodError("40004", "ACQ.INVALID_PARAMETER",
                N_("The amount is outside 0.01 to 100000000.00, out_trade_no has characters "
                   "other than letters, digits, _ and -, or product_code, the timeout or a URL "
                   "is not one the method takes.")),
    MethodError("40004", "ACQ.CONTEXT_INCONSISTENT",
                N_("A trade with this out_trade_no exists with another amount, subject or "
                   "body.")),
    MethodError("40004", "ACQ.TRADE_HAS_SUCCESS",
                N_("The trade with this out_trade_no has been paid already.")),
    MethodError("40004", "ACQ.TRADE_HAS_CLOSE",
                N_("The trade with this out_trade_no is closed or past its timeout.")),
)
REF_INVALID = MethodError("40004", "ACQ.INVALID_PARAMETER",
                          N_("Neither trade_no nor out_trade_no was given, or out_trade_no has "
                             "characters other than letters, digits, _ and -."))
NOT_EXIST = MethodError("40004", "ACQ.TRADE_NOT_EXIST",
                        N_("The app has no such trade for the merchant the call acts for."))
FINISHED = MethodError("40004", "ACQ.TRADE_HAS_FINISHED",
                       N_("The trade's refund period (90 days) is over."))
FROZEN = MethodError("40004", "ACQ.REASON_TRADE_BEEN_FREEZEN",
                     N_("An operator froze the trade over a dispute: no refund or cancel until "
                        "it is released."))
SELLER_FUNDS = MethodError("40004", "ACQ.SELLER_BALANCE_NOT_ENOUGH",
                           N_("The merchant's pending and settled funds no longer cover the "
                              "refund."))
BANK = MethodError("40004", "ACQ.SYSTEM_ERROR",
                   N_("The card's bank did not take the refund now; retry with the same "
                      "out_request_no."))
REFUND_ERRORS = (
    MethodError("40004", "ACQ.INVALID_PARAMETER",
                N_("Neither trade_no nor out_trade_no was given, refund_amount is outside 0.01 "
                   "to 100000000.00, or out_request_no was used before for another amount.")),
    NOT_EXIST,
    MethodError("40004", "ACQ.TRADE_STATUS_ERROR", N_("The trade is still waiting for payment.")),
    MethodError("40004", "ACQ.TRADE_HAS_CLOSE",
                N_("The trade is closed: refunded whole, or closed before it was paid.")),
    FINISHED,
    MethodError("40004", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
                N_("refund_amount is more than what is left unrefunded of the payment.")),
    FROZEN, SELLER_FUNDS, BANK,
)
CANCEL_ERRORS = (
    REF_INVALID, NOT_EXIST, FROZEN, FINISHED,
    MethodError("40004", "ACQ.REASON_TRADE_REFUND_FEE_ERR",
                N_("The trade is already partly refunded: refund the rest instead.")),
    MethodError("40004", "ACQ.TRADE_CANCEL_TIME_OUT",
                N_("The trade was paid more than 24 hours ago: refund it instead.")),
    SELLER_FUNDS, BANK,
)
PAY_ERRORS = (
    MethodError("40004", "ACQ.INVALID_PARAMETER",
                N_("scene or product_code is not one the method takes, the amount is outside "
                   "0.01 to 100000000.00, or out_trade_no or the timeout is malformed.")),
    MethodError("40004", "ACQ.PAYMENT_AUTH_CODE_INVALID",
                N_("The payment code is forged, mistyped, unknown, expired or used: ask the "
                   "resident to refresh it.")),
    MethodError("40004", "ACQ.BUYER_BALANCE_NOT_ENOUGH",
                N_("The resident's wallet balance is below the amount.")),
    MethodError("40004", "ACQ.BUYER_PAYMENT_AMOUNT_DAY_LIMIT_ERROR",
                N_("The payment would pass the resident's daily payment limit.")),
    MethodError("40004", "ACQ.PAYMENT_FAIL",
                N_("The payment is over the resident's limit per payment, or could not be "
                   "made.")),
    MethodError("40004", "ACQ.TRADE_HAS_SUCCESS",
                N_("This out_trade_no has been paid already: query the trade instead of paying "
                   "again.")),
    NEW_TRADE_ERRORS[3], NEW_TRADE_ERRORS[1],
    MethodError("40004", "ACQ.TRADE_BUYER_NOT_MATCH",
                N_("The out_trade_no is a trade waiting for another resident's payment.")),
)

ROYALTY_REQUEST_NO = Field(
    "out_request_no", "string",
    N_("The request's number, unique within the merchant: a repeat with the same content "
       "answers again and changes nothing."), required=True, max_length=64)
RECEIVER_LIST = Field(
    "receiver_list", "array",
    N_("The receivers, 1 to 20: each with type userId and account, the public id of a service "
       "provider the merchant authorizes (isv_…) or of a community (com_…); name and memo are "
       "optional."), required=True, minimum=1, max_length=20)
RECEIVER_ERRORS = (
    MethodError("40004", "ACQ.INVALID_PARAMETER",
                N_("A receiver's type is not userId, an account is empty or named twice, the "
                   "account is neither an authorized service provider nor a community, or "
                   "out_request_no was used before with other receivers.")),
)
SETTLE_ERRORS = (
    MethodError("40004", "ACQ.INVALID_PARAMETER",
                N_("royalty_parameters is empty or malformed (an amount, a type other than "
                   "userId, amount_percentage, a trans_out other than the trade's merchant), or "
                   "out_request_no was used before for other parts.")),
    NOT_EXIST,
    MethodError("40004", "ACQ.TRADE_STATUS_ERROR", N_("The trade is still waiting for payment.")),
    MethodError("40004", "ACQ.TRADE_HAS_CLOSE",
                N_("The trade is closed: refunded whole, or closed before it was paid.")),
    FROZEN,
    MethodError("40004", "ACQ.TRADE_SETTLE_ERROR",
                N_("A trans_in is not bound to the merchant (alipay.trade.royalty.relation.bind)"
                   " or was unbound.")),
    MethodError("40004", "ACQ.ALLOC_AMOUNT_VALIDATE_ERROR",
                N_("The parts add up to more than is left of the merchant's part of the trade "
                   "(its share after fees, less refunds and earlier settles).")),
    SELLER_FUNDS,
)

# --- examples --------------------------------------------------------------------------------

TRADE_NO_EXAMPLE = "2026120722001438590271640518"
ISV_EXAMPLE = "isv_7h3k2m9p4q8rx2wz"
NOTIFY = "https://shop.example.com/alipay/notify"
BUYER = {"buyer_logon_id": "138****5678", "buyer_user_id": "ou_6c1f0a9e3b7d4c2a8f5e1d0b9a7c3e2f",
         "buyer_open_id": "ou_6c1f0a9e3b7d4c2a8f5e1d0b9a7c3e2f"}
PAID = {"total_amount": "12.50", "receipt_amount": "12.50", "buyer_pay_amount": "12.50",
        "invoice_amount": "12.50", "point_amount": "0.00"}
FUND_BILLS = [{"fund_channel": "ALIPAYACCOUNT", "amount": "12.50", "real_amount": "12.50"}]
ORDER = {"out_trade_no": "A17-20261207-0001", "total_amount": "12.50",
         "subject": "鲜肉小笼包 2 笼"}
CREATED = {"trade_no": TRADE_NO_EXAMPLE, "out_trade_no": ORDER["out_trade_no"]}


def _browser_example(product: str) -> Example:
    return Example(
        {"out_trade_no": "WEB-20261207-0007", "total_amount": "9.90", "subject": "洗车",
         "product_code": product, "notify_url": NOTIFY,
         "return_url": "https://shop.example.com/paid"},
        {"trade_no": TRADE_NO_EXAMPLE, "out_trade_no": "WEB-20261207-0007",
         "redirect": f"/cashier/{TRADE_NO_EXAMPLE}"})


METHODS: tuple[Method, ...] = (
    Method("alipay.trade.create", "payment", trades.trade_create,
           N_("Create a trade waiting for payment and answer its trade_no, which the mini-app "
              "hands to the platform's cashier."),
           _new_trade(_product(N_("JSAPI_PAY (the default) or FACE_TO_FACE_PAYMENT."))),
           Example({**ORDER, "product_code": "JSAPI_PAY", "timeout_express": "30m",
                    "notify_url": NOTIFY}, CREATED),
           NEW_TRADE_ERRORS),
    Method("alipay.trade.precreate", "payment", trades.trade_precreate,
           N_("Create a trade and answer qr_code, the cashier's address a resident scans to "
              "pay."),
           _new_trade(_product(N_("FACE_TO_FACE_PAYMENT (the default) or QR_CODE_OFFLINE."))),
           Example({"out_trade_no": "QR-20261207-0042", "total_amount": "36.00",
                    "subject": "洗衣 3 件", "timeout_express": "15m", "notify_url": NOTIFY},
                   {"out_trade_no": "QR-20261207-0042",
                    "qr_code": f"https://townsquare.example/cashier/{TRADE_NO_EXAMPLE}"}),
           NEW_TRADE_ERRORS),
    Method("alipay.trade.page.pay", "payment", trades.trade_page_pay,
           N_("Desktop website payment: the resident's browser opens the signed call and is sent "
              "on to the cashier (HTTP 302 to redirect); a refusal shows its codes on an error "
              "page."),
           _new_trade(_product(N_("FAST_INSTANT_TRADE_PAY (the default).")), RETURN_URL),
           _browser_example("FAST_INSTANT_TRADE_PAY"), NEW_TRADE_ERRORS, browser=True),
    Method("alipay.trade.wap.pay", "payment", trades.trade_page_pay,
           N_("Mobile website payment: the resident's browser opens the signed call and is sent "
              "on to the cashier (HTTP 302 to redirect); a refusal shows its codes on an error "
              "page."),
           _new_trade(_product(N_("QUICK_WAP_WAY (the default) or QUICK_WAP_PAY.")),
                      RETURN_URL),
           _browser_example("QUICK_WAP_WAY"), NEW_TRADE_ERRORS, browser=True),
    Method("alipay.trade.query", "payment", trades.trade_query,
           N_("A trade's state and amounts, and who paid it as the mini-app knows them."), REF,
           Example({"out_trade_no": ORDER["out_trade_no"]},
                   {**CREATED, **BUYER, "trade_status": "TRADE_SUCCESS", **PAID,
                    "send_pay_date": "2026-12-07 14:05:09", "subject": ORDER["subject"],
                    "fund_bill_list": FUND_BILLS}),
           (REF_INVALID, NOT_EXIST), writes=False),
    Method("alipay.trade.refund", "payment", trades.trade_refund,
           N_("Refund a paid trade in part or whole, to where the money came from; a repeat "
              "of an out_request_no answers fund_change=N and moves nothing."),
           (*REF,
            Field("refund_amount", "amount",
                  N_("The amount to refund in yuan, at most what is left unrefunded."),
                  required=True, when_invalid=AMOUNT_INVALID),
            Field("out_request_no", "string",
                  N_("The refund's number, unique within the trade; needed for more than one "
                     "refund (left out, the trade's own number is used)."),
                  max_length=64, default=""),
            Field("refund_reason", "string", N_("Why the money is given back."),
                  max_length=256, default="")),
           Example({"out_trade_no": ORDER["out_trade_no"], "refund_amount": "5.00",
                    "out_request_no": "RF-20261207-0001", "refund_reason": "少送一笼"},
                   {**CREATED, "buyer_logon_id": BUYER["buyer_logon_id"],
                    "buyer_open_id": BUYER["buyer_open_id"], "fund_change": "Y",
                    "refund_fee": "5.00", "send_back_fee": "5.00",
                    "gmt_refund_pay": "2026-12-07 15:20:41"}),
           REFUND_ERRORS),
    Method("alipay.trade.fastpay.refund.query", "payment", trades.refund_query,
           N_("One refund of a trade, by its out_request_no; an answer without refund fields "
              "means there is no such refund."),
           (*REF,
            Field("out_request_no", "string",
                  N_("The refund's number (left out: the out_trade_no or trade_no given, as a "
                     "refund made without one)."), max_length=64, default="")),
           Example({"out_trade_no": ORDER["out_trade_no"], "out_request_no": "RF-20261207-0001"},
                   {**CREATED, "out_request_no": "RF-20261207-0001", "total_amount": "12.50",
                    "refund_amount": "5.00", "refund_status": "REFUND_SUCCESS",
                    "gmt_refund_pay": "2026-12-07 15:20:41", "refund_reason": "少送一笼",
                    "send_back_fee": "5.00"}),
           (REF_INVALID, NOT_EXIST), writes=False),
    Method("alipay.trade.close", "payment", trades.trade_close,
           N_("Close a trade that is waiting for payment."), REF,
           Example({"out_trade_no": "QR-20261207-0042"},
                   {"trade_no": TRADE_NO_EXAMPLE, "out_trade_no": "QR-20261207-0042"}),
           (REF_INVALID, NOT_EXIST,
            MethodError("40004", "ACQ.TRADE_STATUS_ERROR",
                        N_("The trade is no longer waiting for payment (paid or closed).")))),
    Method("alipay.trade.cancel", "payment", trades.trade_cancel,
           N_("Cancel a trade whatever became of it: an unpaid one is closed, one paid in the "
              "last 24 hours and not refunded is refunded whole; a repeat answers the same "
              "action."), REF,
           Example({"out_trade_no": "POS-20261207-0108"},
                   {"trade_no": TRADE_NO_EXAMPLE, "out_trade_no": "POS-20261207-0108",
                    "retry_flag": "N", "action": "refund",
                    "gmt_refund_pay": "2026-12-07 14:06:02"}),
           CANCEL_ERRORS),
    Method("alipay.data.dataservice.bill.downloadurl.query", "payment",
           trades.bill_download_url,
           N_("A link, valid for 30 seconds, to the merchant's statement of a day or month that "
              "is over: its payments and refunds as CSV."),
           (Field("bill_type", "string", N_("trade, or signcustomer (the same file)."),
                  required=True, choices=("trade", "signcustomer")),
            Field("bill_date", "string",
                  N_("yyyy-MM-dd for a day's statement (from the next day on), or yyyy-MM for "
                     "a month's (from the next month on)."), required=True, max_length=15)),
           Example({"bill_type": "trade", "bill_date": "2026-12-06"},
                   {"bill_download_url": "https://townsquare.example/payments/bills/"
                    "MTIuMjAyNi0xMi0wNi4xNzk2NjIzNDMx.P0TLcqaPUzOtuC82-BT0VFqpXj4viB7PDhHmHv8T2W8"
                    ".csv"}),
           (MethodError("40004", "isp.bill_not_exist",
                        N_("The day or month is not over yet: a day's statement is ready the "
                           "next day, a month's the next month.")),
            MethodError("40002", "isv.invalid-parameter",
                        N_("bill_date is neither yyyy-MM-dd nor yyyy-MM, or a parameter has the "
                           "wrong type or value."))),
           writes=False),
    Method("alipay.trade.pay", "payment", wallet.trade_pay,
           N_("Face-to-face payment: the till scans the resident's payment code (auth_code) and "
              "one call creates and pays the trade."),
           (OUT_TRADE_NO,
            Field("scene", "string", N_("bar_code (the default) or security_code."),
                  max_length=32, default=""),
            Field("auth_code", "string",
                  N_("The resident's payment code as the till scanned it (18 digits starting "
                     "with 28): single use, valid for about 90 seconds."),
                  required=True, max_length=32),
            TOTAL_AMOUNT, SUBJECT, BODY, _product(N_("FACE_TO_FACE_PAYMENT (the default).")),
            TIMEOUT_EXPRESS, TIME_EXPIRE, NOTIFY_URL, MINI_APP_FIELD),
           Example({"out_trade_no": "POS-20261207-0108", "scene": "bar_code",
                    "auth_code": "281035729461038257", "total_amount": "12.50",
                    "subject": "收银台 2 号", "product_code": "FACE_TO_FACE_PAYMENT",
                    "notify_url": NOTIFY},
                   {"trade_no": TRADE_NO_EXAMPLE, "out_trade_no": "POS-20261207-0108",
                    **BUYER, **PAID, "fund_bill_list": FUND_BILLS,
                    "gmt_payment": "2026-12-07 14:03:22", "trans_currency": "CNY",
                    "settle_currency": "CNY"}),
           PAY_ERRORS),
    Method("alipay.trade.royalty.relation.bind", "payment", royalty.relation_bind,
           N_("Bind royalty receivers to the merchant: the accounts alipay.trade.order.settle "
              "may send part of a trade to."),
           (RECEIVER_LIST, ROYALTY_REQUEST_NO),
           Example({"receiver_list": [{"type": "userId", "account": ISV_EXAMPLE,
                                       "name": "云帆科技", "memo": "代运营分成"}],
                    "out_request_no": "BIND-20261207-01"}, {"result_code": "SUCCESS"}),
           RECEIVER_ERRORS),
    Method("alipay.trade.royalty.relation.unbind", "payment", royalty.relation_unbind,
           N_("Unbind royalty receivers: no settle may send money to them any more."),
           (RECEIVER_LIST, ROYALTY_REQUEST_NO),
           Example({"receiver_list": [{"type": "userId", "account": ISV_EXAMPLE}],
                    "out_request_no": "UNBIND-20261207-01"}, {"result_code": "SUCCESS"}),
           (*RECEIVER_ERRORS,
            MethodError("40004", "ACQ.TRADE_SETTLE_ERROR",
                        N_("A receiver is not bound to the merchant.")))),
    Method("alipay.trade.royalty.relation.batchquery", "payment", royalty.relation_batchquery,
           N_("The merchant's bound royalty receivers, a page at a time, oldest binding "
              "first."),
           (Field("page_num", "integer", N_("The page, from 1."), minimum=1, maximum=100_000,
                  default=1),
            Field("page_size", "integer", N_("Receivers per page, 1 to 100 (20 when left out)."),
                  minimum=1, maximum=100, default=20),
            Field("out_request_no", "string", N_("The query's own number."), required=True,
                  max_length=64)),
           Example({"page_num": 1, "page_size": 20, "out_request_no": "Q-20261207-01"},
                   {"result_code": "SUCCESS",
                    "receiver_list": [{"type": "userId", "account": ISV_EXAMPLE,
                                       "name": "云帆科技", "memo": "代运营分成"}],
                    "total_page_num": 1, "total_record_num": 1, "current_page_num": 1,
                    "current_page_size": 1}),
           (), writes=False),
    Method("alipay.trade.order.settle", "payment", royalty.order_settle,
           N_("Send part of a paid trade's money to bound receivers (profit sharing): at most "
              "what is left of the merchant's part; a repeat of out_request_no with the same "
              "parts answers the same settle_no and moves nothing."),
           (ROYALTY_REQUEST_NO,
            Field("trade_no", "string", N_("The paid trade's trade_no."), required=True,
                  max_length=64),
            Field("royalty_parameters", "array",
                  N_("The parts, 1 to 20: each with trans_in (a bound receiver's public id), "
                     "trans_in_type userId, amount in yuan, and optionally desc; royalty_type "
                     "transfer; trans_out, if given, the trade's merchant."),
                  required=True, minimum=1, max_length=20),
            Field("operator_id", "string", N_("Who asked for the settle (kept with it)."),
                  max_length=64, default=""),
            Field("extend_params", "object",
                  N_("Accepted and ignored: royalty_finish (money is never held back for "
                     "royalties here).")),
            Field("royalty_mode", "string", N_("sync (the default) or async: both settle at "
                                               "once."), choices=("sync", "async"), default="")),
           Example({"out_request_no": "SETTLE-20261207-01", "trade_no": TRADE_NO_EXAMPLE,
                    "royalty_parameters": [{"royalty_type": "transfer", "trans_in_type": "userId",
                                            "trans_in": ISV_EXAMPLE, "amount": "1.20",
                                            "desc": "代运营分成"}]},
                   {"trade_no": TRADE_NO_EXAMPLE, "settle_no": "2026120722001450127788310042"}),
           SETTLE_ERRORS),
    Method("alipay.trade.order.settle.query", "payment", royalty.order_settle_query,
           N_("One settle and its parts, by settle_no or by trade_no with out_request_no."),
           (Field("settle_no", "string", N_("The settle_no alipay.trade.order.settle answered."),
                  max_length=64, default=""),
            Field("out_request_no", "string", N_("The settle's out_request_no (with trade_no)."),
                  max_length=64, default=""),
            Field("trade_no", "string", N_("The trade's trade_no (with out_request_no)."),
                  max_length=64, default="")),
           Example({"settle_no": "2026120722001450127788310042"},
                   {"out_request_no": "SETTLE-20261207-01", "operation_dt": "2026-12-07 16:02:11",
                    "royalty_detail_list": [{
                        "operation_type": "transfer", "execute_dt": "2026-12-07 16:02:11",
                        "trans_out": "mer_4k2m9q7x1c3vb8nd", "trans_out_type": "userId",
                        "trans_in": ISV_EXAMPLE, "trans_in_type": "userId", "amount": "1.20",
                        "state": "SUCCESS", "detail_id": "2026120722001450127788310042001"}]}),
           (MethodError("40004", "ACQ.INVALID_PARAMETER",
                        N_("Neither settle_no nor both trade_no and out_request_no were given.")),
            MethodError("40004", "ACQ.TRADE_NOT_EXIST",
                        N_("No such trade or settle for the merchant the call acts for."))),
           writes=False),
)
