"""The mini-app registry: mini-apps, their reviewed versions, templates, the service hub and
the consents and one-time codes through which a mini-app learns about its user."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from townsquare.core import generations
from townsquare.core.database import Base, Timestamped, str_enum, utcnow
from townsquare.core.ids import new_id
from townsquare.merchants.models import Category, Merchant, ServiceProvider


class MiniAppKind(enum.StrEnum):
    TEMPLATE = "template"  # a first-party template served by the platform
    EXTERNAL = "external"  # the owner's own web app at a URL


class TemplateStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"  # out of the gallery for good; mini-apps made from it keep running


class Template(Timestamped, Base):
    """A configurable first-party mini-app an ISV offers to merchants."""

    __tablename__ = "templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("tpl"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("service_providers.id"))
    runtime: Mapped[str] = mapped_column(String(32))  # which first-party page renders it
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    # [{"name", "label", "type": text|url|number|bool|choice, "required", "default", "choices"}]
    fields: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[TemplateStatus] = mapped_column(
        str_enum(TemplateStatus, 16), default=TemplateStatus.DRAFT
    )
    # The current published version (0 while a draft): name … fields above mirror it.
    version: Mapped[int] = mapped_column(default=0)
    withdrawn_at: Mapped[datetime | None]
    withdrawn_reason: Mapped[str] = mapped_column(Text, default="")

    provider: Mapped[ServiceProvider] = relationship(lazy="joined")
    category: Mapped[Category | None] = relationship(lazy="joined")


class TemplateVersion(Base):
    """One published state of a template, kept so that a mini-app made from it keeps exactly
    the defaults it was made with, and an upgrade can tell the merchant's own values apart."""

    __tablename__ = "template_versions"
    __table_args__ = (UniqueConstraint("template_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("templates.id", ondelete="CASCADE"))
    number: Mapped[int]
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    fields: Mapped[list[Any]] = mapped_column(default=list)
    note: Mapped[str] = mapped_column(Text, default="")  # what changed, for the merchants
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class MiniApp(Timestamped, Base):
    """A mini-app. Its listing fields (name … cities) mirror its published version, if any."""

    __tablename__ = "miniapps"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("ma"))
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    builder_provider_id: Mapped[int | None] = mapped_column(ForeignKey("service_providers.id"))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    kind: Mapped[MiniAppKind] = mapped_column(str_enum(MiniAppKind, 16))
    template_id: Mapped[int | None] = mapped_column(ForeignKey("templates.id"))
    client_secret_digest: Mapped[str] = mapped_column(String(64))
    # When an ISV's staff received the current client secret (created or rotated it), the
    # authorization they acted under: the secret works only while that authorization stands.
    secret_authorization_id: Mapped[int | None] = mapped_column(
        ForeignKey("authorizations.id", ondelete="SET NULL")
    )

    name: Mapped[str] = mapped_column(String(64), index=True)
    icon: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[Any]] = mapped_column(default=list)
    cities: Mapped[list[Any]] = mapped_column(default=list)

    listed: Mapped[bool] = mapped_column(default=False, index=True)  # has a published version
    taken_down_reason: Mapped[str] = mapped_column(Text, default="")

    merchant: Mapped[Merchant] = relationship(lazy="joined")
    builder: Mapped[ServiceProvider | None] = relationship(lazy="joined")
    category: Mapped[Category] = relationship(lazy="joined")
    template: Mapped[Template | None] = relationship(lazy="joined")

    @property
    def runtime(self) -> str:
        """The first-party runtime a template mini-app runs on (only those have one)."""
        if self.template is None:
            raise ValueError(f"{self.public_id} is not made from a template")
        return self.template.runtime


