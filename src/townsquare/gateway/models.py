"""Gateway data: apps and their RSA keys, the platform's own signing key, capability packages
granted to apps, user access tokens from `alipay.system.oauth.token`, merchants' app
authorization codes and tokens for ISV apps (`alipay.open.auth.token.app`), and the call log."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from townsquare.core import generations
from townsquare.core.database import Base, Timestamped, str_enum
from townsquare.merchants.models import Authorization, ServiceProvider
from townsquare.miniapps.models import MiniApp


def new_app_id() -> str:
    """Sixteen digits like Alipay's app ids: some merchant systems store them as numbers."""
    return "2026" + "".join(secrets.choice("0123456789") for _ in range(12))


class AppStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class GatewayApp(Timestamped, Base):
    """An app that calls the gateway: a mini-app's backend (`miniapp_id`), or a service
    provider's third-party app (`provider_id`) that acts for the merchants who authorize it
    with an `app_auth_token`. Exactly one owner is set."""

    __tablename__ = "gateway_apps"
    __table_args__ = (
        CheckConstraint("(miniapp_id IS NULL) <> (provider_id IS NULL)", name="one_owner"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[str] = mapped_column(String(16), unique=True, default=new_app_id)
    miniapp_id: Mapped[int | None] = mapped_column(
        ForeignKey("miniapps.id", ondelete="CASCADE"), unique=True
    )
    provider_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_providers.id", ondelete="CASCADE"), unique=True
    )
    # an ISV app's registered authorization callback (app_auth_code goes only there)
    redirect_uri: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[AppStatus] = mapped_column(str_enum(AppStatus), default=AppStatus.ACTIVE)

    miniapp: Mapped[MiniApp | None] = relationship()  # loaded when a method needs it
    provider: Mapped[ServiceProvider | None] = relationship()

    @property
    def is_isv(self) -> bool:
        return self.provider_id is not None


class AppKey(Timestamped, Base):
    """One of an app's RSA public keys. Several overlap while a key rotates; a key stops being
    accepted at `retires_at`."""

    __tablename__ = "gateway_app_keys"
    __table_args__ = (UniqueConstraint("app_id", "fingerprint"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("gateway_apps.id", ondelete="CASCADE"))
    public_key: Mapped[str] = mapped_column(Text)  # base64 SubjectPublicKeyInfo
    fingerprint: Mapped[str] = mapped_column(String(16))
    retires_at: Mapped[datetime | None]


class PlatformKey(Timestamped, Base):
    """The platform's RSA key that signs responses and notifications; the private half is kept
    sealed with a key derived from the server's secret."""

    __tablename__ = "gateway_platform_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(16), unique=True)
    public_key: Mapped[str] = mapped_column(Text)
    sealed_private_key: Mapped[bytes] = mapped_column(LargeBinary)
    retires_at: Mapped[datetime | None]


class GrantStatus(enum.StrEnum):
    REQUESTED = "requested"
    GRANTED = "granted"
    REFUSED = "refused"


class PackageGrant(Base):
    """An app's application for a capability package, and the operator's decision."""

    __tablename__ = "gateway_package_grants"
    __table_args__ = (UniqueConstraint("app_id", "package"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("gateway_apps.id", ondelete="CASCADE"))
    package: Mapped[str] = mapped_column(String(32))
    status: Mapped[GrantStatus] = mapped_column(str_enum(GrantStatus))
    requested_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class UserToken(Base):
    """An `auth_token` an app got for a user from `alipay.system.oauth.token`: it reads only what
    the user consented to, and the user's revocation ends it."""

    __tablename__ = "gateway_user_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("gateway_apps.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    access_digest: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_digest: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    expires_at: Mapped[datetime]
    refresh_expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class AppAuthCode(Base):
    """An `app_auth_code`: a merchant's confirmation handed to the ISV app's redirect URI, spent
    once (`used_at`) within minutes for a token. Only its digest is stored."""

    __tablename__ = "gateway_app_auth_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("gateway_apps.id", ondelete="CASCADE"))
    authorization_id: Mapped[int] = mapped_column(
        ForeignKey("authorizations.id", ondelete="CASCADE")
    )
    code_digest: Mapped[str] = mapped_column(String(64), unique=True)
    packages: Mapped[list[Any]] = mapped_column(default=list)  # what the merchant confirmed
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class AppAuthToken(Base):
    """An `app_auth_token` and its refresh token (digests only): an ISV app acting for one
    merchant. It holds while its merchant → provider authorization does; a refresh retires the
    pair (`retired_at`) and issues the next one."""

    __tablename__ = "gateway_app_auth_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("gateway_apps.id", ondelete="CASCADE"))
    authorization_id: Mapped[int] = mapped_column(
        ForeignKey("authorizations.id", ondelete="CASCADE"), index=True
    )
    access_digest: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_digest: Mapped[str] = mapped_column(String(64), unique=True)
    packages: Mapped[list[Any]] = mapped_column(default=list)
    auth_start: Mapped[datetime]  # when the merchant confirmed (kept across refreshes)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    refresh_expires_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]

    authorization: Mapped[Authorization] = relationship(lazy="joined")


class CallRecord(Base):
    """One call through the gateway, for the app's call log and its per-method figures."""

    __tablename__ = "gateway_calls"
    __table_args__ = (Index("ix_gateway_calls_app_at", "app_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("gateway_apps.id", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(8))
    sub_code: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime]
    elapsed_ms: Mapped[int]


class NotificationState(enum.StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    DELIVERED = "delivered"  # the receiver answered exactly `success`
    GAVE_UP = "gave_up"  # every scheduled attempt failed; the owner may resend


class Notification(Timestamped, Base):
    """An asynchronous notification to an app's `notify_url`, kept until delivered: it is written
    in the same transaction as the change it reports, so nothing is announced that did not
    happen and nothing that happened goes unannounced."""

    __tablename__ = "gateway_notifications"
    __table_args__ = (Index("ix_gateway_notifications_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notify_id: Mapped[str] = mapped_column(String(40), unique=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("gateway_apps.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(512))
    notify_type: Mapped[str] = mapped_column(String(48))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the business parameters
    state: Mapped[NotificationState] = mapped_column(
        str_enum(NotificationState), default=NotificationState.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class NotificationAttempt(Base):
    """One try at delivering a notification: what the receiver answered, or why it failed."""

    __tablename__ = "gateway_notification_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(
        ForeignKey("gateway_notifications.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime]
    status_code: Mapped[int | None]
    answer: Mapped[str] = mapped_column(String(200), default="")
    error: Mapped[str] = mapped_column(String(200), default="")
    elapsed_ms: Mapped[int] = mapped_column(default=0)


# What a gateway call knows of its app and of the platform's key is cached per process
# (`gateway/directory.py`) and reloaded when a change to one of these moves this generation.
GENERATION = "gateway"
for _model in (GatewayApp, AppKey, PackageGrant, PlatformKey):
    generations.watch(_model, GENERATION)
