"""The ledger's tables: accounts, journal entries and their postings.

A posting's amount is signed from the account holder's side: positive money comes into the
account, negative money leaves it. Every entry's postings sum to zero, so the whole ledger does.
Entries and postings are only ever inserted; a correction is a reversing entry. An account's
`balance_fen` is kept with each posting in the same transaction (the guard against going
negative); the reconciliation job proves it equals the sum of the account's postings."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from townsquare.core.database import Base, Timestamped, str_enum
from townsquare.core.ids import new_id


class AccountKind(enum.StrEnum):
    WALLET = "wallet"  # a resident's balance
    MERCHANT_PENDING = "merchant_pending"  # paid, not yet settled
    MERCHANT_AVAILABLE = "merchant_available"  # settled, may be withdrawn
    PLATFORM_FEES = "platform_fees"  # the platform's fee income
    ISV_COMMISSION = "isv_commission"  # a service provider's royalty
    COMMUNITY_COMMISSION = "community_commission"  # a property company's commission
    BANK_CLEARING = "bank_clearing"  # money in transit from or to banks (the outside world)


class LedgerAccount(Timestamped, Base):
    __tablename__ = "ledger_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)  # e.g. "wallet:12"
    kind: Mapped[AccountKind] = mapped_column(str_enum(AccountKind, 24))
    # Only the accounts facing the outside world may go below zero.
    may_go_negative: Mapped[bool] = mapped_column(Boolean, default=False)
    balance_fen: Mapped[int] = mapped_column(BigInteger, default=0)


class JournalEntry(Timestamped, Base):
    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("je"))
    kind: Mapped[str] = mapped_column(String(32))  # payment, refund, top_up, settlement, …
    reference: Mapped[str] = mapped_column(String(64), index=True)  # the trade number, …
    idempotency_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    memo: Mapped[str] = mapped_column(String(200), default="")
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))

    postings: Mapped[list[Posting]] = relationship(
        back_populates="entry", order_by="Posting.id", lazy="selectin"
    )


class Posting(Base):
    __tablename__ = "ledger_postings"
    __table_args__ = (Index("ix_ledger_postings_account_entry", "account_id", "entry_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]

    entry: Mapped[JournalEntry] = relationship(back_populates="postings")
    account: Mapped[LedgerAccount] = relationship(lazy="joined")
