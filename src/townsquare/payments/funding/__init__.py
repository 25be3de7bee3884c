"""Funding: the boundary between the platform and banks (`adapter.py`), the simulated bank that
is the built-in adapter (`simbank.py`), and the two calls other parts of payments make
through it: `refund_to_card` (a card payment refunded) and `payout_to_card` (a withdrawal)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from townsquare.core.clock import clock
from townsquare.payments.funding import simbank
from townsquare.payments.funding.adapter import (
    BankBalanceInsufficient,
    BankCharge,
    BankTimeout,
    CardDeclined,
    Charge,
    FundingAdapter,
    FundingError,
    FundingMismatch,
)
from townsquare.payments.funding.models import ChargeUse
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


class ChargeGivenBack(FundingError):
    """The charge was refunded as an orphan (or used for something else) before this request
    could use it: nothing is paid; start again with a new request."""

    code = "charge_given_back"
    status = 409


def use_charge(db: Session, *, charge: Charge, purpose: str, subject: str) -> None:
    """Record that `charge` pays for `subject` (a trade_no, a top-up id): once. A charge the
    orphan job claimed (or another use) raises ChargeGivenBack; the same use again is fine."""
    row = ChargeUse(reference=charge.reference, purpose=purpose, subject=subject[:160],
                    amount_fen=charge.amount_fen, used_at=clock.now())
    try:
        with db.begin_nested():
            db.add(row)
            db.flush()
    except IntegrityError:  # used already; committed by another transaction, or by this one
        done = db.scalar(select(ChargeUse).where(ChargeUse.reference == charge.reference))
        if done is None or (done.purpose, done.subject) != (purpose, subject[:160]):
            raise ChargeGivenBack("This card payment was cancelled and given back to the card; "
                                  "please pay again.") from None


def payout_to_card(db: Session, *, card: str, amount_fen: int, idempotency_key: str) -> Charge:
    """Pay `amount_fen` to the card with the adapter's token `card` (a merchant's withdrawal).
    The ledger side (merchant available → BANK_CLEARING) is the caller's."""
    return adapter_for(db).payout(card, amount_fen, idempotency_key)


__all__ = [
    "BankBalanceInsufficient", "BankCharge", "BankTimeout", "BoundCard", "CardDeclined", "Charge",
    "ChargeGivenBack", "ChargeUse", "FundingAdapter", "FundingError", "FundingMismatch",
    "SimulatedBank", "adapter_for", "bind_card", "payout_to_card", "refund_to_card", "use_charge",
]
