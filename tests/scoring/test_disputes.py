"""Complaint disputes: who may open and decide them, their checks, the audit trail, and that a
dismissed complaint stops counting in the next cycle while an upheld one keeps counting."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.scoring.cycle_world import AS_OF, Market, build_market
from townsquare.core.audit import history
from townsquare.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from townsquare.scoring import cycles, disputes
from townsquare.scoring.models import DisputeState, MiniAppScore, ScoreCycle


@pytest.fixture
def market(database) -> Market:
    return build_market(database)


def _complaints_counted(db, miniapp_public_id: str) -> int:
    cycle = db.scalar(select(ScoreCycle).where(ScoreCycle.as_of == AS_OF))
    score = next(
        s
        for s in db.scalars(select(MiniAppScore).where(MiniAppScore.cycle_id == cycle.id))
        if s.miniapp.public_id == miniapp_public_id
    )
    return score.result["metrics"]["complaints"]


def test_owner_side_opens_a_dispute_and_outsiders_cannot(database, market):
    first, second = market.complaint_ids[:2]
    with database.unit_of_work() as db:
        for user in market.outsiders.values():
            with pytest.raises((NotFound, PermissionDenied)):
                disputes.open_dispute(
                    db, actor=user, miniapp_id=market.ours, event_id=first, reason="不是我们的订单"
                )
        with pytest.raises(PermissionDenied):  # operators decide, they do not dispute
            disputes.open_dispute(
                db, actor=market.operator, miniapp_id=market.ours, event_id=first, reason="x"
            )
        for bad in ("", "   ", "x" * 501, "bad\x00reason"):
            with pytest.raises(ValidationFailed):
                disputes.open_dispute(
                    db, actor=market.owner, miniapp_id=market.ours, event_id=first, reason=bad
                )
        for wrong in (market.visit_id, "no-such-event", "x" * 65):
            with pytest.raises(NotFound):
                disputes.open_dispute(
                    db, actor=market.owner, miniapp_id=market.ours, event_id=wrong, reason="理由"
                )
        dispute = disputes.open_dispute(
            db, actor=market.owner, miniapp_id=market.ours, event_id=first, reason="顾客下错了单"
        )
        assert dispute.state == DisputeState.OPEN and dispute.public_id.startswith("dsp_")
        with pytest.raises(Conflict):
            disputes.open_dispute(
                db, actor=market.isv, miniapp_id=market.ours, event_id=first, reason="again"
            )
        by_isv = disputes.open_dispute(
            db, actor=market.isv, miniapp_id=market.ours, event_id=second, reason="服务商代为申诉"
        )
        listed = disputes.complaints_of(db, actor=market.owner, miniapp_id=market.ours)
        assert {c.event_id for c in listed if c.dispute} == {first, second}
        assert by_isv.opened_by_id == market.isv.id
        entries = history(db, subject_type="complaint_dispute", subject_id=dispute.public_id)
        assert [e.action for e in entries] == ["scoring.dispute_opened"]


def test_only_operators_decide_and_only_once(database, market):
    with database.unit_of_work() as db:
        dispute_id = disputes.open_dispute(
            db,
            actor=market.owner,
            miniapp_id=market.ours,
            event_id=market.complaint_ids[0],
            reason="理由",
        ).public_id
    with database.unit_of_work() as db:
        for user in (market.owner, market.isv, market.resident):
            with pytest.raises(PermissionDenied):
                disputes.decide_dispute(
                    db, actor=user, dispute_id=dispute_id, decision="dismiss", reason="r"
                )
        with pytest.raises(ValidationFailed):
            disputes.decide_dispute(
                db, actor=market.operator, dispute_id=dispute_id, decision="maybe", reason="r"
            )
        with pytest.raises(ValidationFailed):
            disputes.decide_dispute(
                db, actor=market.operator, dispute_id=dispute_id, decision="dismiss", reason=""
            )
        with pytest.raises(NotFound):
            disputes.decide_dispute(
                db, actor=market.operator, dispute_id="dsp_nothere", decision="dismiss", reason="r"
            )
        decided = disputes.decide_dispute(
            db, actor=market.operator, dispute_id=dispute_id, decision="uphold", reason="投诉属实"
        )
        assert decided.state == DisputeState.UPHELD and decided.decided_by_id == market.operator.id
        with pytest.raises(Conflict):
            disputes.decide_dispute(
                db,
                actor=market.operator,
                dispute_id=dispute_id,
                decision="dismiss",
                reason="changed my mind",
            )
        actions = [
            e.action for e in history(db, subject_type="complaint_dispute", subject_id=dispute_id)
        ]
        assert actions == ["scoring.dispute_opened", "scoring.dispute_upheld"]


def test_a_dismissed_complaint_is_not_counted_in_the_next_cycle(database, settings, market):
    upheld, dismissed = market.complaint_ids[:2]
    with database.unit_of_work() as db:
        cycles.run_cycle(db, settings=settings, as_of=AS_OF, actor=None)
        before = _complaints_counted(db, market.ours)
        ids = [
            disputes.open_dispute(
                db, actor=market.owner, miniapp_id=market.ours, event_id=e, reason="理由"
            ).public_id
            for e in (upheld, dismissed)
        ]
        disputes.decide_dispute(
            db, actor=market.operator, dispute_id=ids[0], decision="uphold", reason="属实"
        )
        disputes.decide_dispute(
            db, actor=market.operator, dispute_id=ids[1], decision="dismiss", reason="恶意投诉"
        )
        assert disputes.dismissed_event_ids(db) == [dismissed]
    with database.unit_of_work() as db:
        cycle = cycles.run_cycle(db, settings=settings, as_of=AS_OF, actor=None)
        assert cycle.counts["excluded_complaints"] == 1
        assert _complaints_counted(db, market.ours) == before - 1
