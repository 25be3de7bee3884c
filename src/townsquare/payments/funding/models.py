"""The simulated bank's own tables: its cards (masked number, a simulated balance, a test mode)
and every movement it accepted. These stand in for a bank's books, not the platform's: the
platform's record of money is the ledger."""

from __future__ import annotations

import enum

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
