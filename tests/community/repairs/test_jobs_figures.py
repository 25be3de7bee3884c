"""Lateness reminders (once per ticket and kind), automatic confirmation, and the committee's
figures on a small exact set of tickets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.community import world as cw
from tests.community.repairs import world as w
from townsquare.accounts.models import User
from townsquare.community.repairs import figures, jobs
from townsquare.community.repairs import service as repairs
from townsquare.community.repairs.models import Status
from townsquare.core.clock import clock
from townsquare.core.errors import PermissionDenied, ValidationFailed
from townsquare.messaging.models import Notification

NOON = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)


@pytest.fixture
def world(database, settings, make_user):
    clock.freeze(NOON)
    return w.build(database, settings, make_user)


def tick(database, settings) -> jobs.Tick:
    with database.unit_of_work() as db:
        return jobs.tick(db, settings=settings)


def notices(database) -> list[str]:
    with database.unit_of_work() as db:
        return list(db.scalars(select(Notification.kind).order_by(Notification.id)))


def test_late_tickets_are_reminded_once_per_kind(database, settings, world):
    rep = w.report(database, world)
    done = w.report(database, world, key="report-done")
    w.to_in_progress(database, world, done)
    w.act(database, world.technician, repairs.finish, done)
    clock.advance(timedelta(minutes=29))
    assert tick(database, settings) == jobs.Tick()  # within the 30 minutes
    clock.advance(timedelta(minutes=2))
    assert tick(database, settings).late_response == 1
    assert tick(database, settings).late_response == 0  # not again
    assert notices(database) == ["repair.late_response"]
    w.act(database, world.manager, repairs.assign, rep, technician_username="tech")
    w.act(database, world.technician, repairs.accept, rep)
    clock.advance(timedelta(hours=24))
    counts = tick(database, settings)
    assert (counts.late_response, counts.late_completion) == (0, 1)
    assert tick(database, settings).late_completion == 0
    assert notices(database) == ["repair.late_response", "repair.late_completion"]


def test_done_tickets_are_confirmed_after_the_communitys_days(database, settings, world):
    with database.unit_of_work() as db:
        repairs.set_targets(db, actor=db.get_one(User, world.manager.id),
                            community=cw.community(db, world.com), respond_minutes=60,
                            complete_hours=48, auto_confirm_days=2)
    rep = w.report(database, world)
    w.to_in_progress(database, world, rep)
    w.act(database, world.technician, repairs.finish, rep)
    clock.advance(timedelta(days=2) - timedelta(minutes=1))
    assert tick(database, settings).auto_confirmed == 0
    clock.advance(timedelta(minutes=2))
    assert tick(database, settings).auto_confirmed == 1
    with database.unit_of_work() as db:
        ticket = w.ticket(db, rep)
        assert ticket.status == Status.CONFIRMED and ticket.auto_confirmed
        assert ticket.respond_by == NOON + timedelta(minutes=60)


def test_only_the_property_manager_sets_targets_within_bounds(database, world):
    with database.unit_of_work() as db:
        community = cw.community(db, world.com)
        with pytest.raises(PermissionDenied):
            repairs.set_targets(db, actor=db.get_one(User, world.committee.id),
                                community=community, respond_minutes=30, complete_hours=24,
                                auto_confirm_days=3)
        with pytest.raises(ValidationFailed):
            repairs.set_targets(db, actor=db.get_one(User, world.manager.id),
                                community=community, respond_minutes=1, complete_hours=24,
                                auto_confirm_days=3)


def test_committee_figures_on_an_exact_set(database, world):
    """Four tickets, targets 30 min / 24 h:
    A accepted after 10 min, done after 2 h (both on target), rated 5;
    B accepted after 50 min (late), done after 30 h (late), rated 3;
    C reported, never accepted, 2 days old: counts as late for both targets;
    D cancelled: only in the counts."""
    a = w.report(database, world, key="ticket-a")
    b = w.report(database, world, key="ticket-b")
    c = w.report(database, world, key="ticket-c")
    d = w.report(database, world, key="ticket-d")
    w.act(database, world.head, repairs.cancel, d)
    for ticket in (a, b):
        w.act(database, world.manager, repairs.assign, ticket, technician_username="tech")
    clock.advance(timedelta(minutes=10))
    w.act(database, world.technician, repairs.accept, a)
    w.act(database, world.technician, repairs.on_the_way, a)
    w.act(database, world.technician, repairs.start, a)
    clock.advance(timedelta(minutes=40))  # 50 min
    w.act(database, world.technician, repairs.accept, b)
    w.act(database, world.technician, repairs.on_the_way, b)
    w.act(database, world.technician, repairs.start, b)
    clock.advance(timedelta(minutes=70))  # 2 h
    w.act(database, world.technician, repairs.finish, a)
    clock.advance(timedelta(hours=28))  # 30 h
    w.act(database, world.technician, repairs.finish, b)
    clock.advance(timedelta(hours=18))  # 48 h
    for ticket, stars in ((a, 5), (b, 3)):
        with database.unit_of_work() as db:
            from townsquare.core.settings import Settings
            repairs.rate(db, actor=db.get_one(User, world.head.id), ticket_id=ticket,
                         stars=stars, settings=Settings(data_dir=world.data_dir))
    assert c
    with database.unit_of_work() as db:
        committee = db.get_one(User, world.committee.id)
        rows = figures.committee(db, actor=committee, since=NOON - timedelta(days=1))
        ours = next(r for r in rows if r.community == world.com)
        assert (ours.reported, ours.open, ours.done, ours.cancelled) == (4, 1, 2, 1)
        assert ours.median_response_minutes == 30.0  # (10 + 50) / 2
        assert ours.median_completion_hours == 16.0  # (2 + 30) / 2
        assert ours.response_on_target == pytest.approx(1 / 3)  # A of A, B, C
        assert ours.completion_on_target == pytest.approx(1 / 3)
        assert ours.rating_average == 4.0
        other = next(r for r in rows if r.community == world.base.other_com)
        assert other.reported == 0 and other.median_response_minutes is None
        assert db.scalar(select(func.count()).select_from(Notification)) == 0
        with pytest.raises(PermissionDenied):
            figures.for_community(db, actor=db.get_one(User, world.technician.id),
                                  community=cw.community(db, world.com), since=NOON)
