"""Trades and their refunds: what a merchant's app asked to be paid, whether and how it was paid,
and every refund by its merchant's request number.

Money is integer fen here and in the ledger; yuan appear only on the wire. A trade's
`refunded_fen` never exceeds `total_fen` (a CHECK and a conditional UPDATE keep it so); a trade is
charged at most once, because only the one UPDATE that moves it from WAIT_BUYER_PAY may post its
payment entry."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from townsquare.core.database import Base, Timestamped, str_enum


class TradeStatus(enum.StrEnum):
    WAIT_BUYER_PAY = "WAIT_BUYER_PAY"  # created, waiting for the resident to pay
    TRADE_SUCCESS = "TRADE_SUCCESS"  # paid; stays so after partial refunds
    TRADE_FINISHED = "TRADE_FINISHED"  # the refund period is over: nothing can change any more
    TRADE_CLOSED = "TRADE_CLOSED"  # unpaid and timed out, closed, cancelled, or fully refunded


class Trade(Timestamped, Base):
    __tablename__ = "trades"
    __table_args__ = (
        UniqueConstraint("app_id", "out_trade_no"),
        CheckConstraint("total_fen > 0", name="total_positive"),
        CheckConstraint("refunded_fen >= 0 AND refunded_fen <= total_fen", name="refund_bounded"),
        Index("ix_trades_merchant_created", "merchant_id", "created_at"),
        Index("ix_trades_status_timeout", "status", "timeout_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    trade_no: Mapped[str] = mapped_column(String(32), unique=True)  # 28 digits, like Alipay's
    app_id: Mapped[int] = mapped_column(ForeignKey("gateway_apps.id"))
    out_trade_no: Mapped[str] = mapped_column(String(64))
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    miniapp_id: Mapped[int] = mapped_column(ForeignKey("miniapps.id"), index=True)
    subject: Mapped[str] = mapped_column(String(256))
    body: Mapped[str] = mapped_column(String(400), default="")
    product_code: Mapped[str] = mapped_column(String(32))
    total_fen: Mapped[int] = mapped_column(BigInteger)
    content_digest: Mapped[str] = mapped_column(String(64))  # what a retried create must repeat
    status: Mapped[TradeStatus] = mapped_column(
        str_enum(TradeStatus, 16), default=TradeStatus.WAIT_BUYER_PAY
    )
    buyer_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    fund_channel: Mapped[str] = mapped_column(String(32), default="")  # ALIPAYACCOUNT, BANKCARD…
    funding_reference: Mapped[str] = mapped_column(String(64), default="")  # the bank's charge
    payment_source: Mapped[str] = mapped_column(String(64), default="")  # ledger account charged
    pay_key: Mapped[str | None] = mapped_column(String(160))  # the payment's idempotency key
    paid_at: Mapped[datetime | None]
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    timeout_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    notify_url: Mapped[str] = mapped_column(String(512), default="")
    return_url: Mapped[str] = mapped_column(String(512), default="")
    frozen: Mapped[bool] = mapped_column(default=False)  # an operator holds it (a dispute)

    refunds: Mapped[list[Refund]] = relationship(
        back_populates="trade", order_by="Refund.id"
    )


class Refund(Base):
    """One refund, named by the merchant's `out_request_no` (unique per trade): a repeat of the
    same request answers this row again and moves no money."""

    __tablename__ = "trade_refunds"
    __table_args__ = (
        UniqueConstraint("trade_id", "out_request_no"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    trade_id: Mapped[int] = mapped_column(ForeignKey("trades.id", ondelete="CASCADE"))
    out_request_no: Mapped[str] = mapped_column(String(64))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(256), default="")
    refunded_at: Mapped[datetime]
    entry_id: Mapped[str] = mapped_column(String(24))  # the ledger entry's public id
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # console refunds

    trade: Mapped[Trade] = relationship(back_populates="refunds")


@dataclass(frozen=True, slots=True)
class TradeView:
    """A trade as a read answers it (`alipay.trade.query`), with its buyer and its mini-app's
    public id: plain values read in one statement (`service.find_view`), not an ORM object."""

    trade_no: str
    out_trade_no: str
    merchant_id: int
    miniapp_id: int
    status: TradeStatus
    total_fen: int
    subject: str
    body: str
    fund_channel: str
    buyer_user_id: int | None
    paid_at: datetime | None
    miniapp_public_id: str
    buyer_public_id: str | None  # None: no buyer yet (or no such user any more)
    buyer_username: str | None
    buyer_phone: str | None  # None: the buyer has no verified identity
