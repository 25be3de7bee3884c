"""The double-entry ledger: the one place where money moves (see docs/payments.md)."""

from townsquare.payments.ledger import accounts
from townsquare.payments.ledger.posting import (
    IdempotencyMismatch,
    InsufficientFunds,
    balance,
    balances,
    entries_for,
    post,
    reverse,
)
from townsquare.payments.ledger.reconciliation import Reconciliation, reconcile

__all__ = [
    "IdempotencyMismatch", "InsufficientFunds", "Reconciliation", "accounts", "balance",
    "balances", "entries_for", "post", "reconcile", "reverse",
]
