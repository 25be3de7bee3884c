"""Why a trade operation is refused: each error has a stable `code` for callers (the cashier,
the console, ordering later) and the `sub_code` Alipay answers for the same refusal, which the
gateway methods put on the wire (docs/payments.md lists the sources)."""

from __future__ import annotations

from townsquare.core.errors import Conflict, NotFound, TownsquareError, ValidationFailed


class TradeError(TownsquareError):
    """A refusal by the trade rules; `sub_code` is Alipay's name for it."""

    sub_code = "ACQ.SYSTEM_ERROR"


class InvalidParameter(TradeError, ValidationFailed):
    code = "invalid_parameter"
    sub_code = "ACQ.INVALID_PARAMETER"


class TradeNotFound(TradeError, NotFound):
    code = "trade_not_exist"
    sub_code = "ACQ.TRADE_NOT_EXIST"


class TradePaid(TradeError, Conflict):
    code = "trade_paid"
    sub_code = "ACQ.TRADE_HAS_SUCCESS"


class TradeClosed(TradeError, Conflict):
    code = "trade_closed"
    sub_code = "ACQ.TRADE_HAS_CLOSE"


class TradeFinished(TradeError, Conflict):
    code = "trade_finished"
    sub_code = "ACQ.TRADE_HAS_FINISHED"


class TradeStatusError(TradeError, Conflict):
    code = "trade_status_error"
    sub_code = "ACQ.TRADE_STATUS_ERROR"


class ContextInconsistent(TradeError, Conflict):
    code = "context_inconsistent"
    sub_code = "ACQ.CONTEXT_INCONSISTENT"


class RefundExceedsPaid(TradeError, Conflict):
    code = "refund_exceeds_paid"
    sub_code = "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"


class RefundFeeError(TradeError, Conflict):
    code = "refund_fee_error"
    sub_code = "ACQ.REASON_TRADE_REFUND_FEE_ERR"


class SellerBalanceNotEnough(TradeError, Conflict):
    code = "seller_balance_not_enough"
    sub_code = "ACQ.SELLER_BALANCE_NOT_ENOUGH"


class BuyerBalanceNotEnough(TradeError, Conflict):
    code = "buyer_balance_not_enough"
    sub_code = "ACQ.BUYER_BALANCE_NOT_ENOUGH"


class TradeFrozen(TradeError, Conflict):
    code = "trade_frozen"
    sub_code = "ACQ.REASON_TRADE_BEEN_FREEZEN"


class CancelTimeOut(TradeError, Conflict):
    code = "cancel_time_out"
    sub_code = "ACQ.TRADE_CANCEL_TIME_OUT"


class RefundBankFailed(TradeError, Conflict):
    """The card's bank refused or did not answer the refund: nothing moved; retry the same
    out_request_no (Alipay answers ACQ.SYSTEM_ERROR and asks for a retry with the same one)."""

    code = "refund_bank_failed"
    sub_code = "ACQ.SYSTEM_ERROR"


class SettleAmountExceeded(TradeError, Conflict):
    """A settle would send out more than is left of the merchant's part of the trade."""

    code = "settle_amount_exceeded"
    sub_code = "ACQ.ALLOC_AMOUNT_VALIDATE_ERROR"


class ReceiverNotBound(TradeError, Conflict):
    """A settle names a receiver the merchant has not bound (or has unbound)."""

    code = "royalty_receiver_not_bound"
    sub_code = "ACQ.TRADE_SETTLE_ERROR"


class ReceiverNotExist(TradeError, NotFound):
    """A bind names an account that is no ISV authorized by the merchant nor a community."""

    code = "royalty_receiver_not_exist"
    sub_code = "ACQ.INVALID_PARAMETER"
