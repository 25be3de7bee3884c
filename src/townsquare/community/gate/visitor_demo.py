"""The demo city's visitor passes: the demo resident has invited a visitor for today (the pass is
live, so the guard's tour can scan it from the resident's visitors page after inviting anew) and
had one yesterday, who came and went through the gate: both show in the host's and the
property's passage logs."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.community import access
from townsquare.community.gate import visitors
from townsquare.community.gate.models import Direction, Passage
from townsquare.community.models import Community, Gate, GuardPost
from townsquare.core.clock import clock
from townsquare.core.settings import Settings


def seed(db: Session, *, settings: Settings) -> None:
    resident = db.scalar(select(User).where(User.username == "resident"))
    if resident is None:
        return
    community = next((c for c in db.scalars(select(Community).order_by(Community.id))
                      if access.resident_of(db, actor=resident, community=c)), None)
    if community is None:
        return
    now = clock.now()
    visitors.create(
        db, actor=resident, settings=settings, community_id=community.public_id,
        visitor_name="刘晓雨", visitor_phone="13912345678", purpose="探望父母",
        starts_at=now - timedelta(minutes=30), ends_at=now + timedelta(hours=4),
        idempotency_key="demo-visit-today")
    past = visitors.create(
        db, actor=resident, settings=settings, community_id=community.public_id,
        visitor_name="陈师傅", visitor_phone="13700001111", purpose="送家电",
        starts_at=now - timedelta(minutes=20), ends_at=now + timedelta(hours=1),
        idempotency_key="demo-visit-delivery")
    # the delivery man already came and went (rows written directly, like the gate's seed week)
    post = db.scalar(select(GuardPost).join(Gate, GuardPost.gate_id == Gate.id)
                     .where(Gate.community_id == community.id).order_by(GuardPost.id))
    if post is not None:
        for minutes, direction in ((-15, Direction.ENTRY), (-5, Direction.EXIT)):
            db.add(Passage(
                community_id=community.id, gate_id=post.gate_id, guard_id=post.user_id,
                household_id=past.invitation.household_id, invitation_id=past.invitation.id,
                direction=direction, code_kind="v", at=now + timedelta(minutes=minutes),
                recorded_at=now + timedelta(minutes=minutes), allowed=True, counted=False,
                reasons=[], offline=False, needs_review=False, overdue=False))
    db.flush()
