"""The household's daily visitor limit under real concurrency on PostgreSQL: many invitations
created at once, and many visitors scanned in at two gates at once, never exceed it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from townsquare.community import access
from townsquare.community.gate import visitors
from townsquare.community.gate.decision import Direction, Reason, decide
from townsquare.community.gate.models import Passage, VisitorInvitation
from townsquare.core.clock import clock
from townsquare.core.errors import Conflict

from .world import build

pytestmark = pytest.mark.postgres_only
N = 12
LIMIT = 3


def _rules(database, world, limit):
    with database.unit_of_work() as db:
        community = access.get_community(db, community_id=world.com)
        visitors.set_rules(db, actor=world.manager, community=community,
                           per_household_per_day=limit, max_days_ahead=7, max_hours=12,
                           lockdown=False)


def test_concurrent_invitations_never_exceed_the_daily_limit(database, make_user, settings):
    world = build(database, make_user, name="CI")
    _rules(database, world, LIMIT)
    start = clock.now() + timedelta(hours=1)
    barrier = threading.Barrier(N)

    def one(i: int) -> bool:
        barrier.wait()
        try:
            with database.unit_of_work() as db:
                visitors.create(db, actor=world.resident, settings=settings,
                                community_id=world.com, visitor_name=f"访客{i}",
                                visitor_phone="13912345678", purpose="",
                                starts_at=start, ends_at=start + timedelta(hours=2))
            return True
        except Conflict as exc:
            assert exc.code == "visitor_limit"
            return False

    with ThreadPoolExecutor(max_workers=N) as pool:
        made = list(pool.map(one, range(N)))
    assert sum(made) == LIMIT
    with database.unit_of_work() as db:
        assert db.scalar(select(func.count()).select_from(VisitorInvitation)) == LIMIT


def test_concurrent_entries_never_exceed_the_daily_limit(database, make_user, settings):
    world = build(database, make_user, name="CE")
    _rules(database, world, N)  # invite N visitors for today...
    start = clock.now() - timedelta(minutes=5)
    codes = []
    for i in range(N):
        with database.unit_of_work() as db:
            created = visitors.create(db, actor=world.resident, settings=settings,
                                      community_id=world.com, visitor_name=f"访客{i}",
                                      visitor_phone="13912345678", purpose="",
                                      starts_at=start, ends_at=start + timedelta(hours=2))
        with database.unit_of_work() as db:
            codes.append(visitors.by_token(db, settings=settings, token=created.token).code)
    _rules(database, world, LIMIT)  # ...then the property lowers the limit
    barrier = threading.Barrier(N)

    def one(i: int) -> bool:
        barrier.wait()
        with database.unit_of_work() as db:
            decision = decide(db, actor=world.guard, settings=settings, community_id=world.com,
                              gate_id=world.gate if i % 2 else world.gate2, code=codes[i],
                              direction=Direction.ENTRY)
        assert decision.allowed or decision.reasons == [Reason.VISITOR_LIMIT]
        return decision.allowed

    with ThreadPoolExecutor(max_workers=N) as pool:
        allowed = list(pool.map(one, range(N)))
    assert sum(allowed) == LIMIT
    with database.unit_of_work() as db:
        assert db.scalar(select(func.count()).where(Passage.allowed.is_(True))) == LIMIT
