"""The simulated bank (模拟银行): the built-in FundingAdapter, labelled as such wherever shown.

It keeps its books in its own tables in the platform's database and in the caller's
transaction, so a refused request leaves no trace at the bank either (a real bank is outside
that transaction: see docs/payments.md). It behaves like a bank where it matters: a card has a
balance and is declined past it; test numbers (as card networks publish them) make a card that
declines every charge or never answers; each movement is idempotent by its key, and two
transactions charging one card at once serialise on the card's row (a conditional UPDATE), so
a card is never overdrawn."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from townsquare.core.database import rows_changed
from townsquare.core.errors import NotFound, ValidationFailed
from townsquare.core.security import keyed_digest
from townsquare.payments.funding.adapter import (
    BankBalanceInsufficient,
    BankCharge,
    BankTimeout,
    CardDeclined,
    Charge,
    FundingMismatch,
)
from townsquare.payments.funding.models import CardMode, SimCard, SimMovement

NAME = "模拟银行"
NAME_EN = "Simulated bank"
# Test numbers, as card networks publish them for sandboxes: these two open a card that
# declines every charge, or one whose charges never get an answer.
DECLINING_NUMBER = "4000000000000002"
TIMEOUT_NUMBER = "4000000000000119"
OPENING_BALANCE_FEN = 10_000_00  # a new simulated card holds ¥10,000 unless told otherwise


def luhn_ok(number: str) -> bool:
    digits = [int(d) for d in reversed(number)]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0


def clean_number(text: str) -> str:
    """A card number as typed (spaces, dashes) → its digits, or ValidationFailed."""
    number = "".join(ch for ch in (text or "") if ch not in " -")
    if not (number.isdigit() and 13 <= len(number) <= 19 and luhn_ok(number)):
        raise ValidationFailed("Enter a valid bank card number.", field="card_number")
    return number


def masked(number: str) -> str:
    return f"{number[:4]} **** **** {number[-4:]}"


def open_card(db: Session, *, secret: bytes, number: str, holder: str,
              balance_fen: int = OPENING_BALANCE_FEN) -> SimCard:
    """The simulated card with this number, opened on first use for `holder`; a number opened
    by someone else is refused (a real bank would check the holder by SMS)."""
    number = clean_number(number)
    digest = keyed_digest(secret, "simbank-card", number)
    card = db.scalar(select(SimCard).where(SimCard.number_digest == digest))
    if card is not None:
        if card.holder != holder:
            raise ValidationFailed("This card belongs to someone else.", field="card_number")
        return card
    mode = {DECLINING_NUMBER: CardMode.DECLINE, TIMEOUT_NUMBER: CardMode.TIMEOUT}.get(
        number, CardMode.NORMAL)
    card = SimCard(number_digest=digest, number_masked=masked(number), holder=holder,
                   balance_fen=balance_fen, mode=mode)
    db.add(card)
    db.flush()
    return card


def card_by_token(db: Session, token: str) -> SimCard:
    card = db.scalar(select(SimCard).where(SimCard.token == token))
    if card is None:
        raise NotFound("No such bank card.")
    return card


def _charge(row: SimMovement) -> Charge:
    return Charge(reference=row.reference, card=row.card.token, amount_fen=row.amount_fen,
                  kind=row.kind, idempotency_key=row.idempotency_key)


class SimulatedBank:
    """The FundingAdapter over the simulated bank's tables, in the caller's session."""

    name = NAME

    def __init__(self, db: Session) -> None:
        self.db = db

    def _replay(self, key: str, kind: str, amount_fen: int, card_id: int | None
                ) -> Charge | None:
        row = self.db.scalar(select(SimMovement).where(SimMovement.idempotency_key == key))
        if row is None:
            return None
        if (row.kind, row.amount_fen) != (kind, amount_fen) or (
                card_id is not None and row.card_id != card_id):
            raise FundingMismatch("This request id was already used for a different bank "
                                  "movement.", key=key)
        return _charge(row)

    def _record(self, *, card: SimCard, kind: str, amount_fen: int, key: str,
                refund_of: SimMovement | None = None) -> Charge:
        """Move the card's balance and record the movement, or replay a concurrent twin."""
        delta = -amount_fen if kind == "charge" else amount_fen
        try:
            with self.db.begin_nested():
                if refund_of is not None:
                    taken = self.db.execute(
                        update(SimMovement).where(SimMovement.id == refund_of.id)
                        .where(SimMovement.refunded_fen + amount_fen <= SimMovement.amount_fen)
                        .values(refunded_fen=SimMovement.refunded_fen + amount_fen)
                        .execution_options(synchronize_session=False))
                    if not rows_changed(taken):
                        raise ValidationFailed("The refund is more than what is left of the "
                                               "charge.")
                moved = self.db.execute(
                    update(SimCard).where(SimCard.id == card.id)
                    .where(SimCard.balance_fen + delta >= 0)
                    .values(balance_fen=SimCard.balance_fen + delta)
                    .execution_options(synchronize_session=False))
                if not rows_changed(moved):
                    raise BankBalanceInsufficient("The bank declined: not enough money on the "
                                                  "card.")
                row = SimMovement(card_id=card.id, kind=kind, amount_fen=amount_fen,
                                  idempotency_key=key,
                                  refund_of_id=refund_of.id if refund_of else None)
                self.db.add(row)
                self.db.flush()
        except IntegrityError:
            # the same key was committed by a concurrent twin meanwhile
            done = self._replay(key, kind, amount_fen, card.id)
            if done is None:
                raise
            return done
        self.db.refresh(card, ["balance_fen"])
        return _charge(row)

    def charge(self, card: str, amount_fen: int, idempotency_key: str) -> Charge:
        _positive(amount_fen)
        found = card_by_token(self.db, card)
        if done := self._replay(idempotency_key, "charge", amount_fen, found.id):
            return done
        if found.mode is CardMode.DECLINE:
            raise CardDeclined("The bank declined the card.")
        if found.mode is CardMode.TIMEOUT:
            raise BankTimeout("The bank did not answer; nothing was charged. Try again later.")
        return self._record(card=found, kind="charge", amount_fen=amount_fen, key=idempotency_key)

    def refund(self, charge_ref: str, amount_fen: int, idempotency_key: str) -> Charge:
        _positive(amount_fen)
        original = self.db.scalar(select(SimMovement).where(SimMovement.reference == charge_ref,
                                                            SimMovement.kind == "charge"))
        if original is None:
            raise NotFound("No such bank charge.")
        if done := self._replay(idempotency_key, "refund", amount_fen, original.card_id):
            return done
        return self._record(card=original.card, kind="refund", amount_fen=amount_fen,
                            key=idempotency_key, refund_of=original)

    def charges(self, since: datetime, until: datetime) -> list[BankCharge]:
        rows = self.db.scalars(select(SimMovement).where(
            SimMovement.kind == "charge", SimMovement.created_at >= since,
            SimMovement.created_at < until).order_by(SimMovement.id))
        return [BankCharge(reference=row.reference, card=row.card.token,
                           amount_fen=row.amount_fen, refunded_fen=row.refunded_fen,
                           idempotency_key=row.idempotency_key, at=row.created_at)
                for row in rows]

    def payout(self, card: str, amount_fen: int, idempotency_key: str) -> Charge:
        _positive(amount_fen)
        found = card_by_token(self.db, card)
        if done := self._replay(idempotency_key, "payout", amount_fen, found.id):
            return done
        return self._record(card=found, kind="payout", amount_fen=amount_fen, key=idempotency_key)


def _positive(amount_fen: int) -> None:
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise ValueError(f"amounts are positive integer fen, not {amount_fen!r}")
