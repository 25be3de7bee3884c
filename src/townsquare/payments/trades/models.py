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
from typing import Any

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
        Index("ix_trades_funding_reference", "funding_reference"),  # the orphan-charge job
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
    # the community whose commission this payment owes (an admitted outside merchant serving a
    # resident of it), set by the caller that knows; the split takes community_rate_bp for it
    community_id: Mapped[int | None] = mapped_column(default=None)
    community_rate_bp: Mapped[int] = mapped_column(default=0)

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


class RoyaltyReceiver(Base):
    """A royalty relation (分账关系): an account a merchant may send part of its trades' money
    to with `alipay.trade.order.settle`. The account is an ISV's or a community's commission
    account in the ledger, named by the public id the merchant bound (`isv_…`, `com_…`).
    Unbinding keeps the row (`unbound_at`); binding again clears it."""

    __tablename__ = "payment_royalty_receivers"
    __table_args__ = (UniqueConstraint("merchant_id", "account"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"),
                                             index=True)
    account: Mapped[str] = mapped_column(String(32))  # the receiver's public id, as bound
    kind: Mapped[str] = mapped_column(String(16))  # "isv" or "community"
    owner_id: Mapped[int]  # the service provider's or the community's id
    name: Mapped[str] = mapped_column(String(64), default="")
    memo: Mapped[str] = mapped_column(String(128), default="")
    bound_at: Mapped[datetime]
    unbound_at: Mapped[datetime | None]


class RoyaltyRequest(Base):
    """One bind or unbind request by the merchant's `out_request_no`: a repeat with the same
    receivers answers again, another content under the same number is refused."""

    __tablename__ = "payment_royalty_requests"
    __table_args__ = (UniqueConstraint("merchant_id", "out_request_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    out_request_no: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(8))  # bind, unbind
    content_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class TradeSettle(Base):
    """One `alipay.trade.order.settle` of a paid trade: part of the merchant's share sent to
    bound receivers, as one ledger entry (`kind="royalty"`). Idempotent per trade and
    `out_request_no`; all of a trade's settles never exceed the merchant's part of it."""

    __tablename__ = "trade_settles"
    __table_args__ = (
        UniqueConstraint("trade_id", "out_request_no"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    settle_no: Mapped[str] = mapped_column(String(32), unique=True)
    trade_id: Mapped[int] = mapped_column(ForeignKey("trades.id", ondelete="CASCADE"),
                                          index=True)
    out_request_no: Mapped[str] = mapped_column(String(64))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    content_digest: Mapped[str] = mapped_column(String(64))
    # [{"trans_in": public id, "kind": "isv"|"community", "amount_fen": int, "desc": str}]
    details: Mapped[list[Any]]
    operator_id: Mapped[str] = mapped_column(String(64), default="")
    entry_id: Mapped[str] = mapped_column(String(24))  # the ledger entry's public id
    settled_at: Mapped[datetime]


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
