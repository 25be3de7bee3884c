"""Brand certification: merchants apply, operators approve, reject or revoke, with reasons.

One brand name (compared case-insensitively) has at most one certified holder. Two operators
approving rival applications at the same moment are serialised by a lock on the name: a
PostgreSQL advisory lock, or SQLite's write lock, which every transaction takes at BEGIN.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from townsquare.accounts.models import Role, User
from townsquare.accounts.permissions import require_role
from townsquare.core import audit
from townsquare.core.clock import clock
from townsquare.core.confusables import skeleton
from townsquare.core.errors import Conflict, NotFound
from townsquare.core.i18n import N_
from townsquare.core.text import REASON_MAX, clean_name, clean_text, well_formed
from townsquare.merchants.access import require_independent
from townsquare.merchants.models import Brand, BrandStatus, Merchant
from townsquare.merchants.service import get_merchant, staffed_merchant

STATUS_LABELS = {
    BrandStatus.PENDING: N_("Pending review"),
    BrandStatus.CERTIFIED: N_("Certified"),
    BrandStatus.REJECTED: N_("Rejected"),
    BrandStatus.REVOKED: N_("Revoked"),
}
EVIDENCE_MESSAGE = N_("Evidence is 1 to {n} characters of plain text.")
REASON_MESSAGE = N_("A reason is required (at most {n} characters).")
_OPEN = (BrandStatus.PENDING, BrandStatus.CERTIFIED)


def name_key(name: str) -> str:
    """The form under which two brand names count as the same: what a reader sees (the UTS #39
    skeleton of the name without invisible characters and spaces, casefolded)."""
    return skeleton(name)


def near_duplicates(db: Session, *, brand: Brand) -> list[Brand]:
    """Other merchants' applications and certificates that look like this brand's name."""
    key = name_key(brand.name)
    stmt = select(Brand).where(Brand.id != brand.id, Brand.merchant_id != brand.merchant_id,
                               Brand.status.in_((BrandStatus.PENDING, BrandStatus.CERTIFIED,
                                                 BrandStatus.REVOKED)))
    return [other for other in db.scalars(stmt.order_by(Brand.id))
            if name_key(other.name) == key]


def _holders(db: Session, key: str, statuses: tuple[BrandStatus, ...]) -> list[Brand]:
    # Compared in Python: neither SQLite's nor a C-locale PostgreSQL's lower() folds non-ASCII.
    # populate_existing: rows this session saw before taking the lock may have changed since
    stmt = select(Brand).where(Brand.status.in_(statuses)).execution_options(populate_existing=True)
    return [brand for brand in db.scalars(stmt) if name_key(brand.name) == key]


def _lock_name(db: Session, key: str) -> None:
    if db.get_bind().dialect.name == "postgresql":
        lock_id = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        db.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})


def apply(
    db: Session, *, actor: User | None, merchant_id: str, name: str, evidence: str
) -> Brand:
    """Merchant staff apply to have a brand name certified for their merchant."""
    merchant = staffed_merchant(db, actor=actor, public_id=merchant_id)
    name = clean_name(name)
    evidence = clean_text(evidence, field="evidence", message=EVIDENCE_MESSAGE, required=True)
    key = name_key(name)
    if any(name_key(b.name) == key and b.status in _OPEN for b in merchant.brands):
        raise Conflict(
            "This merchant already has an application or certificate for {name}.", name=name
        )
    if any(b.merchant_id != merchant.id for b in _holders(db, key, (BrandStatus.CERTIFIED,))):
        raise Conflict("The brand {name} is already certified for another merchant.", name=name)
    brand = Brand(merchant=merchant, name=name, evidence=evidence, status=BrandStatus.PENDING)
    db.add(brand)
    db.flush()
    audit.record(
        db, actor_id=actor.id if actor else None, action="brand.apply",
        subject_type="brand", subject_id=brand.public_id, merchant=merchant.public_id, name=name,
    )
    return brand


def merchant_brands(db: Session, *, actor: User | None, merchant_id: str) -> list[Brand]:
    """A merchant's applications and certificates, newest first (whoever may see the merchant)."""
    merchant = get_merchant(db, actor=actor, public_id=merchant_id)
    stmt = select(Brand).where(Brand.merchant_id == merchant.id)
    return list(db.scalars(stmt.order_by(Brand.created_at.desc(), Brand.id.desc())))


