"""The simulated bank's own tables: its cards (masked number, a simulated balance, a test mode)
and every movement it accepted. These stand in for a bank's books, not the platform's: the
platform's record of money is the ledger."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from townsquare.core.database import Base, Timestamped, str_enum
from townsquare.core.ids import new_id


class CardMode(enum.StrEnum):
    NORMAL = "normal"
    DECLINE = "decline"  # every charge is declined (a blocked card)
    TIMEOUT = "timeout"  # the bank never answers a charge


class SimCard(Timestamped, Base):
    __tablename__ = "simbank_cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("sbc"))
    number_digest: Mapped[str] = mapped_column(String(64), unique=True)  # keyed HMAC
    number_masked: Mapped[str] = mapped_column(String(32))  # 6222 **** **** 1234
    holder: Mapped[str] = mapped_column(String(40))  # who opened it (a user's public id)
    balance_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    mode: Mapped[CardMode] = mapped_column(str_enum(CardMode), default=CardMode.NORMAL)


class SimMovement(Timestamped, Base):
    __tablename__ = "simbank_movements"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("sbm"))
    card_id: Mapped[int] = mapped_column(ForeignKey("simbank_cards.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # charge, refund, payout
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)  # charges only
    refund_of_id: Mapped[int | None] = mapped_column(ForeignKey("simbank_movements.id"))

    card: Mapped[SimCard] = relationship(lazy="joined")


class ChargeUse(Base):
    """What a bank charge was used for, once: a trade's payment, a top-up, or its refund as an
    orphan (`payments/funding/orphans.py`). The unique reference is the guard: a charge the
    orphan job has claimed can no longer pay a trade or fund a top-up, and the other way round,
    whichever transaction commits first."""

    __tablename__ = "funding_charge_uses"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(24), unique=True)  # the bank's charge id
    purpose: Mapped[str] = mapped_column(String(16))  # payment, top_up, orphan_refund
    subject: Mapped[str] = mapped_column(String(160))  # the trade_no, the top-up id, the key
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    used_at: Mapped[datetime]
    refunded_at: Mapped[datetime | None]  # an orphan's refund, once the bank took it
