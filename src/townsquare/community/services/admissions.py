"""Outside merchants admitted to serve a community: a merchant applies (which mini-app, what it
offers), the community's property manager approves with a commission rate or refuses with a
reason, and either side may end an approved admission. Only an approved admission's services
are offered to residents and only its trades carry the community's commission."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.community import access
from townsquare.community.models import Community, Person
from townsquare.community.services.models import Admission, AdmissionStatus
from townsquare.core import audit
from townsquare.core.clock import clock
from townsquare.core.errors import Conflict, NotFound, ValidationFailed
from townsquare.core.text import well_formed
from townsquare.merchants import access as merchant_access
from townsquare.miniapps.models import MiniApp
from townsquare.payments import fees

A = AdmissionStatus


class AdmissionStateError(Conflict):
    code = "admission_state"


def _clean(text: str, *, most: int, field: str, required: bool = False) -> str:
    text = (text or "").strip()
    if required and not text:
        raise ValidationFailed("This field is required.", field=field)
    if len(text) > most:
        raise ValidationFailed("At most {n} characters.", n=most, field=field)
    return text


def _record(db: Session, actor: User | None, action: str, admission: Admission,
            **fields: object) -> None:
    audit.record(db, actor_id=actor.id if actor else None, action=f"community.admission.{action}",
                 subject_type="admission", subject_id=admission.public_id, **fields)


def apply(db: Session, *, actor: User | None, community: Community, miniapp_id: str,
          offer: str) -> Admission:
    """The merchant of `miniapp_id` applies to serve the community with it. One open or
    approved admission per community and mini-app: applying again answers that one."""
    miniapp = None
    if well_formed(miniapp_id, "ma"):
        miniapp = db.scalar(select(MiniApp).where(MiniApp.public_id == miniapp_id))
    if miniapp is None:
        raise NotFound("No such mini-app.")
    merchant_access.require_act_for(db, actor, miniapp.merchant)
    offer = _clean(offer, most=400, field="offer", required=True)
    found = db.scalar(select(Admission).where(
        Admission.community_id == community.id, Admission.miniapp_id == miniapp.id,
        Admission.status.in_([A.APPLIED, A.APPROVED])).with_for_update())
    if found is not None:
        return found
    admission = Admission(community_id=community.id, merchant_id=miniapp.merchant_id,
                          miniapp_id=miniapp.id, offer=offer,
                          applied_by_id=actor.id if actor else None)
    db.add(admission)
    db.flush()
    _record(db, actor, "apply", admission, community=community.public_id)
    return admission


def get(db: Session, *, community: Community, admission_id: str) -> Admission:
    found = None
    if well_formed(admission_id, "adm"):
        found = db.scalar(select(Admission).where(Admission.public_id == admission_id,
                                                  Admission.community_id == community.id))
    if found is None:
        raise NotFound("No such admission.")
    return found


def _locked(db: Session, admission: Admission) -> Admission:
    return db.scalars(select(Admission).where(Admission.id == admission.id).with_for_update()
                      .execution_options(populate_existing=True)).one()


def approve(db: Session, *, actor: User | None, community: Community, admission_id: str,
            commission_bp: int) -> Admission:
    """The property manager approves at a commission rate (basis points, up to 30 %)."""
    access.require(db, actor=actor, community=community, roles=[access.PM])
    if isinstance(commission_bp, bool) or not isinstance(commission_bp, int) or not (
            0 <= commission_bp <= fees.MAX_COMMUNITY_BP):
        raise ValidationFailed("A commission is from 0 to {most} basis points.",
                               most=fees.MAX_COMMUNITY_BP, field="commission")
    admission = _locked(db, get(db, community=community, admission_id=admission_id))
    if admission.status is not A.APPLIED:
        raise AdmissionStateError("Only an application waiting for a decision can be approved.")
    admission.status, admission.commission_bp = A.APPROVED, commission_bp
    admission.decided_by_id, admission.decided_at = (actor.id if actor else None), clock.now()
    db.flush()
    _record(db, actor, "approve", admission, commission_bp=commission_bp)
    return admission


def refuse(db: Session, *, actor: User | None, community: Community, admission_id: str,
           reason: str) -> Admission:
    access.require(db, actor=actor, community=community, roles=[access.PM])
    reason = _clean(reason, most=200, field="reason", required=True)
    admission = _locked(db, get(db, community=community, admission_id=admission_id))
    if admission.status is not A.APPLIED:
        raise AdmissionStateError("Only an application waiting for a decision can be refused.")
    admission.status, admission.reason = A.REFUSED, reason
    admission.decided_by_id, admission.decided_at = (actor.id if actor else None), clock.now()
    db.flush()
    _record(db, actor, "refuse", admission, reason=reason)
    return admission


def end(db: Session, *, actor: User | None, community: Community, admission_id: str,
        reason: str = "") -> Admission:
    """Either side ends an approved admission (or the merchant withdraws its application): the
    property manager of the community, or whoever may act for the merchant. Its services are
    no longer offered; bookings already paid stand."""
    admission = get(db, community=community, admission_id=admission_id)
    if access.has_role(db, actor=actor, community=community, roles=[access.PM]):
        side = "property"
    else:
        merchant_access.require_act_for(db, actor, db.get_one(MiniApp,
                                                              admission.miniapp_id).merchant)
        side = "merchant"
    reason = _clean(reason, most=200, field="reason")
    admission = _locked(db, admission)
    if admission.status not in (A.APPLIED, A.APPROVED):
        raise AdmissionStateError("This admission has already ended.")
    admission.status, admission.reason, admission.ended_by = A.ENDED, reason, side
    admission.ended_at = clock.now()
    db.flush()
    _record(db, actor, "end", admission, side=side)
    return admission


def of_community(db: Session, *, actor: User | None, community: Community) -> list[Admission]:
    """Every admission of the community, newest first (its property manager and committee)."""
    access.require(db, actor=actor, community=community, roles=[access.PM, access.COMMITTEE])
    return list(db.scalars(select(Admission).where(Admission.community_id == community.id)
                           .order_by(Admission.id.desc())))


def of_merchant(db: Session, *, actor: User | None, merchant_id: int) -> list[Admission]:
    return list(db.scalars(select(Admission).where(Admission.merchant_id == merchant_id)
                           .order_by(Admission.id.desc())))


def is_open(admission: Admission | None) -> bool:
    return admission is None or admission.status is A.APPROVED


def order_commission(db: Session, miniapp: MiniApp, buyer: User) -> tuple[int, int] | None:
    """Ordering's commission provider: (community id, rate) when the shop's mini-app is admitted
    to a community the buyer is a verified resident of (the lowest such community's, if
    several), else None. Connected by townsquare.app.connect_hooks."""
    row = db.execute(
        select(Admission.community_id, Admission.commission_bp)
        .join(Person, Person.community_id == Admission.community_id)
        .where(Admission.miniapp_id == miniapp.id, Admission.status == A.APPROVED,
               Person.user_id == buyer.id)
        .order_by(Admission.community_id).limit(1)).first()
    return (int(row[0]), int(row[1])) if row is not None and row[1] > 0 else None