def list_brands(
    db: Session, *, actor: User | None, status: BrandStatus = BrandStatus.PENDING, limit: int = 100
) -> list[Brand]:
    """Applications in one status (operators only); pending ones oldest first, as a queue."""
    require_role(actor, Role.OPERATOR)
    order = Brand.created_at.asc() if status == BrandStatus.PENDING else Brand.decided_at.desc()
    stmt = select(Brand).join(Merchant).where(Brand.status == status).order_by(order, Brand.id)
    return list(db.scalars(stmt.limit(max(1, min(limit, 500)))))


def count_pending(db: Session) -> int:
    stmt = select(func.count()).select_from(Brand).where(Brand.status == BrandStatus.PENDING)
    return db.scalar(stmt) or 0


def _brand(db: Session, public_id: str) -> Brand:
    found = None
    if well_formed(public_id, "brd"):
        found = db.scalar(select(Brand).where(Brand.public_id == public_id))
    if found is None:
        raise NotFound("No such brand application.")
    return found


def _independent(db: Session, actor: User | None, brand: Brand, action: str) -> None:
    require_independent(db, actor, brand.merchant, decision=action, subject_type="brand",
                        subject_id=brand.public_id)


def _decide(
    db: Session,
    *,
    actor: User | None,
    public_id: str,
    expected: BrandStatus,
    to: BrandStatus,
    reason: str,
    action: str,
) -> Brand:
    require_role(actor, Role.OPERATOR)
    brand = _brand(db, public_id)
    _independent(db, actor, brand, action)
    if brand.status != expected:
        if expected == BrandStatus.PENDING:
            raise Conflict("Only a pending application can be approved or rejected.")
        raise Conflict("Only a certified brand can be revoked.")
    previous = brand.status
    brand.status = to
    brand.reason = reason
    brand.decided_at = clock.now()
    brand.decided_by_id = actor.id if actor else None
    audit.record(
        db, actor_id=actor.id if actor else None, action=action, subject_type="brand",
        subject_id=brand.public_id, merchant=brand.merchant.public_id, name=brand.name,
        before=previous.value, reason=reason,
    )
    db.flush()
    return brand


def approve(db: Session, *, actor: User | None, brand_id: str, note: str = "") -> Brand:
    """Certify a pending brand, unless another merchant already holds that name (Conflict)."""
    require_role(actor, Role.OPERATOR)
    note = clean_text(note, field="reason", message=REASON_MESSAGE, max_length=REASON_MAX)
    brand = _brand(db, brand_id)
    _independent(db, actor, brand, "brand.approve")
    key = name_key(brand.name)
    _lock_name(db, key)
    db.refresh(brand)  # its status may have moved while we waited for the lock
    rivals = [b for b in _holders(db, key, (BrandStatus.CERTIFIED,)) if b.id != brand.id]
    if rivals:
        raise Conflict(
            "The brand {name} is already certified for another merchant.", name=brand.name
        )
    return _decide(
        db, actor=actor, public_id=brand_id, expected=BrandStatus.PENDING,
        to=BrandStatus.CERTIFIED, reason=note, action="brand.approve",
    )


def reject(db: Session, *, actor: User | None, brand_id: str, reason: str) -> Brand:
    """Turn down a pending application; the reason is shown to the merchant."""
    require_role(actor, Role.OPERATOR)
    reason = clean_text(
        reason, field="reason", message=REASON_MESSAGE, max_length=REASON_MAX, required=True
    )
    return _decide(
        db, actor=actor, public_id=brand_id, expected=BrandStatus.PENDING,
        to=BrandStatus.REJECTED, reason=reason, action="brand.reject",
    )


def revoke(db: Session, *, actor: User | None, brand_id: str, reason: str) -> Brand:
    """Withdraw a certificate (e.g. a trademark dispute); the reason is shown to the merchant."""
    require_role(actor, Role.OPERATOR)
    reason = clean_text(
        reason, field="reason", message=REASON_MESSAGE, max_length=REASON_MAX, required=True
    )
    return _decide(
        db, actor=actor, public_id=brand_id, expected=BrandStatus.CERTIFIED,
        to=BrandStatus.REVOKED, reason=reason, action="brand.revoke",
    )

