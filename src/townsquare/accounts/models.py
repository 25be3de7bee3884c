"""People: users, the roles they hold, login sessions and real-name identities."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from townsquare.core.database import Base, Timestamped, str_enum
from townsquare.core.ids import new_id


class Role(enum.StrEnum):
    RESIDENT = "resident"
    MERCHANT_STAFF = "merchant_staff"
    ISV_STAFF = "isv_staff"
    OPERATOR = "operator"  # platform operator: reviews, certifies, curates
    GUARD = "guard"
    PROPERTY_MANAGER = "property_manager"
    COMMITTEE = "committee"
    TECHNICIAN = "technician"  # a community's repair technician (community/repairs)


class User(Timestamped, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("usr"))
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    locale: Mapped[str] = mapped_column(String(8), default="zh_CN")
    is_active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]

    roles: Mapped[list[RoleGrant]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )
    identity: Mapped[Identity | None] = relationship(back_populates="user", lazy="selectin")

    def has_role(self, role: Role) -> bool:
        return any(grant.role == role for grant in self.roles)

    @property
    def role_names(self) -> list[str]:
        return sorted(grant.role.value for grant in self.roles)


class RoleGrant(Base):
    __tablename__ = "role_grants"
    __table_args__ = (UniqueConstraint("user_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[Role] = mapped_column(str_enum(Role, 32))
    user: Mapped[User] = relationship(back_populates="roles")


class AuthSession(Timestamped, Base):
    """A login: a browser cookie session or an API bearer token, stored as a digest."""

    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # "cookie" or "bearer"
    csrf_token: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="joined")


class Identity(Base):
    """A verified real-name identity. The ID number is kept only as a keyed digest and a mask."""

    __tablename__ = "identities"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    real_name: Mapped[str] = mapped_column(String(64))
    id_digest: Mapped[str] = mapped_column(String(64), unique=True)
    id_masked: Mapped[str] = mapped_column(String(24))
    phone: Mapped[str] = mapped_column(String(16))
    verified_at: Mapped[datetime]

    user: Mapped[User] = relationship(back_populates="identity")


class Address(Timestamped, Base):
    """One entry of a resident's address book (accounts/addresses.py): where an order is
    delivered. Checkout copies it into the order (a snapshot), so editing or deleting an entry
    never changes an order already placed. The location (WGS-84 degrees) decides the store's
    delivery zone and fee."""

    __tablename__ = "addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("adr"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(16), default="")  # 家, 公司 … (may be empty)
    name: Mapped[str] = mapped_column(String(32))  # who receives it
    phone: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(String(120))  # the place: compound, street and number
    detail: Mapped[str] = mapped_column(String(80), default="")  # building, unit, room
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)

    @property
    def full_text(self) -> str:
        return f"{self.text} {self.detail}".strip()
