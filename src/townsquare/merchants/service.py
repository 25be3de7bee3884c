"""Merchants and their staff: creation (by an operator, or self-registration), profile, staff.

Who may do what:
- see a merchant: its staff, staff of a provider it authorizes, operators (oversight);
- edit its profile (description, cities): its staff or an authorized provider's staff;
- see or manage its staff: its staff see the list, only owners add or remove;
- nobody else learns whether a merchant exists: outsiders get the same answer either way.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from townsquare.accounts.models import Role, User
from townsquare.accounts.permissions import is_operator, require_role
from townsquare.core import audit
from townsquare.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from townsquare.core.i18n import N_
from townsquare.core.text import clean_cities, clean_name, clean_text, well_formed
from townsquare.merchants import access
from townsquare.merchants.categories import get_category
from townsquare.merchants.membership import ensure_role, user_named
from townsquare.merchants.models import Merchant, MerchantStaff

_MERCHANT_IDS = "townsquare.merchants.ids_by_public_id"  # db.info key: public id → row id
DESCRIPTION_MESSAGE = N_("A description is at most {n} characters of plain text.")


def merchant_by_public_id(db: Session, *, public_id: str) -> Merchant | None:
    """The merchant with this public id, without any permission check (for other services)."""
    if not well_formed(public_id, "mer"):
        return None
    # A console page asks for the same merchant once per service it calls: the row id is
    # remembered for the session, and the identity map answers again without a query.
    known: dict[str, int] = db.info.setdefault(_MERCHANT_IDS, {})
    if public_id in known:
        merchant = db.get(Merchant, known[public_id])
        if merchant is not None:
            return merchant
    merchant = db.scalar(select(Merchant).where(Merchant.public_id == public_id))
    if merchant is not None:
        known[public_id] = merchant.id
    return merchant


def _hidden(actor: User | None) -> Exception:
    # Outsiders get one answer for "missing" and "not yours"; operators see everything, so
    # for them a missing merchant is simply not found.
    if is_operator(actor):
        return NotFound("No such merchant.")
    return PermissionDenied("You cannot act for this merchant.")


def get_merchant(db: Session, *, actor: User | None, public_id: str) -> Merchant:
    """A merchant the actor may see (staff, authorized provider staff, operators)."""
    merchant = merchant_by_public_id(db, public_id=public_id)
    if merchant is None or not (is_operator(actor) or access.can_act_for(db, actor, merchant)):
        raise _hidden(actor)
    return merchant


def merchant_for_actor(db: Session, *, actor: User | None, public_id: str) -> Merchant:
    """A merchant the actor may act for (its staff or an authorized provider's staff)."""
    merchant = merchant_by_public_id(db, public_id=public_id)
    if merchant is None:
        raise _hidden(actor)
    access.require_act_for(db, actor, merchant)
    return merchant


def staffed_merchant(db: Session, *, actor: User | None, public_id: str) -> Merchant:
    """A merchant the actor works for directly (providers may not manage staff, brands, grants)."""
    merchant = merchant_by_public_id(db, public_id=public_id)
    if merchant is None:
        raise _hidden(actor)
    if actor is not None and not access.is_merchant_staff(db, actor, merchant):
        raise PermissionDenied("Only the merchant's own staff can do this.")
    return merchant


def is_owner(db: Session, actor: User | None, merchant: Merchant) -> bool:
    if actor is None:
        return True
    stmt = select(MerchantStaff.is_owner).where(
        MerchantStaff.merchant_id == merchant.id, MerchantStaff.user_id == actor.id
    )
    return bool(db.scalar(stmt))


def _new_merchant(
    db: Session,
    *,
    actor: User | None,
    owner: User,
    name: str,
    description: str,
    category_code: str,
    cities: list[str],
) -> Merchant:
    name = clean_name(name)
    description = clean_text(description, field="description", message=DESCRIPTION_MESSAGE)
    cities = clean_cities(cities)
    try:
        category = get_category(db, code=category_code)
    except NotFound as exc:
        raise ValidationFailed(
            "No such category: {category}.", category=(category_code or "")[:32], field="category"
        ) from exc
    merchant = Merchant(name=name, description=description, category=category, cities=cities)
    db.add(merchant)
    db.flush()
    ensure_role(db, actor=actor, user=owner, role=Role.MERCHANT_STAFF)
    db.add(MerchantStaff(merchant_id=merchant.id, user_id=owner.id, is_owner=True))
    audit.record(
        db, actor_id=actor.id if actor else None, action="merchant.create",
        subject_type="merchant", subject_id=merchant.public_id, owner=owner.public_id,
    )
    db.flush()
    return merchant


def create_merchant(
    db: Session,
    *,
    actor: User | None,
    owner_username: str,
    name: str,
    category_code: str,
    cities: list[str],
    description: str = "",
) -> Merchant:
    """An operator opens a merchant for an existing user, who becomes its owner."""
    require_role(actor, Role.OPERATOR)
    owner = user_named(db, owner_username)
    return _new_merchant(
        db, actor=actor, owner=owner, name=name, description=description,
        category_code=category_code, cities=cities,
    )


def register_merchant(
    db: Session,
    *,
    actor: User,
    name: str,
    category_code: str,
    cities: list[str],
    description: str = "",
) -> Merchant:
    """A user registers their own merchant and becomes its owner."""
    return _new_merchant(
        db, actor=actor, owner=actor, name=name, description=description,
        category_code=category_code, cities=cities,
    )


def update_merchant(
    db: Session,
    *,
    actor: User | None,
    public_id: str,
    description: str | None = None,
    cities: list[str] | None = None,
) -> Merchant:
    """Edit the profile: description and cities (staff or an authorized provider)."""
    merchant = merchant_for_actor(db, actor=actor, public_id=public_id)
    changes: dict[str, object] = {}
    if description is not None:
        changes["description"] = clean_text(
            description, field="description", message=DESCRIPTION_MESSAGE
        )
    if cities is not None:
        changes["cities"] = clean_cities(cities)
    for key, value in changes.items():
        setattr(merchant, key, value)
    if changes:
        audit.record(
            db, actor_id=actor.id if actor else None, action="merchant.update",
            subject_type="merchant", subject_id=merchant.public_id, fields=sorted(changes),
        )
        db.flush()
    return merchant


def my_merchants(db: Session, *, actor: User) -> list[Merchant]:
    """The merchants the actor works for directly, by name."""
    stmt = (
        select(Merchant)
        .join(MerchantStaff, MerchantStaff.merchant_id == Merchant.id)
        .where(MerchantStaff.user_id == actor.id)
        .order_by(Merchant.name, Merchant.id)
    )
    return list(db.scalars(stmt).unique())


def list_merchants(
    db: Session, *, actor: User | None, limit: int = 50, offset: int = 0
) -> list[Merchant]:
    """All merchants, newest first (operators only)."""
    require_role(actor, Role.OPERATOR)
    stmt = select(Merchant).order_by(Merchant.created_at.desc(), Merchant.id.desc())
    return list(db.scalars(stmt.limit(max(1, min(limit, 200))).offset(max(0, offset))).unique())


def count_merchants(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Merchant)) or 0


