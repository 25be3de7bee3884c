"""Service providers (ISVs): operators open them with a first staff member; staff add colleagues.

A provider's name and description form a public directory (merchants pick a provider from it);
its staff and the merchants it serves are visible to its own staff only.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from townsquare.accounts.models import Role, User
from townsquare.accounts.permissions import require_role
from townsquare.core import audit
from townsquare.core.errors import Conflict, NotFound, PermissionDenied
from townsquare.core.i18n import N_
from townsquare.core.text import clean_name, clean_text, well_formed
from townsquare.merchants import access
from townsquare.merchants.membership import ensure_role, user_named
from townsquare.merchants.models import ProviderStaff, ServiceProvider

DESCRIPTION_MESSAGE = N_("A description is at most {n} characters of plain text.")


def provider_by_public_id(db: Session, *, public_id: str) -> ServiceProvider | None:
    """The provider with this public id, without any permission check (for other services)."""
    if not well_formed(public_id, "isv"):
        return None
    return db.scalar(select(ServiceProvider).where(ServiceProvider.public_id == public_id))


def get_provider(db: Session, *, public_id: str) -> ServiceProvider:
    """A provider's public entry (name, description), or NotFound."""
    provider = provider_by_public_id(db, public_id=public_id)
    if provider is None:
        raise NotFound("No such service provider.")
    return provider


def list_providers(db: Session) -> list[ServiceProvider]:
    """The public directory of providers, by name."""
    return list(db.scalars(select(ServiceProvider).order_by(ServiceProvider.name)))


def count_providers(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(ServiceProvider)) or 0


def staffed_provider(db: Session, *, actor: User | None, public_id: str) -> ServiceProvider:
    """A provider the actor works for; anyone else gets the same answer whether it exists or not."""
    provider = provider_by_public_id(db, public_id=public_id)
    if provider is None:
        if actor is None:
            raise NotFound("No such service provider.")
        raise PermissionDenied("You do not work for this service provider.")
    access.require_provider_staff(db, actor, provider)
    return provider


def my_providers(db: Session, *, actor: User) -> list[ServiceProvider]:
    """The providers the actor works for, by name."""
    stmt = (
        select(ServiceProvider)
        .join(ProviderStaff, ProviderStaff.provider_id == ServiceProvider.id)
        .where(ProviderStaff.user_id == actor.id)
        .order_by(ServiceProvider.name)
    )
    return list(db.scalars(stmt))


def create_provider(
    db: Session, *, actor: User | None, name: str, staff_username: str, description: str = ""
) -> ServiceProvider:
    """An operator opens a provider with its first staff member (who gets the ISV staff role)."""
    require_role(actor, Role.OPERATOR)
    name = clean_name(name)
    description = clean_text(description, field="description", message=DESCRIPTION_MESSAGE)
    staff = user_named(db, staff_username)
    taken = db.scalar(
        select(func.count()).select_from(ServiceProvider).where(ServiceProvider.name == name)
    )
    if taken:
        raise Conflict("A service provider named {name} already exists.", name=name)
    provider = ServiceProvider(name=name, description=description)
    db.add(provider)
    db.flush()
    ensure_role(db, actor=actor, user=staff, role=Role.ISV_STAFF)
    db.add(ProviderStaff(provider_id=provider.id, user_id=staff.id))
    audit.record(
        db, actor_id=actor.id if actor else None, action="provider.create",
        subject_type="provider", subject_id=provider.public_id, staff=staff.public_id,
    )
    db.flush()
    return provider


def list_provider_staff(db: Session, *, actor: User | None, provider_id: str) -> list[User]:
    """The provider's staff, by username (visible to its own staff)."""
    provider = staffed_provider(db, actor=actor, public_id=provider_id)
    stmt = (
        select(User)
        .join(ProviderStaff, ProviderStaff.user_id == User.id)
        .where(ProviderStaff.provider_id == provider.id)
        .order_by(User.username)
    )
    return list(db.scalars(stmt))


def add_provider_staff(
    db: Session, *, actor: User | None, provider_id: str, username: str
) -> User:
    """Provider staff add a colleague by username (who gets the ISV staff role)."""
    provider = staffed_provider(db, actor=actor, public_id=provider_id)
    user = user_named(db, username)
    exists = db.scalar(
        select(ProviderStaff.id).where(
            ProviderStaff.provider_id == provider.id, ProviderStaff.user_id == user.id
        )
    )
    if exists:
        raise Conflict(
            "{username} already works for this service provider.", username=user.username
        )
    ensure_role(db, actor=actor, user=user, role=Role.ISV_STAFF)
    db.add(ProviderStaff(provider_id=provider.id, user_id=user.id))
    audit.record(
        db, actor_id=actor.id if actor else None, action="provider.staff_add",
        subject_type="provider", subject_id=provider.public_id, user=user.public_id,
    )
    db.flush()
    return user
