"""A conversation between one resident and one shop (a merchant's mini-app), about one order or
about the mini-app itself, and its messages.

`waiting_since` is when the oldest resident message the shop has not answered yet was written
(None when the shop has the last word): a shop's answer ends the wait and records its length as
a `message_response` behaviour event. The order is kept by its public id (`order_ref`, "" for a
conversation about the mini-app), checked through the orders service when the conversation
starts."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from townsquare.core.database import Base, Timestamped, str_enum
from townsquare.core.ids import new_id

BODY_MAX = 1000


class Side(enum.StrEnum):
    RESIDENT = "resident"
    SHOP = "shop"


class ShopConversation(Timestamped, Base):
    __tablename__ = "ordering_conversations"
    __table_args__ = (
        UniqueConstraint("user_id", "miniapp_id", "order_ref",
                         name="uq_ordering_conversations_subject"),
        Index("ix_ordering_conversations_merchant_last", "merchant_id", "last_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("cnv"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    miniapp_id: Mapped[int] = mapped_column(ForeignKey("miniapps.id", ondelete="CASCADE"))
    order_ref: Mapped[str] = mapped_column(String(24), default="")
    last_at: Mapped[datetime | None] = mapped_column()
    waiting_since: Mapped[datetime | None] = mapped_column()
    resident_read_at: Mapped[datetime | None] = mapped_column()
    shop_read_at: Mapped[datetime | None] = mapped_column()

    messages: Mapped[list[ShopMessage]] = relationship(
        back_populates="conversation", order_by="ShopMessage.id", cascade="all, delete-orphan",
    )


class ShopMessage(Timestamped, Base):
    __tablename__ = "ordering_messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "client_key", name="uq_ordering_messages_client_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("smg"))
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("ordering_conversations.id", ondelete="CASCADE"), index=True)
    side: Mapped[Side] = mapped_column(str_enum(Side, 16))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(String(BODY_MAX))
    client_key: Mapped[str] = mapped_column(String(64))  # the sender's idempotency key
    response_seconds: Mapped[int | None] = mapped_column()  # a shop answer that ended a wait

    conversation: Mapped[ShopConversation] = relationship(back_populates="messages")
