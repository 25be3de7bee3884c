"""Channels and topics: operators define them, merchants apply, operators decide; membership
follows categories, tags and decisions; refused requests change nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tests.traffic.market_world import authorized_isv, snapshot
from tests.traffic.world import CITY, OTHER_CITY, build_world
from townsquare.core.audit import AuditEntry
from townsquare.core.clock import clock
from townsquare.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from townsquare.miniapps.models import MiniApp
from townsquare.traffic import topics
from townsquare.traffic.models import MembershipState, TopicMember

NOW = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)


@pytest.fixture
def world(database):
    clock.freeze(NOW)
    return build_world(database)


def _fruit_topic(db, world, **overrides):
    fields = dict(slug="fruit", title_zh="买水果", title_en="Buy fruit",
                  description_zh="新鲜水果", category_codes=[], tags=["水果"])
    fields.update(overrides)
    return topics.create_topic(db, actor=world.operator, **fields)


def _ids(world, *keys):
    return sorted(world.app(k).id for k in keys)


def test_operator_defines_channels_and_topics_and_each_write_is_audited(database, world):
    with database.unit_of_work() as db:
        channel = topics.save_channel(db, actor=world.operator, slug="life", title_zh="社区生活",
                                      title_en="Community life", category_codes=["grocery"])
        topic = _fruit_topic(db, world, tags=[" 水果 ", "水果", "生鲜"])
        assert topic.tags == ["水果", "生鲜"]  # trimmed, duplicates dropped
        topics.save_channel(db, actor=world.operator, slug="life", title_zh="生活",
                            title_en="Life", category_codes=["grocery", "clinic"], position=2)
    with database.unit_of_work() as db:
        assert [(c.slug, c.title_zh, c.category_codes, c.position) for c in topics.channels(db)] \
            == [("life", "生活", ["grocery", "clinic"], 2)]
        assert topics.get_topic(db, slug="fruit").public_id == topic.public_id
        actions = [e.action for e in db.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert actions == ["channel.create", "topic.create", "channel.update"]
        assert channel.id is not None


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"slug": "Fruit"}, ValidationFailed),
        ({"slug": "x"}, ValidationFailed),
        ({"slug": "applications"}, ValidationFailed),  # would shadow the API path
        ({"title_zh": ""}, ValidationFailed),
        ({"title_zh": "长" * 33}, ValidationFailed),
        ({"title_en": "a\x00b"}, ValidationFailed),
        ({"description_en": "x" * 2001}, ValidationFailed),
        ({"category_codes": ["nope"]}, ValidationFailed),
        ({"category_codes": ["gro\x00cery"]}, ValidationFailed),  # never sent to PostgreSQL
        ({"tags": ["t" * 17]}, ValidationFailed),
        ({"tags": [f"t{i}" for i in range(11)]}, ValidationFailed),
        ({"tags": ["a\x01b"]}, ValidationFailed),
        ({"slug": "taken"}, Conflict),
    ],
)
def test_bad_topics_are_refused_and_change_nothing(database, world, fields, error):
    with database.unit_of_work() as db:
        _fruit_topic(db, world, slug="taken")
    before = snapshot(database)
    with pytest.raises(error), database.unit_of_work() as db:
        _fruit_topic(db, world, **fields)
    assert snapshot(database) == before


def test_only_operators_write_channels_topics_and_decisions(database, world):
    before = snapshot(database)
    for actor in (world.owner, world.resident):
        with pytest.raises(PermissionDenied), database.unit_of_work() as db:
            topics.create_topic(db, actor=actor, slug="fruit", title_zh="水果", title_en="Fruit")
        with pytest.raises(PermissionDenied), database.unit_of_work() as db:
            topics.save_channel(db, actor=actor, slug="life", title_zh="生活", title_en="Life",
                                category_codes=[])
        with pytest.raises(PermissionDenied), database.unit_of_work() as db:
            topics.applications(db, actor=actor)
    assert snapshot(database) == before


def test_update_checks_every_field_before_writing_and_can_hide_a_topic(database, world):
    with database.unit_of_work() as db:
        _fruit_topic(db, world)
    before = snapshot(database)
    with pytest.raises(ValidationFailed), database.unit_of_work() as db:
        topics.update_topic(db, actor=world.operator, slug="fruit", title_en="Fruit!",
                            tags=["x" * 20])
    assert snapshot(database) == before
    with pytest.raises(NotFound), database.unit_of_work() as db:
        topics.update_topic(db, actor=world.operator, slug="nothing", title_en="x")
    with database.unit_of_work() as db:
        topics.update_topic(db, actor=world.operator, slug="fruit", active=False,
                            category_codes=["clinic"])
    with database.unit_of_work() as db:
        assert topics.list_topics(db) == []
        assert [t.slug for t in topics.list_topics(db, active_only=False)] == ["fruit"]
        with pytest.raises(NotFound):
            topics.get_topic(db, slug="fruit", active_only=True)
        assert topics.get_topic(db, slug="fruit").category_codes == ["clinic"]


def test_channel_gathers_its_categories_per_city(database, world):
    with database.unit_of_work() as db:
        channel = topics.save_channel(db, actor=world.operator, slug="life", title_zh="生活",
                                      title_en="Life", category_codes=["grocery"])
        grocery_here = _ids(world, "brand", "lookalike", "grocer", "newcomer", "declining")
        assert topics.channel_miniapp_ids(db, channel=channel, city=CITY) == grocery_here
        assert topics.channel_miniapp_ids(db, channel=channel, city=OTHER_CITY) == \
            _ids(world, "faraway")
        assert topics.channel_miniapp_ids(db, channel=channel) == \
            sorted([*grocery_here, world.app("faraway").id])
        db.get(MiniApp, world.app("faraway").id).cities = []  # serves every city
        db.get(MiniApp, world.app("declining").id).listed = False
        db.flush()
        assert topics.channel_miniapp_ids(db, channel=channel, city=CITY) == \
            _ids(world, "brand", "lookalike", "grocer", "newcomer", "faraway")


def test_topic_members_by_tag_category_and_decision(database, world):
    with database.unit_of_work() as db:
        topic = _fruit_topic(db, world)
        assert topics.topic_miniapp_ids(db, topic=topic, city=CITY) == \
            _ids(world, "brand", "lookalike", "newcomer")
        assert topics.topic_miniapp_ids(db, topic=topic, city=OTHER_CITY) == []
    clinic, lookalike = world.app("clinic").public_id, world.app("lookalike").public_id
    with database.unit_of_work() as db:
        member = topics.apply(db, actor=world.other_owner, topic_slug="fruit",
                              miniapp_public_id=clinic, note="我们也卖水果")
        assert member.state == MembershipState.APPLIED
        # a pending application does not show the mini-app yet
        assert world.app("clinic").id not in topics.topic_miniapp_ids(db, topic=topic)
    with database.unit_of_work() as db:
        topics.decide(db, actor=world.operator, member_public_id=member.public_id, approve=True)
        topic = topics.get_topic(db, slug="fruit")
        assert topics.topic_miniapp_ids(db, topic=topic, city=CITY) == \
            _ids(world, "brand", "lookalike", "newcomer", "clinic")
        # a matching mini-app rejected on application stays out
        rejected = topics.apply(db, actor=world.other_owner, topic_slug="fruit",
                                miniapp_public_id=lookalike)
        topics.decide(db, actor=world.operator, member_public_id=rejected.public_id,
                      approve=False, reason="仿冒品牌")
        topics.remove(db, actor=world.operator, member_public_id=member.public_id,
                      reason="不再销售水果")
        assert topics.topic_miniapp_ids(db, topic=topic, city=CITY) == \
            _ids(world, "brand", "newcomer")
        # applying again after the rejection does not bring it back before an approval
        topics.apply(db, actor=world.other_owner, topic_slug="fruit", miniapp_public_id=lookalike)
        assert topics.topic_miniapp_ids(db, topic=topic, city=CITY) == \
            _ids(world, "brand", "newcomer")
    with database.unit_of_work() as db:
        actions = [e.action for e in db.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert actions == ["topic.create", "topic.apply", "topic.approve", "topic.apply",
                           "topic.reject", "topic.remove", "topic.apply"]


def test_application_lifecycle_and_its_conflicts(database, world):
    clinic = world.app("clinic").public_id
    with database.unit_of_work() as db:
        _fruit_topic(db, world)
        member = topics.apply(db, actor=world.other_owner, topic_slug="fruit",
                              miniapp_public_id=clinic, note="第一次")
    tpm = member.public_id
    before = snapshot(database)
    refused = [
        (Conflict, lambda db: topics.apply(db, actor=world.other_owner, topic_slug="fruit",
                                           miniapp_public_id=clinic)),  # twice while applied
        (ValidationFailed, lambda db: topics.decide(db, actor=world.operator,
                                                    member_public_id=tpm, approve=False,
                                                    reason="  ")),  # a rejection needs a reason
        (PermissionDenied, lambda db: topics.decide(db, actor=world.other_owner,
                                                    member_public_id=tpm, approve=True)),
        (NotFound, lambda db: topics.decide(db, actor=world.operator,
                                            member_public_id="tpm_nothing", approve=True)),
        (Conflict, lambda db: topics.remove(db, actor=world.operator, member_public_id=tpm,
                                            reason="not a member yet")),
    ]
    for error, call in refused:
        with pytest.raises(error), database.unit_of_work() as db:
            call(db)
        assert snapshot(database) == before

    with database.unit_of_work() as db:
        topics.decide(db, actor=world.operator, member_public_id=tpm, approve=False,
                      reason="品类不符")
    with pytest.raises(Conflict), database.unit_of_work() as db:  # decided already
        topics.decide(db, actor=world.operator, member_public_id=tpm, approve=True)
    with database.unit_of_work() as db:  # re-applying after a rejection is allowed
        again = topics.apply(db, actor=world.other_owner, topic_slug="fruit",
                             miniapp_public_id=clinic, note="第二次")
        assert (again.public_id, again.state, again.note, again.reason) == \
            (tpm, MembershipState.APPLIED, "第二次", "")
    with database.unit_of_work() as db:
        topics.decide(db, actor=world.operator, member_public_id=tpm, approve=True)
    with pytest.raises(Conflict), database.unit_of_work() as db:  # already a member
        topics.apply(db, actor=world.other_owner, topic_slug="fruit", miniapp_public_id=clinic)
    with pytest.raises(ValidationFailed), database.unit_of_work() as db:
        topics.remove(db, actor=world.operator, member_public_id=tpm, reason="")
    with database.unit_of_work() as db:
        removed = topics.remove(db, actor=world.operator, member_public_id=tpm, reason="违规")
        assert (removed.state, removed.reason) == (MembershipState.REMOVED, "违规")
        assert removed.decided_by_id == world.operator.id and removed.decided_at == NOW
        queue = topics.applications(db, actor=world.operator, state=MembershipState.REMOVED)
        assert [m.public_id for m in queue] == [tpm]
        assert topics.applications(db, actor=world.operator, state=MembershipState.APPLIED) == []


def test_who_may_apply_and_what(database, world, make_user):
    clinic = world.app("clinic").public_id
    with database.unit_of_work() as db:
        _fruit_topic(db, world)
        _fruit_topic(db, world, slug="hidden")
        topics.update_topic(db, actor=world.operator, slug="hidden", active=False)
        db.get(MiniApp, world.app("declining").id).listed = False
    before = snapshot(database)
    refused = [
        (NotFound, world.owner, "fruit", clinic),  # another merchant's mini-app
        (NotFound, world.resident, "fruit", clinic),
        (NotFound, world.operator, "fruit", clinic),  # operators decide, they do not apply
        (NotFound, world.other_owner, "hidden", clinic),  # inactive topic
        (NotFound, world.other_owner, "nothing", clinic),
        (NotFound, world.other_owner, "fruit", "ma_nothing"),
        (NotFound, world.other_owner, "fruit", "ma_\x00"),
        (Conflict, world.other_owner, "fruit", world.app("declining").public_id),  # unlisted
    ]
    for error, actor, slug, miniapp in refused:
        with pytest.raises(error), database.unit_of_work() as db:
            topics.apply(db, actor=actor, topic_slug=slug, miniapp_public_id=miniapp)
    with pytest.raises(ValidationFailed), database.unit_of_work() as db:
        topics.apply(db, actor=world.other_owner, topic_slug="fruit", miniapp_public_id=clinic,
                     note="x" * 501)
    assert snapshot(database) == before

    isv = authorized_isv(database, make_user, merchant_public_id=world.app("clinic")
                         .merchant_public_id)
    with database.unit_of_work() as db:
        member = topics.apply(db, actor=isv, topic_slug="fruit", miniapp_public_id=clinic)
        assert member.applied_by_id == isv.id
        mine = topics.merchant_applications(
            db, actor=world.other_owner, merchant_public_id=world.app("clinic").merchant_public_id
        )
        assert [m.public_id for m in mine] == [member.public_id]
        with pytest.raises(PermissionDenied):
            topics.merchant_applications(
                db, actor=world.owner,
                merchant_public_id=world.app("clinic").merchant_public_id,
            )
    with database.unit_of_work() as db:
        assert db.scalar(select(TopicMember.state)) == MembershipState.APPLIED
