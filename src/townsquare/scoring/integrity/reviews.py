"""The anti-fraud review queue: detection after a scoring cycle puts each flagged mini-app in the
queue with its anomaly scores and evidence; an operator dismisses a flag (with a reason) or
confirms it, which fixes the penalty the next cycles apply (`penalties`), tells the merchant
and shows them why. Every decision is audited; nothing is penalised without one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from townsquare.accounts.models import Role, User
from townsquare.accounts.permissions import is_operator, require_role
from townsquare.core import audit
from townsquare.core.clock import clock
from townsquare.core.errors import Conflict, NotFound, ValidationFailed
from townsquare.core.i18n import N_
from townsquare.core.text import REASON_MAX, clean_text, well_formed
from townsquare.merchants.access import require_independent
from townsquare.messaging.notifications import notify
from townsquare.miniapps import registry
from townsquare.miniapps.models import MiniApp
from townsquare.scoring import disputes
from townsquare.scoring.integrity import detectors, facts
from townsquare.scoring.integrity.models import IntegrityReview, ReviewState
from townsquare.scoring.integrity.penalties import RULE

REASON_MESSAGE = N_("Give a reason of 1 to {n} characters.")
DECISIONS = {"dismiss": ReviewState.DISMISSED, "confirm": ReviewState.CONFIRMED}


@dataclass(frozen=True)
class Detection:
    as_of: date
    miniapps: int
    flagged: int
    by_signal: dict[str, int]


def detect(db: Session, *, as_of: date, actor: User | None) -> Detection:
    """Run every detector as of `as_of` and queue the flagged mini-apps (operators or the
    system). Re-running a date refreshes its open reviews; decided ones stay as decided."""
    require_role(actor, Role.OPERATOR)
    gathered = facts.gather(db, as_of=as_of, excluded=disputes.dismissed_event_ids(db))
    peers = detectors.peers_of(gathered)
    existing = {r.miniapp_id: r for r in db.scalars(
        select(IntegrityReview).where(IntegrityReview.as_of == as_of))}
    flagged: set[int] = set()
    by_signal: dict[str, int] = {}
    for f in gathered:
        signals = detectors.detect(f, peers)
        if not any(s.flagged for s in signals):
            continue
        flagged.add(f.miniapp_id)
        for s in signals:
            if s.flagged:
                by_signal[s.code] = by_signal.get(s.code, 0) + 1
        review = existing.get(f.miniapp_id)
        if review is None:
            review = IntegrityReview(miniapp_id=f.miniapp_id, as_of=as_of)
            db.add(review)
        elif review.state != ReviewState.OPEN:
            continue
        review.anomaly = round(detectors.anomaly_score(signals), 3)
        review.signals = [s.to_json() for s in signals if s.score > 0]
    stale = [r.id for app, r in existing.items()
             if app not in flagged and r.state == ReviewState.OPEN]
    if stale:
        db.execute(delete(IntegrityReview).where(IntegrityReview.id.in_(stale)))
    db.flush()
    result = Detection(as_of, len(gathered), len(flagged), dict(sorted(by_signal.items())))
    audit.record(db, actor_id=actor.id if actor else None, action="scoring.integrity_detected",
                 subject_type="integrity_run", subject_id=as_of.isoformat(),
                 miniapps=result.miniapps, flagged=result.flagged, by_signal=result.by_signal)
    return result


def list_reviews(db: Session, *, actor: User | None, state: ReviewState | None = None,
                 limit: int = 100) -> list[IntegrityReview]:
    """Reviews for operators: the strongest anomalies first, newest date first."""
    require_role(actor, Role.OPERATOR)
    stmt = select(IntegrityReview).order_by(IntegrityReview.as_of.desc(),
                                            IntegrityReview.anomaly.desc(), IntegrityReview.id)
    if state is not None:
        stmt = stmt.where(IntegrityReview.state == state)
    return list(db.scalars(stmt.limit(max(1, min(limit, 500)))))


def get_review(db: Session, *, actor: User | None, public_id: str) -> IntegrityReview:
    """A review for an operator; its mini-app's owner side sees only confirmed ones."""
    review = None
    if well_formed(public_id, "irv"):
        review = db.scalar(select(IntegrityReview).where(IntegrityReview.public_id == public_id))
    if review is None or not registry.can_view(db, actor, review.miniapp):
        raise NotFound("No such review.")
    if review.state != ReviewState.CONFIRMED and not is_operator(actor):
        raise NotFound("No such review.")
    return review


def decide(db: Session, *, actor: User | None, review_id: str, decision: str,
           reason: str) -> IntegrityReview:
    """Dismiss a flag (not fraud) or confirm it (the penalty applies from the next cycle)."""
    require_role(actor, Role.OPERATOR)
    if decision not in DECISIONS:
        raise ValidationFailed("Decide dismiss or confirm.", field="decision")
    reason = clean_text(reason, field="reason", message=REASON_MESSAGE, max_length=REASON_MAX,
                        required=True)
    review = get_review(db, actor=actor, public_id=review_id)
    require_independent(db, actor, review.miniapp.merchant, decision="integrity",
                        subject_type="integrity_review", subject_id=review.public_id)
    # Lock the row and read its state afresh: two operators deciding at once, one wins.
    state = db.scalar(select(IntegrityReview.state).where(IntegrityReview.id == review.id)
                      .with_for_update())
    if state != ReviewState.OPEN:
        raise Conflict("This review is already decided.")
    review.state = DECISIONS[decision]
    review.decided_by_id = actor.id if actor else None
    review.decided_at = clock.now()
    review.reason = reason
    if review.state == ReviewState.CONFIRMED:
        review.penalty = {**RULE.to_json(), "applied": []}
    audit.record(db, actor_id=actor.id if actor else None,
                 action=f"scoring.integrity_{review.state.value}",
                 subject_type="integrity_review", subject_id=review.public_id,
                 miniapp=review.miniapp.public_id, reason=reason, penalty=review.penalty,
                 signals=[s["code"] for s in review.signals])
    if review.state == ReviewState.CONFIRMED:
        miniapp = review.miniapp
        notify(db, kind="integrity.confirmed", merchant_id=miniapp.merchant_id, miniapp=miniapp,
               params={"reason": reason, "cycles": RULE.cycles, "tier": RULE.tier_cap},
               link=merchant_page(miniapp.public_id))
    db.flush()
    return review


def merchant_page(miniapp_public_id: str) -> str:
    return f"/console/miniapps/{miniapp_public_id}/integrity"


def confirmed_for(db: Session, *, actor: User | None, miniapp_id: str) -> tuple[
        MiniApp, list[IntegrityReview]]:
    """A mini-app's confirmed reviews, newest first (its owner side and operators)."""
    miniapp = registry.get_miniapp(db, actor=actor, public_id=miniapp_id)
    stmt = (select(IntegrityReview)
            .where(IntegrityReview.miniapp_id == miniapp.id,
                   IntegrityReview.state == ReviewState.CONFIRMED)
            .order_by(IntegrityReview.decided_at.desc(), IntegrityReview.id.desc()))
    return miniapp, list(db.scalars(stmt))
