"""Visitor passes through the services: inviting, revoking, the window, the household's daily
limit, lockdown, forged, tampered and other communities' codes, offline sync, and the log."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from townsquare.community import access, communities
from townsquare.community.gate import codes, passages, visitors
from townsquare.community.gate.decision import Direction, Reason, decide
from townsquare.community.gate.models import Passage, VisitorInvitation
from townsquare.core.clock import clock
from townsquare.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from townsquare.core.security import b64url, b64url_decode

from .world import build

NOON = datetime(2024, 3, 4, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
HOUR = timedelta(hours=1)


@pytest.fixture
def world(database, make_user):
    clock.freeze(NOON)
    return build(database, make_user)


def invite(database, settings, world, *, start=NOON + HOUR, hours=2, name="刘访客", key=None,
           actor=None):
    with database.unit_of_work() as db:
        created = visitors.create(
            db, actor=actor or world.resident, settings=settings, community_id=world.com,
            visitor_name=name, visitor_phone="13912345678", purpose="探亲",
            starts_at=start, ends_at=start + timedelta(hours=hours), idempotency_key=key)
        return created.invitation.public_id, created.token


def code_of(database, settings, token) -> str | None:
    with database.unit_of_work() as db:
        return visitors.by_token(db, settings=settings, token=token).code


def scan(database, settings, world, code, direction=Direction.ENTRY, **kw):
    with database.unit_of_work() as db:
        return decide(db, actor=world.guard, settings=settings, community_id=world.com,
                      gate_id=world.gate, code=code, direction=direction, **kw)


def set_rules(database, world, **changes):
    values = dict(per_household_per_day=3, max_days_ahead=7, max_hours=12, lockdown=False)
    values.update(changes)
    with database.unit_of_work() as db:
        community = access.get_community(db, community_id=world.com)
        visitors.set_rules(db, actor=world.manager, community=community, **values)


def test_a_visitor_is_let_in_only_inside_the_window(database, settings, world):
    _, token = invite(database, settings, world)
    code = code_of(database, settings, token)
    keys = codes.public_keys(settings.effective_secret_key, world.com)
    claims = codes.verify(code, keys, community=world.com, now=NOON.timestamp())
    assert claims.kind is codes.CodeKind.VISITOR and claims.subject.startswith("vis_")

    early = scan(database, settings, world, code)
    assert not early.allowed and early.reasons == [Reason.VISITOR_EARLY]
    assert early.visitor and early.room == "3栋-2单元-301" and early.name_masked == "刘*客"
    assert early.phone_masked == "139****5678"
    assert "13912345678" not in early.phone_masked and early.purpose == "探亲"

    clock.freeze(NOON + HOUR + timedelta(minutes=30))
    inside = scan(database, settings, world, code)
    assert inside.allowed and inside.reasons == [] and inside.kind == "v"
    out = scan(database, settings, world, code, direction=Direction.EXIT)
    assert out.allowed

    clock.freeze(NOON + 3 * HOUR + timedelta(seconds=1))  # the window ended at 15:00
    late = scan(database, settings, world, code)
    assert not late.allowed and late.reasons == [Reason.VISITOR_LATE]
    with database.unit_of_work() as db:
        rows = list(db.scalars(select(Passage).where(Passage.code_kind == "v")
                               .order_by(Passage.id)))
        hh = rows[1].household.public_id
        # every visitor passage is logged with the host household, never counted as an exit
        assert [p.allowed for p in rows] == [False, True, True, False]
        assert all(p.counted is False for p in rows) and hh == world.household
        assert all(p.invitation is not None for p in rows[:3])


def test_visitors_do_not_use_the_household_exit_quota_or_close_its_exits(
        database, settings, world):
    _, token = invite(database, settings, world, start=NOON - HOUR, hours=4)
    home = codes.issue(settings.effective_secret_key, community=world.com,
                       subject=world.household, kind=codes.CodeKind.HOUSEHOLD,
                       now=NOON.timestamp())
    assert scan(database, settings, world, home, direction=Direction.EXIT,
                member_id=world.head).allowed
    assert scan(database, settings, world, code_of(database, settings, token)).allowed
    with database.unit_of_work() as db:
        resident_exit = db.scalar(select(Passage).where(Passage.code_kind == "h"))
        assert resident_exit.returned_at is None  # the visitor coming in closed nothing


def test_revoked_invitations_stop_link_and_code(database, settings, world, make_user):
    vis, token = invite(database, settings, world, start=NOON - HOUR)
    code = code_of(database, settings, token)
    # not a resident here: not theirs to revoke
    with database.unit_of_work() as db, pytest.raises(PermissionDenied):
        visitors.revoke(db, actor=world.guard, community_id=world.com, invitation_id=vis)
    with database.unit_of_work() as db, pytest.raises(NotFound):
        visitors.revoke(db, actor=world.resident, community_id=world.com,
                        invitation_id="vis_nosuch")
    with database.unit_of_work() as db:
        visitors.revoke(db, actor=world.kid_user, community_id=world.com, invitation_id=vis)
    assert code_of(database, settings, token) is None
    refused = scan(database, settings, world, code)
    assert not refused.allowed and Reason.VISITOR_REVOKED in refused.reasons


def test_invitations_need_a_verified_resident_and_a_sane_window(database, settings, world,
                                                                make_user):
    outsider = make_user(username="nobody")
    with database.unit_of_work() as db, pytest.raises(PermissionDenied):
        visitors.create(db, actor=outsider, settings=settings, community_id=world.com,
                        visitor_name="王", visitor_phone="13912345678", purpose="",
                        starts_at=NOON, ends_at=NOON + HOUR)
    for start, hours, field in ((NOON + HOUR, -1, "ends_at"),
                                (NOON - 5 * HOUR, 2, "ends_at"),  # already over
                                (NOON + timedelta(days=8), 2, "starts_at"),  # 7 days ahead max
                                (NOON + HOUR, 13, "ends_at")):  # 12 hours long at most
        with pytest.raises(ValidationFailed) as caught:
            invite(database, settings, world, start=start, hours=hours)
        assert caught.value.params["field"] == field
    with database.unit_of_work() as db, pytest.raises(ValidationFailed):
        visitors.create(db, actor=world.resident, settings=settings, community_id=world.com,
                        visitor_name="王", visitor_phone="12345", purpose="",
                        starts_at=NOON, ends_at=NOON + HOUR)
    with database.unit_of_work() as db:
        assert db.scalar(select(VisitorInvitation.id)) is None  # bad input changed nothing


def test_the_daily_limit_counts_invitations_and_entries(database, settings, world):
    set_rules(database, world, per_household_per_day=2)
    _, t1 = invite(database, settings, world, start=NOON - HOUR, key="k-1")
    _, t2 = invite(database, settings, world, start=NOON - HOUR, name="赵访客")
    with pytest.raises(Conflict) as caught:
        invite(database, settings, world, start=NOON + HOUR, name="钱访客")
    assert caught.value.code == "visitor_limit"
    with pytest.raises(Conflict) as again:
        invite(database, settings, world, start=NOON - HOUR, key="k-1")
    assert again.value.code == "duplicate_invitation"
    # the next day is another day
    invite(database, settings, world, start=NOON + timedelta(days=1), name="孙访客")
    # at the gate: the limit lowered to one, the first visitor in, the second refused
    set_rules(database, world, per_household_per_day=1)
    c1, c2 = code_of(database, settings, t1), code_of(database, settings, t2)
    assert scan(database, settings, world, c1).allowed
    second = scan(database, settings, world, c2)
    assert not second.allowed and second.reasons == [Reason.VISITOR_LIMIT]
    assert scan(database, settings, world, c1).allowed  # the same visitor again is no new one


def test_no_visitors_during_lockdown(database, settings, world):
    _, token = invite(database, settings, world, start=NOON - HOUR)
    code = code_of(database, settings, token)
    set_rules(database, world, lockdown=True)
    refused = scan(database, settings, world, code)
    assert not refused.allowed and refused.reasons == [Reason.VISITOR_LOCKDOWN]
    assert scan(database, settings, world, code, direction=Direction.EXIT).allowed  # may leave
    with pytest.raises(Conflict) as caught:
        invite(database, settings, world, name="周访客")
    assert caught.value.code == "visitor_lockdown"
    # the exit policy's "no exits" is a lockdown too
    set_rules(database, world, lockdown=False)
    with database.unit_of_work() as db:
        community = access.get_community(db, community_id=world.com)
        communities.set_policy(db, actor=world.manager, community=community,
                               exits_per_household=0, per_days=1, max_hours_outside=4,
                               who_may_exit="any_adult")
    assert scan(database, settings, world, code).reasons == [Reason.VISITOR_LOCKDOWN]


def test_forged_tampered_and_foreign_visitor_codes(database, make_user, settings, world):
    _, token = invite(database, settings, world, start=NOON - HOUR)
    code = code_of(database, settings, token)
    kid, payload, sig = code.split(".")
    forged = f"{kid}.{payload}.{sig[:-4]}{'AAAA' if not sig.endswith('AAAA') else 'BBBB'}"
    assert scan(database, settings, world, forged).reasons == [Reason.FORGED]
    claims = json.loads(b64url_decode(payload))
    longer = b64url(json.dumps({**claims, "exp": claims["exp"] + 86400}).encode())
    assert scan(database, settings, world, f"{kid}.{longer}.{sig}").reasons == [Reason.FORGED]
    # another community's visitor code, genuine there, is refused here
    other = build(database, make_user, name="B")
    _, other_token = invite(database, settings, other, start=NOON - HOUR)
    foreign = code_of(database, settings, other_token)
    assert scan(database, settings, world, foreign).reasons == [Reason.WRONG_COMMUNITY]
    # a genuine visitor-kind code naming no invitation of this community is unknown
    stray = codes.issue_visitor(settings.effective_secret_key, community=world.com,
                                invitation="vis_nosuch", issued=NOON.timestamp() - 60,
                                starts=NOON.timestamp() - 60, ends=NOON.timestamp() + 600)
    assert scan(database, settings, world, stray).reasons == [Reason.UNKNOWN]


def test_resident_code_rules_are_not_weakened(database, settings, world):
    secret = settings.effective_secret_key
    now = NOON.timestamp()
    keys = codes.public_keys(secret, world.com)
    # a resident code still lives at most MAX_TTL_SECONDS, whatever its kind claims
    long_lived = codes.issue(secret, community=world.com, subject=world.household,
                             kind=codes.CodeKind.HOUSEHOLD, now=now, ttl=86400)
    with pytest.raises(codes.CodeRefused) as caught:
        codes.verify(long_lived, keys, community=world.com, now=now)
    assert caught.value.reason is codes.Refusal.EXPIRED
    # a visitor code must name an invitation and its window: a household named in a long-lived
    # "visitor" code is malformed, not a day-long household pass
    disguised = codes.issue(secret, community=world.com, subject=world.household,
                            kind=codes.CodeKind.VISITOR, now=now, ttl=86400, nbf=int(now))
    with pytest.raises(codes.CodeRefused) as caught:
        codes.verify(disguised, keys, community=world.com, now=now)
    assert caught.value.reason is codes.Refusal.MALFORMED
    no_window = codes.issue(secret, community=world.com, subject="vis_x",
                            kind=codes.CodeKind.VISITOR, now=now, ttl=600)
    with pytest.raises(codes.CodeRefused):
        codes.verify(no_window, keys, community=world.com, now=now)


def test_offline_devices_refuse_visitors_and_the_sync_records_it(database, settings, world):
    _, token = invite(database, settings, world, start=NOON - HOUR)
    code = code_of(database, settings, token)
    scans = [passages.OfflineScan(client_id=f"dev-visit-{i:03d}", gate=world.gate, code=code,
                                  direction=Direction.ENTRY, at=NOON - timedelta(minutes=10 - i),
                                  allowed=allowed)
             for i, allowed in enumerate((False, True))]
    with database.unit_of_work() as db:
        results = passages.sync(db, actor=world.guard, settings=settings,
                                community_id=world.com, scans=scans)
    assert [(r.allowed, r.needs_review) for r in results] == [(False, False), (True, True)]
    with database.unit_of_work() as db:
        rows = list(db.scalars(select(Passage).order_by(Passage.at)))
        assert rows[0].reasons == [Reason.VISITOR_OFFLINE.value]
        assert Reason.OFFLINE_DISAGREES.value in rows[1].reasons


def test_the_property_and_the_host_see_visitor_passages(database, settings, world):
    _, token = invite(database, settings, world, start=NOON - HOUR)
    scan(database, settings, world, code_of(database, settings, token))
    with database.unit_of_work() as db:
        found = passages.search(db, actor=world.manager, community_id=world.com,
                                filters=passages.LogFilter(household=world.household))
        assert len(found) == 1 and found[0].invitation.visitor_name == "刘访客"
        mine = visitors.passages_of_household(db, actor=world.kid_user, community_id=world.com)
        assert [p.public_id for p in mine] == [found[0].public_id]
