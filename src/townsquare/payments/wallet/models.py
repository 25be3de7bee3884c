"""The resident's side of payments: bound cards, the payment PIN and its failed tries, payment
codes (付款码), top-ups and payments made (what the daily limit counts and the bill lists).
The wallet's balance is not here: it is the ledger account `wallet:{user_id}`."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from townsquare.core.database import Base, Timestamped
from townsquare.core.ids import new_id


class WalletCard(Timestamped, Base):
    """A bank card a resident bound: the funding adapter's token and what may be shown."""

    __tablename__ = "wallet_cards"
    __table_args__ = (UniqueConstraint("user_id", "funding_token"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("wcd"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    funding_token: Mapped[str] = mapped_column(String(40))
    bank_name: Mapped[str] = mapped_column(String(40))
    number_masked: Mapped[str] = mapped_column(String(32))
    removed_at: Mapped[datetime | None]
    # pays what the payment code costs when the wallet balance is short (one card at most)
    backs_code: Mapped[bool] = mapped_column(default=False)


class PaymentPin(Base):
    __tablename__ = "payment_pins"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    pin_hash: Mapped[str] = mapped_column(String(255))  # argon2, as passwords
    set_at: Mapped[datetime]
    # wrong tries count after this PinFailure id: the PIN's setting, change or last correct entry
    counted_after_id: Mapped[int] = mapped_column(default=0)


class PinFailure(Base):
    """One wrong PIN: inserted even when the request is refused (keep_on_rollback)."""

    __tablename__ = "payment_pin_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]


class PaymentCode(Base):
    """An issued payment code, stored only as a keyed digest; used once."""

    __tablename__ = "payment_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_digest: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]
    trade_no: Mapped[str | None] = mapped_column(String(64))


class TopUp(Timestamped, Base):
    __tablename__ = "wallet_top_ups"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("tup"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("wallet_cards.id"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    funding_reference: Mapped[str] = mapped_column(String(40), index=True)


class Spend(Timestamped, Base):
    """A payment a resident made (one per trade): what the daily limit sums, the bill lists."""

    __tablename__ = "wallet_spends"
    __table_args__ = (Index("ix_wallet_spends_user_day", "user_id", "local_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    trade_no: Mapped[str] = mapped_column(String(64), unique=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    fund_channel: Mapped[str] = mapped_column(String(24))  # ALIPAYACCOUNT (wallet), BANKCARD
    card_id: Mapped[int | None] = mapped_column(ForeignKey("wallet_cards.id"))
    funding_reference: Mapped[str] = mapped_column(String(40), default="")
    local_day: Mapped[date] = mapped_column(Date)  # the day in the configured zone
