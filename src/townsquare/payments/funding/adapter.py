"""The funding boundary: what the platform asks of a bank (or an acquirer in front of banks).

Everything that moves money between a bank card and the platform goes through a
`FundingAdapter`: charge a card (a top-up or a card payment), refund a charge, pay out to a card
(a merchant's withdrawal). The built-in adapter is the simulated bank (`simbank.py`); a real
acquirer is a second class with these three methods (see docs/payments.md, "Funding adapter").
The ledger side of each movement (BANK_CLEARING against a wallet or a merchant) is the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from townsquare.core.errors import Conflict, TownsquareError


@dataclass(frozen=True)
class Charge:
    """A movement the bank accepted: `reference` is the bank's id for it (kept on the trade or
    top-up as `funding_reference`, and what a refund names)."""

    reference: str
    card: str  # the adapter's token of the card (never its number)
    amount_fen: int
    kind: str  # "charge", "refund" or "payout"
    idempotency_key: str


@dataclass(frozen=True)
class BankCharge:
    """A charge as the bank lists it (for reconciliation): what it took and gave back so far."""

    reference: str
    card: str
    amount_fen: int
    refunded_fen: int
    idempotency_key: str
    at: datetime


class FundingError(TownsquareError):
    """The bank refused or did not answer; nothing was moved."""

    code = "funding_failed"
    status = 402


class CardDeclined(FundingError):
    code = "card_declined"


class BankBalanceInsufficient(FundingError):
    code = "bank_balance_insufficient"


class BankTimeout(FundingError):
    """The bank did not answer in time. With a real acquirer the outcome is unknown: retry with
    the same idempotency key (it never charges twice) or refund by that key."""

    code = "bank_timeout"
    status = 504


class FundingMismatch(Conflict):
    code = "funding_idempotency_mismatch"


class FundingAdapter(Protocol):
    """A bank, or an acquirer in front of banks. Every method is idempotent by its key: a repeat
    returns the first answer; the same key for a different movement raises FundingMismatch."""

    name: str  # shown to residents beside every card ("模拟银行" for the simulated bank)

    def charge(self, card: str, amount_fen: int, idempotency_key: str) -> Charge:
        """Take `amount_fen` from the card (CardDeclined, BankBalanceInsufficient, BankTimeout)."""
        ...

    def refund(self, charge_ref: str, amount_fen: int, idempotency_key: str) -> Charge:
        """Give back up to what the charge took, minus what was refunded before."""
        ...

    def payout(self, card: str, amount_fen: int, idempotency_key: str) -> Charge:
        """Pay `amount_fen` to the card (a merchant's withdrawal)."""
        ...

    def charges(self, since: datetime, until: datetime) -> list[BankCharge]:
        """The charges the bank made from `since` to `until` (an acquirer's charge list or
        daily file), each with what was refunded of it."""
        ...
