"""Who may act for a merchant: its own staff, or staff of a provider (ISV) it has authorized.

Every service that touches a merchant's data asks here, so routes, pages and jobs agree. The
answers are remembered for the rest of the unit of work (one request): a console page asked the
same questions a dozen times through its services (11 `merchant_ids_of` on one merchant page).
Any flush, commit or rollback forgets them, so a request that changes staff or authorizations
and asks again reads the database again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, select
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

_MEMO = "townsquare.merchants.access"


def _memo(db: Session) -> dict[tuple[Any, ...], Any]:
    """This unit of work's answers; a throwaway dict while changes wait for a flush (the query
    would have flushed them first, and its answer may depend on them)."""
    if db.new or db.deleted or db.identity_map.check_modified():
        db.info.pop(_MEMO, None)
        return {}
    return db.info.setdefault(_MEMO, {})


@event.listens_for(Session, "after_flush")
@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, *_args: Any) -> None:
    session.info.pop(_MEMO, None)


def merchant_ids_of(db: Session, user: User) -> list[int]:
    """Merchants the user works for directly (as merchant staff)."""
    memo, key = _memo(db), ("merchants", user.id)
    if key not in memo:
        stmt = select(MerchantStaff.merchant_id).where(MerchantStaff.user_id == user.id)
        memo[key] = tuple(db.scalars(stmt))
    return list(memo[key])


def provider_ids_of(db: Session, user: User) -> list[int]:
    """Service providers the user works for (as ISV staff)."""
    memo, key = _memo(db), ("providers", user.id)
    if key not in memo:
        stmt = select(ProviderStaff.provider_id).where(ProviderStaff.user_id == user.id)
        memo[key] = tuple(db.scalars(stmt))
    return list(memo[key])


def active_authorization(
    db: Session, *, merchant_id: int, provider_id: int
) -> Authorization | None:
    memo, key = _memo(db), ("authorization", merchant_id, provider_id)
    if key not in memo:
        stmt = select(Authorization).where(
            Authorization.merchant_id == merchant_id,
            Authorization.provider_id == provider_id,
            Authorization.revoked_at.is_(None),
        )
        memo[key] = db.scalar(stmt)
    return memo[key]


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
