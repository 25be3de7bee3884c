"""Every gateway method payments offers, for the application factory to collect."""

from __future__ import annotations

from townsquare.gateway.methods import Method
from townsquare.payments.trades import gateway_methods as trades

METHODS: tuple[Method, ...] = (*trades.METHODS,)