@dataclass(frozen=True)
class StaffMember:
    user: User
    is_owner: bool


def list_staff(db: Session, *, actor: User | None, public_id: str) -> list[StaffMember]:
    """The merchant's staff, owners first (visible to its own staff only)."""
    merchant = staffed_merchant(db, actor=actor, public_id=public_id)
    stmt = (
        select(User, MerchantStaff.is_owner)
        .join(MerchantStaff, MerchantStaff.user_id == User.id)
        .where(MerchantStaff.merchant_id == merchant.id)
        .order_by(MerchantStaff.is_owner.desc(), User.username)
    )
    return [StaffMember(user=user, is_owner=owner) for user, owner in db.execute(stmt)]


def _require_owner(db: Session, actor: User | None, public_id: str) -> Merchant:
    merchant = staffed_merchant(db, actor=actor, public_id=public_id)
    if not is_owner(db, actor, merchant):
        raise PermissionDenied("Only the merchant's owner can manage its staff.")
    return merchant


def add_staff(db: Session, *, actor: User | None, public_id: str, username: str) -> StaffMember:
    """The owner adds a user (by username) to the merchant's staff."""
    merchant = _require_owner(db, actor, public_id)
    user = user_named(db, username)
    exists = db.scalar(
        select(MerchantStaff.id).where(
            MerchantStaff.merchant_id == merchant.id, MerchantStaff.user_id == user.id
        )
    )
    if exists:
        raise Conflict("{username} already works for this merchant.", username=user.username)
    ensure_role(db, actor=actor, user=user, role=Role.MERCHANT_STAFF)
    db.add(MerchantStaff(merchant_id=merchant.id, user_id=user.id, is_owner=False))
    audit.record(
        db, actor_id=actor.id if actor else None, action="merchant.staff_add",
        subject_type="merchant", subject_id=merchant.public_id, user=user.public_id,
    )
    db.flush()
    return StaffMember(user=user, is_owner=False)


def remove_staff(db: Session, *, actor: User | None, public_id: str, user_id: str) -> None:
    """The owner removes a (non-owner) staff member, named by the user's public id."""
    merchant = _require_owner(db, actor, public_id)
    row = None
    if well_formed(user_id, "usr"):
        row = db.scalar(
            select(MerchantStaff)
            .join(User, User.id == MerchantStaff.user_id)
            .where(MerchantStaff.merchant_id == merchant.id, User.public_id == user_id)
        )
    if row is None:
        raise NotFound("That user does not work for this merchant.")
    if row.is_owner:
        raise ValidationFailed("The owner cannot be removed from the merchant.")
    db.delete(row)
    audit.record(
        db, actor_id=actor.id if actor else None, action="merchant.staff_remove",
        subject_type="merchant", subject_id=merchant.public_id, user=user_id,
    )
    db.flush()
