"""The review queue: detection queues a flagged mini-app with its evidence; only operators see
and decide the queue; a dismissal needs a reason and penalises nothing; a confirmation is
audited, tells the merchant, and lowers the next cycles' results by the stated rule (and no
more than that many cycles); the merchant's page says why; two operators cannot both decide."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from tests.merchants.conftest import csrf, login
from tests.scoring.cycle_world import AS_OF, NOW, Market, build_market
from townsquare.accounts.models import Role
from townsquare.core.audit import history
from townsquare.core.clock import clock
from townsquare.core.database import Database
from townsquare.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from townsquare.events.models import BehaviourEvent
from townsquare.messaging.models import Notification
from townsquare.miniapps.models import MiniApp
from townsquare.scoring import cycles
from townsquare.scoring.integrity import penalties, reviews
from townsquare.scoring.integrity.models import IntegrityReview, ReviewState
from townsquare.scoring.models import MiniAppScore, ScoreCycle, TierHistory


@pytest.fixture
def market(database) -> Market:
    market = build_market(database)
    with database.unit_of_work() as db:  # "ours" answers messages in 3 seconds: a script
        app = db.scalar(select(MiniApp).where(MiniApp.public_id == market.ours))
        db.execute(insert(BehaviourEvent), [
            {"event_id": f"fast-{i}", "type": "message_response", "miniapp_id": app.id,
             "merchant_id": app.merchant_id, "category_code": "food", "city": "武汉",
             "occurred_at": NOW - timedelta(hours=i * 5), "received_at": NOW,
             "response_seconds": 3} for i in range(120)])
    return market


def _detect(database, as_of=AS_OF):
    with database.unit_of_work() as db:
        return reviews.detect(db, as_of=as_of, actor=None)


def _review(db) -> IntegrityReview:
    return db.scalar(select(IntegrityReview))


def test_detection_queues_the_flagged_mini_app_once_with_its_evidence(database, market):
    found = _detect(database)
    assert found.flagged == 1 and found.by_signal == {"fake_fast_replies": 1}
    _detect(database)  # a re-run refreshes the open review
    with database.unit_of_work() as db:
        [review] = db.scalars(select(IntegrityReview)).all()
        assert review.miniapp.public_id == market.ours and review.state == ReviewState.OPEN
        fast = review.signals[0]
        assert fast["code"] == "fake_fast_replies" and fast["figures"]["fast"] >= 100
        assert review.anomaly == fast["score"] >= 0.5
        with pytest.raises(PermissionDenied):
            reviews.list_reviews(db, actor=market.owner)
        with pytest.raises(NotFound):  # the merchant does not see an open flag
            reviews.get_review(db, actor=market.owner, public_id=review.public_id)
        with pytest.raises(PermissionDenied):
            reviews.detect(db, as_of=AS_OF, actor=market.owner)


def test_a_dismissal_needs_a_reason_and_penalises_nothing(database, settings, market):
    _detect(database)
    with database.unit_of_work() as db:
        review = _review(db)
        for bad in ("", "  ", "x" * 501):
            with pytest.raises(ValidationFailed):
                reviews.decide(db, actor=market.operator, review_id=review.public_id,
                               decision="dismiss", reason=bad)
        with pytest.raises(ValidationFailed):
            reviews.decide(db, actor=market.operator, review_id=review.public_id,
                           decision="maybe", reason="x")
        with pytest.raises(PermissionDenied):
            reviews.decide(db, actor=market.owner, review_id=review.public_id,
                           decision="dismiss", reason="我们没作弊")
        reviews.decide(db, actor=market.operator, review_id=review.public_id,
                       decision="dismiss", reason="自动回复是顾客订阅的到货提醒")
        with pytest.raises(Conflict):
            reviews.decide(db, actor=market.operator, review_id=review.public_id,
                           decision="confirm", reason="x")
        cycle = cycles.run_cycle(db, settings=settings, as_of=AS_OF, actor=None)
        assert cycle.counts["integrity_penalties"] == 0
        assert not db.scalars(select(Notification)).all()


def test_a_confirmed_review_lowers_the_next_cycles_and_tells_the_merchant(database, settings,
                                                                          market):
    # cycles every six days over the market's history; the review is confirmed before them
    days = [AS_OF - timedelta(days=6 * k) for k in (4, 3, 2, 1, 0)]
    checked = days[3]
    with database.unit_of_work() as db:
        cycles.run_cycle(db, settings=settings, as_of=checked, actor=None)
        ours = db.scalar(select(MiniApp).where(MiniApp.public_id == market.ours))
        before = db.scalar(select(MiniAppScore).where(MiniAppScore.miniapp_id == ours.id))
        honest_overall, honest_tier = before.overall, before.tier
    assert honest_tier in ("S", "A")  # good service: a top tier before the penalty
    _detect(database)
    clock.freeze(NOW - timedelta(days=30))
    with database.unit_of_work() as db:
        review = reviews.decide(db, actor=market.operator, review_id=_review(db).public_id,
                                decision="confirm", reason="回复时间全是3秒，是脚本")
        review_id = review.public_id
        assert review.penalty == {**penalties.RULE.to_json(), "applied": []}
        [notice] = db.scalars(select(Notification)).all()
        assert notice.kind == "integrity.confirmed" and notice.merchant_id == ours.merchant_id
        assert notice.link == f"/console/miniapps/{market.ours}/integrity"
        actions = [e.action for e in history(db, subject_type="integrity_review",
                                             subject_id=review_id)]
        assert actions == ["scoring.integrity_confirmed"]
    clock.freeze(NOW)
    for day in days:  # the four cycles after the decision are penalised, the fifth is not
        with database.unit_of_work() as db:
            cycles.run_cycle(db, settings=settings, as_of=day, actor=None)

    def result(db, day):
        return db.scalar(select(MiniAppScore).join(ScoreCycle).where(
            MiniAppScore.miniapp_id == ours.id, ScoreCycle.as_of == day))

    with database.unit_of_work() as db:
        after = result(db, checked)
        assert after.overall == pytest.approx(round(honest_overall * 0.8, 2))
        assert after.tier == "C" and after.result["integrity_penalty"]["review"] == review_id
        assert db.scalar(select(TierHistory.tier).join(ScoreCycle).where(
            TierHistory.miniapp_id == ours.id, ScoreCycle.as_of == checked)) == "C"
        penalised = [d for d in days if "integrity_penalty" in result(db, d).result]
        assert penalised == days[:4]
        assert _review(db).penalty["applied"] == [d.isoformat() for d in days[:4]]
        others = db.scalars(select(MiniAppScore).where(MiniAppScore.miniapp_id != ours.id))
        assert not any("integrity_penalty" in o.result for o in others)
    with database.unit_of_work() as db:  # re-running a penalised date gives the same result
        cycles.run_cycle(db, settings=settings, as_of=days[1], actor=None)
        assert "integrity_penalty" in result(db, days[1]).result
        assert len(_review(db).penalty["applied"]) == 4


def test_the_tier_cap_and_the_cycle_count():
    assert [penalties.capped(t, "C") for t in ("S", "A", "B", "C", "D", None)] == [
        "C", "C", "C", "C", "D", None]
    assert penalties.penalised(80.0, 0.8) == 64.0 and penalties.penalised(None, 0.8) is None
    start = AS_OF
    rule = {"cycles": 2, "applied": []}
    assert not penalties.applies(rule, start, start - timedelta(days=1))  # before the decision
    assert penalties.applies(rule, start, start)
    rule["applied"] = [start.isoformat(), (start + timedelta(days=7)).isoformat()]
    assert penalties.applies(rule, start, start + timedelta(days=7))  # a re-run
    assert not penalties.applies(rule, start, start + timedelta(days=14))  # used up
    assert not penalties.applies(rule, start, start + timedelta(days=3))  # an old date re-run


def test_the_pages_queue_decide_and_explain(client, database, market):
    _detect(database)
    with database.unit_of_work() as db:
        review_id = _review(db).public_id
    login(client, market.owner)
    assert client.get("/console/operator/integrity").status_code == 403
    assert client.get(f"/console/miniapps/{market.ours}/integrity").status_code == 200
    login(client, market.operator)
    queue = client.get("/console/operator/integrity")
    assert queue.status_code == 200 and f'data-review="{review_id}"' in queue.text
    assert "回复快于常人" in queue.text  # zh-CN first
    assert "Replies faster than a person" in client.get(
        "/console/operator/integrity?lang=en").text
    page = client.get(f"/console/operator/integrity/{review_id}")
    assert 'data-signal="fake_fast_replies"' in page.text
    token = csrf(client, f"/console/operator/integrity/{review_id}")
    refused = client.post(f"/console/operator/integrity/{review_id}/decide",
                          data={"csrf_token": token, "decision": "confirm", "reason": ""})
    assert refused.status_code == 422 and 'role="alert"' in refused.text
    done = client.post(f"/console/operator/integrity/{review_id}/decide", follow_redirects=False,
                       data={"csrf_token": token, "decision": "confirm", "reason": "脚本回复"})
    assert done.status_code == 303
    login(client, market.owner)
    mine = client.get(f"/console/miniapps/{market.ours}/integrity")
    assert f'data-review="{review_id}"' in mine.text and "脚本回复" in mine.text
    for user in market.outsiders.values():
        login(client, user)
        assert client.get(f"/console/miniapps/{market.ours}/integrity").status_code == 404


def test_two_operators_deciding_at_once_one_wins(database, market, make_user):
    _detect(database)
    with database.unit_of_work() as db:
        review_id = _review(db).public_id
    second = make_user(Role.OPERATOR)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    # the loser waits for the winner's whole transaction: a loaded machine's SQLite may take
    # longer than the suite's 5 s lock wait (as in tests/ordering/test_holds.py)
    patient = Database(database.url, lock_timeout_ms=30_000)

    def decide(actor, decision: str) -> None:
        barrier.wait()
        try:
            with patient.unit_of_work() as db:
                reviews.decide(db, actor=actor, review_id=review_id, decision=decision,
                               reason="同时处理")
            outcomes.append(decision)
        except Conflict:
            outcomes.append("conflict")
        except Exception as exc:  # shown in the assertion below
            outcomes.append(repr(exc))

    threads = [threading.Thread(target=decide, args=(market.operator, "confirm")),
               threading.Thread(target=decide, args=(second, "dismiss"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    patient.dispose()
    assert outcomes.count("conflict") == 1 and len(outcomes) == 2, outcomes
    with database.unit_of_work() as db:
        review = _review(db)
        assert review.state.value == {"confirm": "confirmed", "dismiss": "dismissed"}[
            next(o for o in outcomes if o != "conflict")]
        notices = db.scalars(select(Notification)).all()
        assert len(notices) == (1 if review.state == ReviewState.CONFIRMED else 0)
