"""Complaint disputes: the merchant (or its authorized ISV) disputes a complaint with a reason,
an operator upholds the complaint or dismisses it; dismissed complaints stop counting from the
next scoring cycle. Every step is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.models import Role, User
from townsquare.accounts.permissions import require_role
from townsquare.core import audit
from townsquare.core.clock import clock
from townsquare.core.errors import Conflict, NotFound, ValidationFailed
from townsquare.core.i18n import N_
from townsquare.core.text import REASON_MAX, clean_text, well_formed
from townsquare.events.models import BehaviourEvent, EventType
from townsquare.merchants.access import require_act_for, require_independent
from townsquare.miniapps import registry
from townsquare.scoring import notices
from townsquare.scoring.models import ComplaintDispute, DisputeState

DECISIONS = {"uphold": DisputeState.UPHELD, "dismiss": DisputeState.DISMISSED}
REASON_MESSAGE = N_("Give a reason of 1 to {n} characters.")


@dataclass
class Complaint:
    """A complaint event as its mini-app's owner sees it, with its dispute if there is one."""

    event_id: str
    occurred_at: datetime
    category: str
    resolution: str
    dispute: ComplaintDispute | None


def _actor_id(actor: User | None) -> int | None:
    return actor.id if actor else None


def complaints_of(
    db: Session, *, actor: User | None, miniapp_id: str, limit: int = 50
) -> list[Complaint]:
    """The mini-app's newest complaints with their disputes (owner side and operators)."""
    miniapp = registry.get_miniapp(db, actor=actor, public_id=miniapp_id)
    stmt = (
        select(BehaviourEvent, ComplaintDispute)
        .outerjoin(ComplaintDispute, ComplaintDispute.event_id == BehaviourEvent.id)
        .where(BehaviourEvent.miniapp_id == miniapp.id, BehaviourEvent.type == EventType.COMPLAINT)
        .order_by(BehaviourEvent.occurred_at.desc(), BehaviourEvent.id.desc())
        .limit(max(1, min(limit, 200)))
    )
    return [
        Complaint(e.event_id, e.occurred_at, e.complaint_category or "", e.resolution or "", d)
        for e, d in db.execute(stmt).all()
    ]


def open_dispute(
    db: Session, *, actor: User | None, miniapp_id: str, event_id: str, reason: str
) -> ComplaintDispute:
    """Dispute one complaint of the actor's mini-app; one dispute per complaint."""
    reason = clean_text(
        reason, field="reason", message=REASON_MESSAGE, max_length=REASON_MAX, required=True
    )
    miniapp = registry.get_miniapp(db, actor=actor, public_id=miniapp_id)
    require_act_for(db, actor, miniapp.merchant)  # operators see it but do not dispute
    event = None
    if isinstance(event_id, str) and 1 <= len(event_id) <= 64:
        event = db.scalar(
            select(BehaviourEvent).where(
                BehaviourEvent.event_id == event_id, BehaviourEvent.miniapp_id == miniapp.id
            )
        )
    if event is None or event.type != EventType.COMPLAINT:
        raise NotFound("No such complaint for this mini-app.")
    if db.scalar(select(ComplaintDispute.id).where(ComplaintDispute.event_id == event.id)):
        raise Conflict("This complaint is already disputed.")
    dispute = ComplaintDispute(
        event_id=event.id, miniapp_id=miniapp.id, opened_by_id=_actor_id(actor), reason=reason
    )
    db.add(dispute)
    db.flush()
    audit.record(
        db,
        actor_id=_actor_id(actor),
        action="scoring.dispute_opened",
        subject_type="complaint_dispute",
        subject_id=dispute.public_id,
        miniapp=miniapp.public_id,
        event_id=event.event_id,
        reason=reason,
    )
    return dispute


def get_dispute(db: Session, *, actor: User | None, public_id: str) -> ComplaintDispute:
    """A dispute seen by an operator or by its mini-app's owner side; NotFound otherwise."""
    dispute = None
    if well_formed(public_id, "dsp"):
        dispute = db.scalar(select(ComplaintDispute).where(ComplaintDispute.public_id == public_id))
    if dispute is None or not registry.can_view(db, actor, dispute.miniapp):
        raise NotFound("No such dispute.")
    return dispute


def decide_dispute(
    db: Session, *, actor: User | None, dispute_id: str, decision: str, reason: str
) -> ComplaintDispute:
    """An operator upholds the complaint (it keeps counting) or dismisses it (it stops)."""
    require_role(actor, Role.OPERATOR)
    if decision not in DECISIONS:
        raise ValidationFailed("Decide uphold or dismiss.", field="decision")
    reason = clean_text(
        reason, field="reason", message=REASON_MESSAGE, max_length=REASON_MAX, required=True
    )
    dispute = get_dispute(db, actor=actor, public_id=dispute_id)
    require_independent(db, actor, dispute.miniapp.merchant, decision="dispute",
                        subject_type="complaint_dispute", subject_id=dispute.public_id)
    # Lock the row and read its state afresh: two operators deciding at once, one wins.
    state = db.scalar(
        select(ComplaintDispute.state).where(ComplaintDispute.id == dispute.id).with_for_update()
    )
    if state != DisputeState.OPEN:
        raise Conflict("This dispute is already decided.")
    dispute.state = DECISIONS[decision]
    dispute.decided_by_id = _actor_id(actor)
    dispute.decided_at = clock.now()
    dispute.decision_reason = reason
    audit.record(
        db,
        actor_id=_actor_id(actor),
        action=f"scoring.dispute_{dispute.state.value}",
        subject_type="complaint_dispute",
        subject_id=dispute.public_id,
        event_id=dispute.event.event_id,
        reason=reason,
    )
    notices.dispute_decided(db, dispute)
    return dispute


def list_disputes(
    db: Session, *, actor: User | None, state: DisputeState | None = None, limit: int = 200
) -> list[ComplaintDispute]:
    """Disputes for operators, oldest open first."""
    require_role(actor, Role.OPERATOR)
    stmt = select(ComplaintDispute).order_by(ComplaintDispute.created_at, ComplaintDispute.id)
    if state is not None:
        stmt = stmt.where(ComplaintDispute.state == state)
    return list(db.scalars(stmt.limit(max(1, min(limit, 500)))))


def recently_decided(db: Session, *, actor: User | None, limit: int = 10
                     ) -> list[ComplaintDispute]:
    """The newest `limit` decided disputes (by when they were opened), oldest of them first."""
    require_role(actor, Role.OPERATOR)
    stmt = (
        select(ComplaintDispute).where(ComplaintDispute.state != DisputeState.OPEN)
        .order_by(ComplaintDispute.created_at.desc(), ComplaintDispute.id.desc())
        .limit(max(1, min(limit, 500)))
    )
    return list(reversed(db.scalars(stmt).all()))


def dismissed_event_ids(db: Session) -> list[str]:
    """Sender event ids of dismissed complaints: the next cycle does not count them."""
    stmt = (
        select(BehaviourEvent.event_id)
        .join(ComplaintDispute, ComplaintDispute.event_id == BehaviourEvent.id)
        .where(ComplaintDispute.state == DisputeState.DISMISSED)
        .order_by(BehaviourEvent.event_id)
    )
    return list(db.scalars(stmt))