class VersionState(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    PUBLISHED = "published"
    SUPERSEDED = "superseded"
    TAKEN_DOWN = "taken_down"


class ReviewLane(enum.StrEnum):
    STANDARD = "standard"
    EXPEDITED = "expedited"


class MiniAppVersion(Timestamped, Base):
    """One reviewable version: a snapshot of everything a resident would see."""

    __tablename__ = "miniapp_versions"
    __table_args__ = (
        UniqueConstraint("miniapp_id", "number"),
        Index("ix_versions_queue", "state", "lane", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("ver"))
    miniapp_id: Mapped[int] = mapped_column(ForeignKey("miniapps.id", ondelete="CASCADE"))
    number: Mapped[int]
    label: Mapped[str] = mapped_column(String(32))  # e.g. "1.2.0"
    changelog: Mapped[str] = mapped_column(Text, default="")

    name: Mapped[str] = mapped_column(String(64))
    icon: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[Any]] = mapped_column(default=list)
    cities: Mapped[list[Any]] = mapped_column(default=list)
    external_url: Mapped[str] = mapped_column(String(500), default="")
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The template version whose defaults this config was made from (template mini-apps only).
    template_version: Mapped[int | None]

    state: Mapped[VersionState] = mapped_column(
        str_enum(VersionState, 16), default=VersionState.DRAFT
    )
    lane: Mapped[ReviewLane | None] = mapped_column(str_enum(ReviewLane, 16))
    publish_on_approval: Mapped[bool] = mapped_column(default=False)
    submitted_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text, default="")  # rejection or takedown reason

    miniapp: Mapped[MiniApp] = relationship(lazy="joined")


class HubSection(Base):
    """A category of services on the home page, in the operator's chosen order."""

    __tablename__ = "hub_sections"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("hub"))
    title_zh: Mapped[str] = mapped_column(String(32))
    title_en: Mapped[str] = mapped_column(String(48))
    icon: Mapped[str] = mapped_column(String(16), default="")
    position: Mapped[int] = mapped_column(default=0)

    entries: Mapped[list[HubEntry]] = relationship(
        back_populates="section", order_by="HubEntry.position", cascade="all, delete-orphan"
    )

    def title(self, locale: str) -> str:
        return self.title_en if locale == "en" else self.title_zh


class HubEntry(Base):
    __tablename__ = "hub_entries"
    __table_args__ = (UniqueConstraint("section_id", "miniapp_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("hub_sections.id", ondelete="CASCADE"))
    miniapp_id: Mapped[int] = mapped_column(ForeignKey("miniapps.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)

    section: Mapped[HubSection] = relationship(back_populates="entries")
    miniapp: Mapped[MiniApp] = relationship(lazy="joined")


class Consent(Base):
    """Profile fields a user agreed to share with one mini-app (revocable)."""

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("user_id", "miniapp_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    miniapp_id: Mapped[int] = mapped_column(ForeignKey("miniapps.id", ondelete="CASCADE"))
    scopes: Mapped[list[Any]] = mapped_column(default=list)  # subset of {"phone", "real_name"}
    granted_at: Mapped[datetime]


class AuthCode(Base):
    """A one-time code a mini-app backend exchanges for the consented profile fields."""

    __tablename__ = "auth_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    miniapp_id: Mapped[int] = mapped_column(ForeignKey("miniapps.id", ondelete="CASCADE"))
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class IssuedSub(Base):
    """A pseudonymous user id (`sub`) the platform issued to a mini-app when the user opened it:
    the event intake accepts a mini-app's events only about users it was really given."""

    __tablename__ = "miniapp_issued_subs"
    __table_args__ = (UniqueConstraint("miniapp_id", "sub"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    miniapp_id: Mapped[int] = mapped_column(ForeignKey("miniapps.id", ondelete="CASCADE"))
    sub: Mapped[str] = mapped_column(String(35))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    first_at: Mapped[datetime]  # the first launch: the user's first real interaction


class FormSubmission(Base):
    """What a resident sent through the form of a first-party mini-app page (a health check-in,
    a repair request, a donation pledge…): kept for the mini-app, under the pseudonymous `sub`
    it was given, and shown back to the resident on that page."""

    __tablename__ = "miniapp_form_submissions"
    __table_args__ = (Index("ix_form_submissions_app_sub", "miniapp_id", "sub", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("fs"))
    miniapp_id: Mapped[int] = mapped_column(ForeignKey("miniapps.id", ondelete="CASCADE"))
    sub: Mapped[str] = mapped_column(String(35))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # service_forms.FORMS key
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    amount_fen: Mapped[int] = mapped_column(default=0)  # a donation pledge's amount, else 0
    created_at: Mapped[datetime]

    @property
    def reference(self) -> str:
        """What the resident quotes when they call about it (fs_xqjcm0yd… → XQJCM0YD)."""
        return self.public_id.removeprefix("fs_")[:8].upper()


# The hub's and the topic pages' cached snapshots are rebuilt when these change (generations).
generations.watch(MiniApp, "hub", "topics")
generations.watch(HubSection, "hub")
generations.watch(HubEntry, "hub")
# The serving snapshot and the search index reload when a listed mini-app may have changed.
generations.watch(MiniApp, "catalog")
