"""The review workflow: transitions and who may make them, lanes and due times, the queue,
publishing (listing fields copied, older version superseded) and take-downs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.miniapps.registry_world import build_world, external_app
from townsquare.core import audit
from townsquare.core.clock import clock
from townsquare.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from townsquare.miniapps import registry, review
from townsquare.miniapps.models import MiniApp, MiniAppVersion, ReviewLane, VersionState

S = VersionState
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
def world(database, make_user):
    clock.freeze(T0)
    return build_world(database, make_user)


def _create(database, world, **overrides) -> tuple[str, str]:
    with database.unit_of_work() as db:
        created = registry.create_miniapp(
            db, actor=world.owner, merchant_id=world.merchant, **external_app(**overrides)
        )
        return created.miniapp.public_id, created.version.public_id


def _state(database, ver_id) -> VersionState:
    with database.unit_of_work() as db:
        return db.scalar(select(MiniAppVersion.state).where(MiniAppVersion.public_id == ver_id))


def _miniapp(database, ma_id) -> MiniApp:
    with database.unit_of_work() as db:
        return db.scalar(select(MiniApp).where(MiniApp.public_id == ma_id))


def test_transition_table_is_the_documented_one():
    allowed = {(a, b) for a in S for b in S if review.can_move(a, b)}
    assert allowed == {
        (S.DRAFT, S.SUBMITTED), (S.SUBMITTED, S.APPROVED), (S.SUBMITTED, S.REJECTED),
        (S.APPROVED, S.PUBLISHED), (S.PUBLISHED, S.SUPERSEDED), (S.PUBLISHED, S.TAKEN_DOWN),
    }


def test_lanes_and_due_times(database, world, settings):
    _, standard = _create(database, world)
    _, urgent = _create(database, world, category="medicine")
    with database.unit_of_work() as db:
        a = review.submit(db, actor=world.owner, settings=settings, version_id=standard)
        b = review.submit(db, actor=world.isv_user, settings=settings, version_id=urgent)
        assert (a.lane, a.submitted_at, a.due_at) == (
            ReviewLane.STANDARD, T0, T0 + timedelta(hours=settings.review_standard_hours)
        )
        assert (b.lane, b.due_at) == (
            ReviewLane.EXPEDITED, T0 + timedelta(hours=settings.review_expedited_hours)
        )


def test_full_path_with_audit_and_listing(database, world, settings):
    ma_id, v1 = _create(database, world)
    with database.unit_of_work() as db:
        review.submit(db, actor=world.owner, settings=settings, version_id=v1)
    clock.advance(timedelta(hours=1))
    with database.unit_of_work() as db:
        version = review.approve(db, actor=world.operator, version_id=v1)
        assert version.state == S.APPROVED and version.decided_by_id == world.operator.id
    assert _miniapp(database, ma_id).listed is False  # the owner did not ask to publish at once
    with database.unit_of_work() as db:
        review.publish(db, actor=world.owner, version_id=v1)
    app = _miniapp(database, ma_id)
    assert app.listed and app.name == "鲜果到家"
    with database.unit_of_work() as db:
        entries = audit.history(db, subject_type="miniapp_version", subject_id=v1)
        assert [(e.action, e.detail["from_state"]) for e in entries] == [
            ("version.draft", None), ("version.submitted", "draft"),
            ("version.approved", "submitted"), ("version.published", "approved"),
        ]
        assert [e.actor_id for e in entries][-2:] == [world.operator.id, world.owner.id]

    # version 2 with new listing fields replaces version 1 when published
    with database.unit_of_work() as db:
        v2 = registry.new_version(db, actor=world.owner, miniapp_id=ma_id, label="1.1.0").public_id
        registry.update_draft(db, actor=world.owner, version_id=v2, name="鲜果到家 2",
                              icon="🍊", cities=["武汉", "黄石"], tags=["柑橘"])
    with database.unit_of_work() as db:
        review.submit(db, actor=world.owner, settings=settings, version_id=v2,
                      publish_on_approval=True)
    assert _miniapp(database, ma_id).name == "鲜果到家"  # not before the review
    with database.unit_of_work() as db:
        review.approve(db, actor=world.operator, version_id=v2)
    app = _miniapp(database, ma_id)
    assert (app.name, app.icon) == ("鲜果到家 2", "🍊")
    assert (app.cities, app.tags) == (["武汉", "黄石"], ["柑橘"])
    assert (_state(database, v1), _state(database, v2)) == (S.SUPERSEDED, S.PUBLISHED)
    with database.unit_of_work() as db:
        last = audit.history(db, subject_type="miniapp_version", subject_id=v1)[-1]
        assert (last.action, last.detail["from_state"]) == ("version.superseded", "published")


def test_rejection_needs_a_reason_and_can_be_copied_into_a_draft(database, world, settings):
    ma_id, v1 = _create(database, world)
    with database.unit_of_work() as db:
        review.submit(db, actor=world.owner, settings=settings, version_id=v1)
    with database.unit_of_work() as db:
        for reason in ("", "   ", "x" * 501, "bad\x00"):
            with pytest.raises(ValidationFailed):
                review.reject(db, actor=world.operator, version_id=v1, reason=reason)
    assert _state(database, v1) == S.SUBMITTED
    with database.unit_of_work() as db:
        review.reject(db, actor=world.operator, version_id=v1, reason="缺少营业执照")
    with database.unit_of_work() as db:
        version = registry.get_version(db, actor=world.owner, public_id=v1)
        assert (version.state, version.reason) == (S.REJECTED, "缺少营业执照")
        entry = audit.history(db, subject_type="miniapp_version", subject_id=v1)[-1]
        assert entry.detail["reason"] == "缺少营业执照"
        copy = registry.new_version(db, actor=world.owner, miniapp_id=ma_id, label="1.0.1",
                                    from_version=v1)
        assert copy.state == S.DRAFT and copy.external_url == version.external_url


def test_illegal_transitions_conflict(database, world, settings):
    _, v1 = _create(database, world)
    with database.unit_of_work() as db:
        for call in (
            lambda: review.approve(db, actor=world.operator, version_id=v1),
            lambda: review.reject(db, actor=world.operator, version_id=v1, reason="不行"),
            lambda: review.publish(db, actor=world.owner, version_id=v1),
            lambda: review.takedown(db, actor=world.operator, version_id=v1, reason="不行"),
        ):
            with pytest.raises(Conflict):
                call()
        review.submit(db, actor=world.owner, settings=settings, version_id=v1)
    with database.unit_of_work() as db:
        with pytest.raises(Conflict):
            review.submit(db, actor=world.owner, settings=settings, version_id=v1)
        with pytest.raises(Conflict):
            review.publish(db, actor=world.owner, version_id=v1)
        review.approve(db, actor=world.operator, version_id=v1)
    with database.unit_of_work() as db, pytest.raises(Conflict):
        review.approve(db, actor=world.operator, version_id=v1)
    with database.unit_of_work() as db, pytest.raises(Conflict):
        registry.update_draft(db, actor=world.owner, version_id=v1, name="改")
    assert _state(database, v1) == S.APPROVED


def test_only_operators_decide_and_outsiders_see_nothing(database, world, settings):
    _, v1 = _create(database, world)
    with database.unit_of_work() as db:
        with pytest.raises(PermissionDenied):
            review.submit(db, actor=world.operator, settings=settings, version_id=v1)
        for outsider in world.outsiders.values():
            with pytest.raises(NotFound):
                review.submit(db, actor=outsider, settings=settings, version_id=v1)
        review.submit(db, actor=world.owner, settings=settings, version_id=v1)
    with database.unit_of_work() as db:
        for actor in (world.owner, world.isv_user, *world.outsiders.values()):
            with pytest.raises(PermissionDenied):
                review.approve(db, actor=actor, version_id=v1)
            with pytest.raises(PermissionDenied):
                review.reject(db, actor=actor, version_id=v1, reason="不行")
            with pytest.raises(PermissionDenied):
                review.review_queue(db, actor=actor)
        review.approve(db, actor=world.operator, version_id=v1)
    with database.unit_of_work() as db:
        for outsider in world.outsiders.values():
            with pytest.raises(NotFound):
                review.publish(db, actor=outsider, version_id=v1)
        review.publish(db, actor=world.isv_user, version_id=v1)  # the authorized ISV may
    with database.unit_of_work() as db, pytest.raises(PermissionDenied):
        review.takedown(db, actor=world.owner, version_id=v1, reason="自己下架")
    assert _state(database, v1) == S.PUBLISHED


def test_takedown_unlists_and_tells_the_owner_why(database, world, settings):
    ma_id, v1 = _create(database, world)
    with database.unit_of_work() as db:
        review.submit(db, actor=world.owner, settings=settings, version_id=v1,
                      publish_on_approval=True)
        review.approve(db, actor=world.operator, version_id=v1)
    with database.unit_of_work() as db:
        with pytest.raises(ValidationFailed):
            review.takedown(db, actor=world.operator, version_id=v1, reason="")
        review.takedown(db, actor=world.operator, version_id=v1, reason="虚假宣传")
    app = _miniapp(database, ma_id)
    assert (app.listed, app.taken_down_reason) == (False, "虚假宣传")
    with database.unit_of_work() as db:
        version = registry.get_version(db, actor=world.owner, public_id=v1)
        assert (version.state, version.reason) == (S.TAKEN_DOWN, "虚假宣传")
        assert review.listed_miniapps(db, actor=world.operator) == []
        # a fixed version, reviewed again, lists the mini-app again
        v2 = registry.new_version(db, actor=world.owner, miniapp_id=ma_id, label="1.0.1")
        review.submit(db, actor=world.owner, settings=settings, version_id=v2.public_id,
                      publish_on_approval=True)
        review.approve(db, actor=world.operator, version_id=v2.public_id)
    app = _miniapp(database, ma_id)
    assert (app.listed, app.taken_down_reason) == (True, "")


def test_an_older_approved_version_cannot_replace_a_newer_published_one(database, world, settings):
    ma_id, v1 = _create(database, world)
    with database.unit_of_work() as db:
        review.submit(db, actor=world.owner, settings=settings, version_id=v1)
        review.approve(db, actor=world.operator, version_id=v1)  # approved, not published
        v2 = registry.new_version(db, actor=world.owner, miniapp_id=ma_id, label="2.0.0")
        review.submit(db, actor=world.owner, settings=settings, version_id=v2.public_id,
                      publish_on_approval=True)
        review.approve(db, actor=world.operator, version_id=v2.public_id)
    with database.unit_of_work() as db, pytest.raises(Conflict):
        review.publish(db, actor=world.owner, version_id=v1)
    assert _state(database, v1) == S.APPROVED


def test_queue_puts_expedited_first_then_oldest_and_flags_overdue(database, world, settings):
    ids = {}
    for name, category, offset in (
        ("old standard", None, 0), ("new standard", None, 1), ("new urgent", "medicine", 2),
        ("old urgent", "medicine", 1.5),
    ):
        extra = {"category": category} if category else {}
        _, ver = _create(database, world, name=name, **extra)
        clock.freeze(T0 + timedelta(hours=offset))
        with database.unit_of_work() as db:
            review.submit(db, actor=world.owner, settings=settings, version_id=ver)
        ids[name] = ver
    _, draft_only = _create(database, world, name="draft")
    clock.freeze(T0 + timedelta(hours=6.5))  # past the expedited time (4 h) of both urgent ones
    with database.unit_of_work() as db:
        queue = review.review_queue(db, actor=world.operator)
        assert [item.miniapp.name for item in queue] == [
            "old urgent", "new urgent", "old standard", "new standard",
        ]
        assert [item.overdue for item in queue] == [True, True, False, False]
        assert queue[0].age == timedelta(hours=5)
        assert draft_only not in {item.version.public_id for item in queue}
    clock.freeze(T0 + timedelta(hours=73.5))
    with database.unit_of_work() as db:
        assert [item.overdue for item in review.review_queue(db, actor=world.operator)] == [
            True, True, True, True,
        ]
        review.reject(db, actor=world.operator, version_id=ids["old urgent"], reason="不合规")
        assert len(review.review_queue(db, actor=world.operator)) == 3
