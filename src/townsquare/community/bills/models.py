"""Fee bills and their payments.

A bill is one household's charge for one item (物业费, 水费, 电费, 停车费…) and one period
(a month, `YYYY-MM`), unique per household, item and period: issuing it again (an import, a
rule run) finds it instead of doubling it. A payment (缴费单, `bil_…`, also the trade's
`out_trade_no`) covers one or several bills of one household, paid by one member in the cashier;
a bill is paid by exactly one payment (`payment_id`, set by a conditional update when the trade
is paid)."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from townsquare.community.models import Household
from townsquare.core.database import Base, Timestamped, str_enum, utcnow
from townsquare.core.ids import new_id


class BillStatus(enum.StrEnum):
    UNPAID = "unpaid"
    PAID = "paid"
    WRITTEN_OFF = "written_off"  # by the property manager, with a reason: nobody owes it


class Bill(Timestamped, Base):
    """One household's charge for one item and period."""

    __tablename__ = "community_bills"
    __table_args__ = (
        UniqueConstraint("household_id", "item", "period"),
        Index("ix_community_bills_community_period", "community_id", "period", "item"),
        Index("ix_community_bills_due", "status", "due_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("fee"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"),
                                              index=True)
    item: Mapped[str] = mapped_column(String(16))  # 物业费, 水费, 电费, 停车费…
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    amount_fen: Mapped[int]
    due_date: Mapped[date]
    detail: Mapped[str] = mapped_column(String(100), default="")  # e.g. "89.37 m² × ¥2.50"
    source: Mapped[str] = mapped_column(String(8), default="import")  # import | rule
    status: Mapped[BillStatus] = mapped_column(str_enum(BillStatus, 16),
                                               default=BillStatus.UNPAID)
    payment_id: Mapped[int | None] = mapped_column(
        ForeignKey("community_bill_payments.id", ondelete="SET NULL"))
    paid_at: Mapped[datetime | None]
    paid_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    written_off_at: Mapped[datetime | None]
    written_off_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    write_off_reason: Mapped[str] = mapped_column(String(200), default="")

    household: Mapped[Household] = relationship(lazy="joined")


class PaymentStatus(enum.StrEnum):
    WAITING = "waiting"  # its trade waits for payment
    PAID = "paid"
    CLOSED = "closed"  # its trade closed unpaid
    REFUNDED = "refunded"  # its trade refunded in full: the bills are unpaid again


class BillPayment(Timestamped, Base):
    """One member's payment of one or several bills of their household: one trade."""

    __tablename__ = "community_bill_payments"
    __table_args__ = (UniqueConstraint("user_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("bil"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"),
                                              index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    trade_no: Mapped[str] = mapped_column(String(32), unique=True)
    total_fen: Mapped[int]
    status: Mapped[PaymentStatus] = mapped_column(str_enum(PaymentStatus, 8),
                                                  default=PaymentStatus.WAITING)
    paid_at: Mapped[datetime | None]

    items: Mapped[list[BillPaymentItem]] = relationship(lazy="selectin",
                                                        order_by="BillPaymentItem.bill_id")


class BillPaymentItem(Base):
    """A bill a payment covers, at the amount it had when the payment was made."""

    __tablename__ = "community_bill_payment_items"

    payment_id: Mapped[int] = mapped_column(
        ForeignKey("community_bill_payments.id", ondelete="CASCADE"), primary_key=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("community_bills.id", ondelete="CASCADE"),
                                         primary_key=True, index=True)
    amount_fen: Mapped[int]


class RuleKind(enum.StrEnum):
    PER_M2 = "per_m2"  # rate per m² of the room's area per month
    FIXED = "fixed"  # the same amount for every room per month


class BillRule(Timestamped, Base):
    """How the property charges an item per room: by area or a fixed amount, each month."""

    __tablename__ = "community_bill_rules"
    __table_args__ = (UniqueConstraint("community_id", "item", "building"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("brl"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    item: Mapped[str] = mapped_column(String(16))
    kind: Mapped[RuleKind] = mapped_column(str_enum(RuleKind, 8))
    rate_fen: Mapped[int]  # fen per m² per month (PER_M2) or per room per month (FIXED)
    building: Mapped[str] = mapped_column(String(16), default="")  # "" = every building
    due_days: Mapped[int] = mapped_column(default=15)  # due this many days into the period


class BillReminder(Base):
    """An overdue reminder sent for a bill to a member, once per reminder round (interval)."""

    __tablename__ = "community_bill_reminders"
    __table_args__ = (UniqueConstraint("bill_id", "user_id", "round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("community_bills.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    round: Mapped[int]  # 0 on the first overdue interval, 1 on the next…
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
