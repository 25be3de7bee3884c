"""Messaging data: a mini-app's message templates, the users' one-time subscriptions to them,
and the messages in each user's inbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from townsquare.core.database import Base, Timestamped, utcnow
from townsquare.core.ids import new_id
from townsquare.merchants.models import Merchant, ServiceProvider
from townsquare.miniapps.models import MiniApp


class MessageTemplate(Timestamped, Base):
    """A message a mini-app may send: a stable key, a title and a body with {placeholders}."""

    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("miniapp_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("mtp"))
    miniapp_id: Mapped[int] = mapped_column(ForeignKey("miniapps.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(48))
    title: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    # A platform template (e.g. the community pass's reminders): its text is the platform's,
    # the mini-app's owner can neither rewrite it nor send it.
    system: Mapped[bool] = mapped_column(default=False)

    miniapp: Mapped[MiniApp] = relationship(lazy="joined")


class Subscription(Base):
    """One consent to one template: lets the mini-app send that template once (then used)."""

    __tablename__ = "message_subscriptions"
    __table_args__ = (Index("ix_message_subscriptions_open", "user_id", "template_id", "used_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    template_id: Mapped[int] = mapped_column(
        ForeignKey("message_templates.id", ondelete="CASCADE")
    )
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]


class Message(Base):
    """A delivered message in a user's inbox (rendered when sent, so later template edits do not
    rewrite history)."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_inbox", "user_id", "sent_at"),
        Index("ix_messages_rate", "miniapp_id", "user_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("msg"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    miniapp_id: Mapped[int] = mapped_column(ForeignKey("miniapps.id", ondelete="CASCADE"))
    template_id: Mapped[int] = mapped_column(ForeignKey("message_templates.id"))
    title: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    link: Mapped[str] = mapped_column(String(500), default="")  # a page in the shell, or empty
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]

    miniapp: Mapped[MiniApp] = relationship(lazy="joined")


class Notification(Base):
    """A platform notice to the people who run a merchant (and the ISV building its mini-app):
    a review decided, a complaint received, points earned… Stored as a message key and its
    values, rendered when read in the reader's language (core i18n), never as fixed text.
    Who sees it is decided when read: whoever works for the merchant or the provider then."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_merchant", "merchant_id", "created_at"),
        Index("ix_notifications_provider", "provider_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("ntf"))
    merchant_id: Mapped[int | None] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE")
    )
    provider_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_providers.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(48))  # a key of messaging.notifications.KINDS
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    link: Mapped[str] = mapped_column(String(500), default="")  # a console page
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    merchant: Mapped[Merchant | None] = relationship(lazy="joined")
    provider: Mapped[ServiceProvider | None] = relationship(lazy="joined")


class NotificationRead(Base):
    """One reader has read one notification (each of a merchant's staff reads for themselves)."""

    __tablename__ = "notification_reads"

    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    read_at: Mapped[datetime] = mapped_column(default=utcnow)
