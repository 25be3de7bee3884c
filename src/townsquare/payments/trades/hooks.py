"""What payments announce about trades to the floors above (core/hooks.py): ordering confirms or
cancels its orders when their trades are paid, refunded, closed or time out, in the transaction
of the change, without payments importing ordering."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from townsquare.core.hooks import Hook
from townsquare.payments.trades.models import Refund, Trade

TradeEvent = Literal["paid", "refunded", "closed", "timed_out", "cancelled", "finished"]


@dataclass(frozen=True)
class TradeChanged:
    """A trade's change, fired for every one (whether or not its app gave a notify_url)."""

    trade: Trade
    event: str  # a TradeEvent
    refund: Refund | None = None


trade_changed: Hook[TradeChanged] = Hook("payments.trade_changed")
