"""Authorizations: a merchant lets a service provider act for it, and may take that back any time.

Revoking keeps the row (who granted, who revoked, when) and from that moment
`access.can_act_for` is False for the provider's staff. Only the merchant's own staff grant,
revoke or list authorizations: a provider cannot widen or inspect its own mandate.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core import audit
from townsquare.core.clock import clock
from townsquare.core.errors import Conflict, NotFound
from townsquare.core.text import well_formed
from townsquare.merchants import access
from townsquare.merchants.models import Authorization, Merchant, MerchantStaff
from townsquare.merchants.providers import get_provider, staffed_provider
from townsquare.merchants.service import staffed_merchant


def _owner_id(db: Session, merchant: Merchant) -> int | None:
    stmt = select(MerchantStaff.user_id).where(
        MerchantStaff.merchant_id == merchant.id, MerchantStaff.is_owner.is_(True)
    )
    return db.scalar(stmt.order_by(MerchantStaff.id).limit(1))


def grant(db: Session, *, actor: User | None, merchant_id: str, provider_id: str) -> Authorization:
    """Merchant staff authorize a provider (by public id) to act for the merchant."""
    merchant = staffed_merchant(db, actor=actor, public_id=merchant_id)
    provider = get_provider(db, public_id=provider_id)
    # Lock the merchant row so two simultaneous grants cannot both pass the check below
    # (PostgreSQL; SQLite already serialises writers at BEGIN).
    db.execute(select(Merchant.id).where(Merchant.id == merchant.id).with_for_update())
    if access.active_authorization(db, merchant_id=merchant.id, provider_id=provider.id):
        raise Conflict(
            "{provider} is already authorized for this merchant.", provider=provider.name
        )
    authorization = Authorization(
        merchant=merchant,
        provider=provider,
        # the system (CLI, demo seeding) grants in the name of the merchant's owner
        granted_by_id=actor.id if actor else _owner_id(db, merchant),
        granted_at=clock.now(),
    )
    db.add(authorization)
    db.flush()
    audit.record(
        db, actor_id=actor.id if actor else None, action="authorization.grant",
        subject_type="merchant", subject_id=merchant.public_id,
        provider=provider.public_id, authorization=authorization.public_id,
    )
    return authorization


def revoke(
    db: Session, *, actor: User | None, merchant_id: str, authorization_id: str
) -> Authorization:
    """Merchant staff withdraw an authorization; the row stays as history."""
    merchant = staffed_merchant(db, actor=actor, public_id=merchant_id)
    found = None
    if well_formed(authorization_id, "auz"):
        found = db.scalar(
            select(Authorization).where(
                Authorization.public_id == authorization_id,
                Authorization.merchant_id == merchant.id,
            )
        )
    if found is None:
        raise NotFound("No such authorization.")
    if found.revoked_at is not None:
        raise Conflict("This authorization was already revoked.")
    found.revoked_at = clock.now()
    found.revoked_by_id = actor.id if actor else None
    audit.record(
        db, actor_id=actor.id if actor else None, action="authorization.revoke",
        subject_type="merchant", subject_id=merchant.public_id,
        provider=found.provider.public_id, authorization=found.public_id,
    )
    db.flush()
    return found


def for_merchant(db: Session, *, actor: User | None, merchant_id: str) -> list[Authorization]:
    """The merchant's authorizations, active ones first, then history, newest first."""
    merchant = staffed_merchant(db, actor=actor, public_id=merchant_id)
    stmt = (
        select(Authorization)
        .where(Authorization.merchant_id == merchant.id)
        .order_by(Authorization.revoked_at.is_not(None), Authorization.granted_at.desc())
    )
    return list(db.scalars(stmt))


def authorizing_merchants(db: Session, *, actor: User | None, provider_id: str) -> list[Merchant]:
    """The merchants currently authorizing a provider (visible to the provider's staff)."""
    provider = staffed_provider(db, actor=actor, public_id=provider_id)
    stmt = (
        select(Merchant)
        .join(Authorization, Authorization.merchant_id == Merchant.id)
        .where(Authorization.provider_id == provider.id, Authorization.revoked_at.is_(None))
        .order_by(Merchant.name, Merchant.id)
    )
    return list(db.scalars(stmt).unique())
