"""Gate decisions through the service: quota, health flags, exit rules, overdue returns,
refused codes and who may scan where."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from townsquare.community.gate import codes, rules
from townsquare.community.gate.decision import Direction, Reason, decide, mask_name
from townsquare.community.gate.models import Passage
from townsquare.community.models import (
    ExitRule,
    FlagKind,
    HealthFlag,
    HealthRecordView,
    Person,
)
from townsquare.core.clock import clock
from townsquare.core.errors import NotFound, PermissionDenied

from .world import build

NOON = datetime(2024, 3, 4, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai


@pytest.fixture
def world(database, make_user):
    clock.freeze(NOON)
    return build(database, make_user)


def code_for(settings, world, subject=None, kind=codes.CodeKind.HOUSEHOLD, at=None, com=None):
    return codes.issue(
        settings.effective_secret_key,
        community=com or world.com,
        subject=subject or world.household,
        kind=kind,
        now=(at or clock.now()).timestamp(),
    )


def scan(database, settings, world, code, direction=Direction.EXIT, actor=None, gate_id=None, **kw):
    kw.setdefault("member_id", world.head)  # the guard picks who goes out on a household code
    with database.unit_of_work() as db:
        return decide(
            db,
            actor=actor or world.guard,
            settings=settings,
            community_id=world.com,
            gate_id=gate_id or world.gate,
            code=code,
            direction=direction,
            **kw,
        )


def test_one_exit_per_day_then_the_quota_reason(database, settings, world):
    first = scan(database, settings, world, code_for(settings, world))
    assert first.allowed and first.reasons == [] and first.quota_left == 0
    assert first.room == "3栋-2单元-301" and first.name_masked == "张*民"
    assert first.colour == "green"
    second = scan(database, settings, world, code_for(settings, world))
    assert not second.allowed and second.reasons == [Reason.QUOTA]
    # the next local day has a fresh quota
    clock.advance(timedelta(hours=13))  # 01:00 the next day in Shanghai
    third = scan(database, settings, world, code_for(settings, world))
    assert third.allowed


def test_a_three_day_quota_spans_three_calendar_days(database, make_user, settings):
    clock.freeze(NOON)
    w = build(database, make_user, name="Q", exits=2, per_days=3)
    start, end = rules.quota_window(NOON, per_days=3, zone=settings.timezone)
    assert (end - start) == timedelta(days=3) and start <= NOON < end
    clock.freeze(start + timedelta(hours=1))
    assert scan(database, settings, w, code_for(settings, w)).quota_left == 1
    clock.freeze(start + timedelta(days=1, hours=2))
    assert scan(database, settings, w, code_for(settings, w)).allowed
    clock.freeze(start + timedelta(days=2, hours=23))
    assert scan(database, settings, w, code_for(settings, w)).reasons == [Reason.QUOTA]
    clock.freeze(end + timedelta(minutes=1))
    assert scan(database, settings, w, code_for(settings, w)).allowed


def test_entries_are_let_in_and_close_the_exit_overdue_when_late(database, settings, world):
    scan(database, settings, world, code_for(settings, world))
    clock.advance(timedelta(hours=5))  # policy: back within 4 hours
    back = scan(database, settings, world, code_for(settings, world), Direction.ENTRY)
    assert back.allowed and back.overdue and back.reasons == [Reason.OVERDUE]
    with database.unit_of_work() as db:
        out = db.scalar(select(Passage).where(Passage.direction == Direction.EXIT))
        assert out.overdue and out.returned_at == clock.now()
    # a timely return is not overdue
    clock.advance(timedelta(days=1))
    scan(database, settings, world, code_for(settings, world))
    clock.advance(timedelta(hours=1))
    assert not scan(database, settings, world, code_for(settings, world), Direction.ENTRY).overdue


def test_health_flags_deny_exits_but_not_entries(database, settings, world):
    with database.unit_of_work() as db:
        head = db.scalar(select(Person).where(Person.public_id == world.head))
        db.add(
            HealthFlag(
                person_id=head.id,
                community_id=head.community_id,
                kind=FlagKind.QUARANTINE,
                start=date(2024, 3, 1),
                end=date(2024, 3, 14),
            )
        )
    out = scan(database, settings, world, code_for(settings, world))
    assert not out.allowed and Reason.QUARANTINE in out.reasons and out.colour == "red"
    entry = scan(database, settings, world, code_for(settings, world), Direction.ENTRY)
    assert entry.allowed and Reason.QUARANTINE in entry.reasons
    # the child's personal code: the child is not flagged, but is not an adult either
    child = scan(
        database, settings, world, code_for(settings, world, world.child, codes.CodeKind.PERSON)
    )
    assert not child.allowed and child.reasons == [Reason.NOT_ALLOWED]
    with database.unit_of_work() as db:  # each look at a health record is audited
        views = db.scalar(
            select(func.count())
            .select_from(HealthRecordView)
            .where(HealthRecordView.purpose == "gate")
        )
        assert views >= 3  # one per scan: the person passing


def test_head_only_policy_needs_the_personal_code(database, make_user, settings):
    clock.freeze(NOON)
    w = build(database, make_user, name="H", rule=ExitRule.HEAD_ONLY)
    # the household code names who passes: the child is not the head
    shared = scan(database, settings, w, code_for(settings, w), member_id=w.child)
    assert not shared.allowed and shared.reasons == [Reason.NOT_ALLOWED]
    head = scan(database, settings, w, code_for(settings, w, w.head, codes.CodeKind.PERSON))
    assert head.allowed and head.kind == "p"


@pytest.mark.parametrize("how", ["expired", "altered", "other_key", "other_community", "junk"])
def test_bad_codes_are_refused_and_logged(database, make_user, settings, world, how):
    good = code_for(settings, world)
    bad = {
        "expired": code_for(settings, world, at=NOON - timedelta(seconds=121)),
        "altered": good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
        "other_key": codes.issue(
            b"not-our-secret",
            community=world.com,
            subject=world.household,
            kind=codes.CodeKind.HOUSEHOLD,
            now=NOON.timestamp(),
        ),
        "other_community": code_for(settings, world, com="com_bbbbbbbbbbbbbbbb"),
        "junk": "hello world",
    }[how]
    expected = {
        "expired": Reason.EXPIRED,
        "altered": Reason.FORGED,
        "other_key": Reason.FORGED,
        "other_community": Reason.WRONG_COMMUNITY,
        "junk": Reason.MALFORMED,
    }[how]
    for direction in Direction:
        decision = scan(database, settings, world, bad, direction)
        assert not decision.allowed and decision.reasons == [expected]
        assert decision.room == "" and decision.name_masked == ""
    with database.unit_of_work() as db:
        logged = list(db.scalars(select(Passage)))
        assert len(logged) == 2 and not any(p.allowed or p.counted for p in logged)


def test_client_id_makes_a_retried_scan_count_once(database, settings, world):
    code = code_for(settings, world)
    first = scan(database, settings, world, code, client_id="dev1-0001")
    again = scan(database, settings, world, code, client_id="dev1-0001")
    assert first.allowed and again.allowed and again.passage_id == first.passage_id
    with database.unit_of_work() as db:
        assert db.scalar(select(func.count()).select_from(Passage)) == 1


def test_only_guards_posted_at_the_gate_may_scan(database, make_user, settings, world):
    other = build(database, make_user, name="B")
    code = code_for(settings, world)
    with pytest.raises(PermissionDenied):  # a guard of community B at community A
        scan(database, settings, world, code, actor=other.guard)
    with pytest.raises(PermissionDenied):  # a guard of A not posted at this gate
        scan(database, settings, world, code, actor=world.guard2)
    for actor in (world.manager, world.resident):
        with pytest.raises(PermissionDenied):
            scan(database, settings, world, code, actor=actor)
    with pytest.raises(NotFound):  # B's gate is not a gate of A
        scan(database, settings, world, code, gate_id=other.gate)
    assert scan(database, settings, world, code, actor=world.guard2, gate_id=world.gate2).allowed


def test_names_are_masked():
    assert mask_name("张小民") == "张*民"
    assert mask_name("李四") == "李*"
    assert mask_name("欧阳娜娜") == "欧**娜"


def test_a_child_cannot_go_out_on_the_household_code(database, settings, world):
    """Under "adults only" the child's own code is refused, and so is the household code: it
    must name who is passing, and the person's rules apply."""
    shared = code_for(settings, world)
    unnamed = scan(database, settings, world, shared, member_id=None)
    assert not unnamed.allowed and unnamed.reasons == [Reason.CHOOSE_MEMBER]
    assert world.child in [member for member, _name in unnamed.members]
    child = scan(database, settings, world, shared, member_id=world.child)
    assert not child.allowed and Reason.NOT_ALLOWED in child.reasons
    stranger = scan(database, settings, world, shared, member_id="per_nosuchperson")
    assert not stranger.allowed and Reason.UNKNOWN in stranger.reasons
    head = scan(database, settings, world, shared, member_id=world.head)
    assert head.allowed and head.name_masked == "张*民"
    with database.unit_of_work() as db:
        passages = list(db.scalars(select(Passage).order_by(Passage.id)))
        assert sum(p.counted for p in passages) == 1  # only the head's exit counts
        assert passages[-1].person.public_id == world.head
    # entries need no choice: people are not locked out of their homes
    assert scan(database, settings, world, shared, Direction.ENTRY, member_id=None).allowed
