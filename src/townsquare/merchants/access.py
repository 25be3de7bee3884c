"""Who may act for a merchant: its own staff, or staff of a provider (ISV) it has authorized.

Every service that touches a merchant's data asks here, so routes, pages and jobs agree.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.models import Role, User
from townsquare.core import audit
from townsquare.core.errors import PermissionDenied
from townsquare.merchants.models import (
    Authorization,
    Merchant,
    MerchantStaff,
    ProviderStaff,
    ServiceProvider,
)


def merchant_ids_of(db: Session, user: User) -> list[int]:
    """Merchants the user works for directly (as merchant staff)."""
    stmt = select(MerchantStaff.merchant_id).where(MerchantStaff.user_id == user.id)
    return list(db.scalars(stmt))


def provider_ids_of(db: Session, user: User) -> list[int]:
    """Service providers the user works for (as ISV staff)."""
    stmt = select(ProviderStaff.provider_id).where(ProviderStaff.user_id == user.id)
    return list(db.scalars(stmt))


def active_authorization(
    db: Session, *, merchant_id: int, provider_id: int
) -> Authorization | None:
    stmt = select(Authorization).where(
        Authorization.merchant_id == merchant_id,
        Authorization.provider_id == provider_id,
        Authorization.revoked_at.is_(None),
    )
    return db.scalar(stmt)


def is_merchant_staff(db: Session, actor: User, merchant: Merchant) -> bool:
    return actor.has_role(Role.MERCHANT_STAFF) and merchant.id in merchant_ids_of(db, actor)


def acting_provider(db: Session, actor: User, merchant: Merchant) -> ServiceProvider | None:
    """The actor's provider currently authorized by `merchant`, if any."""
    if not actor.has_role(Role.ISV_STAFF):
        return None
    for provider_id in provider_ids_of(db, actor):
        if active_authorization(db, merchant_id=merchant.id, provider_id=provider_id):
            return db.get(ServiceProvider, provider_id)
    return None


def can_act_for(db: Session, actor: User | None, merchant: Merchant) -> bool:
    """`None` is the system (CLI, jobs): it may act for anyone."""
    if actor is None:
        return True
    if is_merchant_staff(db, actor, merchant):
        return True
    return acting_provider(db, actor, merchant) is not None


def require_act_for(db: Session, actor: User | None, merchant: Merchant) -> None:
    if not can_act_for(db, actor, merchant):
        # Same answer as for a missing merchant: do not reveal what exists to outsiders.
        raise PermissionDenied("You cannot act for this merchant.")


def require_provider_staff(db: Session, actor: User | None, provider: ServiceProvider) -> None:
    if actor is None:
        return
    if not (actor.has_role(Role.ISV_STAFF) and provider.id in provider_ids_of(db, actor)):
        raise PermissionDenied("You do not work for this service provider.")


def belongs_to(db: Session, actor: User, merchant: Merchant) -> bool:
    """The actor works for the merchant: its staff (with any role), or staff of a provider it
    currently authorizes."""
    if merchant.id in merchant_ids_of(db, actor):
        return True
    return any(active_authorization(db, merchant_id=merchant.id, provider_id=provider_id)
               for provider_id in provider_ids_of(db, actor))


def require_independent(
    db: Session, actor: User | None, merchant: Merchant, *, decision: str, subject_type: str,
    subject_id: str,
) -> None:
    """Separation of duties: nobody decides a review, brand, dispute or takedown for a merchant
    they belong to. The refusal is audited (and the audit outlives the refused request)."""
    if actor is None or not belongs_to(db, actor, merchant):
        return
    audit.record_refusal(
        db, actor_id=actor.id, action="duty.conflict_refused", subject_type=subject_type,
        subject_id=subject_id, decision=decision, merchant=merchant.public_id,
    )
    raise PermissionDenied("You cannot decide this for a merchant you work for.",
                           code="conflict_of_interest")
