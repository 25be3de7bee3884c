"""The ledger's business records around the journal: fee rules, ISV royalty rates, merchants'
withdrawals and the reconciliation runs. The journal (models.py) says how money moved; these say
by which rule, at whose request and with what outcome."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from townsquare.core.database import Base, Timestamped, str_enum
from townsquare.core.ids import new_id


class FeeRule(Base):
    """The platform's fee rate for one category of merchant, in basis points (1 bp = 0.01 %).

    A category without a row pays `Settings.platform_fee_default_bp`."""

    __tablename__ = "payment_fee_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    # None: the default rule, for every category without its own
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="CASCADE"), unique=True)
    rate_bp: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class RoyaltyRate(Base):
    """The royalty an ISV takes on the trades of a merchant that authorized it, in basis points.

    Kept beside merchants' authorization (one row per authorization), so the rate ends with the
    authorization: a revoked authorization takes no royalty however its row reads."""

    __tablename__ = "payment_royalty_rates"

    id: Mapped[int] = mapped_column(primary_key=True)
    authorization_id: Mapped[int] = mapped_column(
        ForeignKey("authorizations.id", ondelete="CASCADE"), unique=True)
    rate_bp: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class PayoutCard(Base):
    """The bank card a merchant's withdrawals are paid to: the funding adapter's token and what
    may be shown of the card (never its number)."""

    __tablename__ = "payment_payout_cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"),
                                             unique=True)
    token: Mapped[str] = mapped_column(String(64))
    bank_name: Mapped[str] = mapped_column(String(32))
    number_masked: Mapped[str] = mapped_column(String(32))
    bound_at: Mapped[datetime]
    bound_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class WithdrawalStatus(enum.StrEnum):
    PROCESSING = "processing"  # the ledger has moved the money; the bank payout is under way
    SUCCEEDED = "succeeded"  # the bank paid the card
    FAILED = "failed"  # the bank refused; a reversing entry gave the money back


class Withdrawal(Timestamped, Base):
    """A merchant's withdrawal of available funds to a bank card."""

    __tablename__ = "payment_withdrawals"
    __table_args__ = (
        UniqueConstraint("merchant_id", "idempotency_key"),
        Index("ix_payment_withdrawals_merchant_created", "merchant_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True,
                                           default=lambda: new_id("wd"))
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    card_ref: Mapped[str] = mapped_column(String(64))  # the funding side's card id
    idempotency_key: Mapped[str] = mapped_column(String(80))
    status: Mapped[WithdrawalStatus] = mapped_column(
        str_enum(WithdrawalStatus, 16), default=WithdrawalStatus.PROCESSING)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"))
    payout_ref: Mapped[str] = mapped_column(String(64), default="")  # the bank's reference
    failure: Mapped[str] = mapped_column(String(200), default="")
    finished_at: Mapped[datetime | None]


class ReconciliationRun(Base):
    """One run of the reconciliation job, kept so the operator sees every result over time."""

    __tablename__ = "payment_reconciliation_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True,
                                           default=lambda: new_id("rec"))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    sound: Mapped[bool]
    accounts: Mapped[int] = mapped_column(Integer)
    entries: Mapped[int] = mapped_column(Integer)
    total_fen: Mapped[int] = mapped_column(BigInteger)
    # {"differences": [{account, balance_fen, posted_fen}], "unbalanced_entries": [...],
    #  "negative_accounts": [...]}
    findings: Mapped[dict[str, Any]] = mapped_column(default=dict)
