"""Funding: the boundary between the platform and banks (`adapter.py`), the simulated bank that
is the built-in adapter (`simbank.py`), and the two calls other parts of payments make
through it: `refund_to_card` (a card payment refunded) and `payout_to_card` (a withdrawal)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from townsquare.payments.funding import simbank
from townsquare.payments.funding.adapter import (
    BankBalanceInsufficient,
    BankTimeout,
    CardDeclined,
    Charge,
    FundingAdapter,
    FundingError,
    FundingMismatch,
)
from townsquare.payments.funding.simbank import SimulatedBank


def adapter_for(db: Session) -> FundingAdapter:
    """The adapter in use: the simulated bank (a real acquirer would be chosen here, by a
    setting, and would not need the session)."""
    return SimulatedBank(db)


@dataclass(frozen=True)
class BoundCard:
    """What binding a card yields: the adapter's token and what may be shown of the card."""

    token: str
    bank_name: str
    number_masked: str


def bind_card(db: Session, *, secret: bytes, number: str, holder: str) -> BoundCard:
    """Tokenise a card for `holder` (a real acquirer verifies the holder and returns a token;
    the simulated bank opens the card on first use, with test numbers for declines/timeouts)."""
    card = simbank.open_card(db, secret=secret, number=number, holder=holder)
    return BoundCard(card.token, simbank.NAME, card.number_masked)


def refund_to_card(db: Session, *, trade: Any, amount_fen: int, idempotency_key: str) -> Charge:
    """Give `amount_fen` of a card payment back to the card it came from (the charge named by
    `trade.funding_reference`). The ledger side (PENDING → BANK_CLEARING) is the caller's."""
    return adapter_for(db).refund(trade.funding_reference, amount_fen, idempotency_key)


def payout_to_card(db: Session, *, card: str, amount_fen: int, idempotency_key: str) -> Charge:
    """Pay `amount_fen` to the card with the adapter's token `card` (a merchant's withdrawal).
    The ledger side (merchant available → BANK_CLEARING) is the caller's."""
    return adapter_for(db).payout(card, amount_fen, idempotency_key)


__all__ = [
    "BankBalanceInsufficient", "BankTimeout", "BoundCard", "CardDeclined", "Charge",
    "FundingAdapter", "FundingError", "FundingMismatch", "SimulatedBank", "adapter_for",
    "bind_card", "payout_to_card", "refund_to_card",
]
