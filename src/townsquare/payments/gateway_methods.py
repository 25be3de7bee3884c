"""Every gateway method payments offers, for the application factory to collect."""

from __future__ import annotations

from townsquare.gateway.methods import Method
from townsquare.payments.trades import gateway_methods as trades
from townsquare.payments.wallet import gateway_methods as wallet

METHODS: tuple[Method, ...] = (
    *trades.METHODS,
    *wallet.METHODS,  # alipay.trade.pay (the resident's payment code)
)
