"""Payments: trades, the cashier and wallet with their funding adapters, the double-entry ledger
(`ledger/`), settlement and bills. Other domains move money only through this package's door."""

# The resident's side (pay-wallet): a resident pays a trade (from the wallet or a card, with the
# PIN, or by a payment code at a till) only through `wallet.paying.pay_trade`; codes resolve
# through `wallet.payment_codes.resolve`; bank movements through `funding`.
# Trades (pay-trades): ordering and community create, query, refund and close trades through
# `trades` (= `trades.service`: create, get, pay, refund, close, cancel; errors carry a stable
# `code` and Alipay's `sub_code`); merchants' statements through `statements`.
__all__ = ["funding", "paying", "payment_codes", "statements", "trades"]

from townsquare.payments import funding  # noqa: E402
from townsquare.payments.trades import service as trades  # noqa: E402
from townsquare.payments.trades import statements  # noqa: E402
from townsquare.payments.wallet import paying, payment_codes  # noqa: E402
