"""Repair tickets through the service: every move, the forbidden ones, who may see and do what,
photos, idempotency, payment through the cashier (the trades hook) and rating."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.community import world as cw
from tests.community.repairs import world as w
from townsquare.accounts.models import User
from townsquare.community.repairs import payment, photos
from townsquare.community.repairs import service as repairs
from townsquare.community.repairs.models import RepairEvent, RepairTicket, Status
from townsquare.core.clock import clock
from townsquare.core.errors import NotFound, PermissionDenied, ValidationFailed
from townsquare.events.models import BehaviourEvent, EventType
from townsquare.payments.trades import hooks
from townsquare.payments.trades import service as trades
from townsquare.payments.trades.models import TradeStatus

S = Status
NOON = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)


@pytest.fixture
def world(database, settings, make_user):
    clock.freeze(NOON)
    return w.build(database, settings, make_user)


def events_of(database, ticket_id: str) -> list[tuple[str, str, str]]:
    with database.unit_of_work() as db:
        ticket = w.ticket(db, ticket_id)
        rows = db.scalars(select(RepairEvent).where(RepairEvent.ticket_id == ticket.id)
                          .order_by(RepairEvent.id))
        return [(e.from_status, e.to_status, e.actor_kind) for e in rows]


def status_of(database, ticket_id: str) -> Status:
    with database.unit_of_work() as db:
        return w.ticket(db, ticket_id).status


def test_the_listener_is_connected():
    assert payment.LISTENER in hooks.trade_changed.connected


def test_a_free_repair_from_report_to_confirmation(database, world):
    rep = w.report(database, world)
    assert status_of(database, rep) == S.REPORTED
    w.act(database, world.manager, repairs.assign, rep, technician_username="tech")
    clock.advance(timedelta(minutes=10))
    accepted = w.act(database, world.technician, repairs.accept, rep)
    assert accepted.status == S.ACCEPTED and accepted.accepted_at == NOON + timedelta(minutes=10)
    w.act(database, world.technician, repairs.on_the_way, rep)
    w.act(database, world.technician, repairs.start, rep)
    done = w.act(database, world.technician, repairs.finish, rep, price_fen=0, note="换了阀门")
    assert done.status == S.DONE and done.price_fen == 0 and done.trade_no is None
    confirmed = w.act(database, world.spouse, repairs.confirm, rep)  # any household member
    assert confirmed.status == S.CONFIRMED and not confirmed.auto_confirmed
    assert events_of(database, rep) == [
        ("", "reported", "resident"), ("reported", "assigned", "property"),
        ("assigned", "accepted", "technician"), ("accepted", "on_the_way", "technician"),
        ("on_the_way", "in_progress", "technician"), ("in_progress", "done", "technician"),
        ("done", "confirmed", "resident"),
    ]


@pytest.mark.parametrize("steps,forbidden,user", [
    (0, repairs.accept, "technician"),  # nobody assigned yet: not theirs to see
    (1, repairs.on_the_way, "technician"),  # not accepted yet
    (2, repairs.start, "technician"),  # not on the way yet
    (2, repairs.finish, "technician"),  # not started yet
    (4, repairs.confirm, "head"),  # still in progress
    (4, repairs.accept, "technician"),  # accepting again
])
def test_forbidden_moves_change_nothing(database, world, steps, forbidden, user):
    rep = w.report(database, world)
    moves = [
        (world.manager, repairs.assign, {"technician_username": "tech"}),
        (world.technician, repairs.accept, {}), (world.technician, repairs.on_the_way, {}),
        (world.technician, repairs.start, {}),
    ]
    for actor, move, kwargs in moves[:steps]:
        w.act(database, actor, move, rep, **kwargs)
    before = (status_of(database, rep), events_of(database, rep))
    if steps == 0:
        with pytest.raises(NotFound):
            w.act(database, getattr(world, user), forbidden, rep)
        return
    with pytest.raises(repairs.RepairStateError) as refused:
        w.act(database, getattr(world, user), forbidden, rep)
    assert refused.value.status == 409 and refused.value.code == "repair_state"
    assert (status_of(database, rep), events_of(database, rep)) == before


def test_reassigning_before_acceptance_and_only_to_a_technician(database, world):
    rep = w.report(database, world)
    w.act(database, world.manager, repairs.assign, rep, technician_username="tech")
    again = w.act(database, world.manager, repairs.assign, rep, technician_username="tech2")
    with database.unit_of_work() as db:
        assert again.technician_id == db.scalar(select(User.id).where(User.username == "tech2"))
    with pytest.raises(repairs.NotATechnician):
        w.act(database, world.manager, repairs.assign, rep, technician_username="lisi")
    w.act(database, world.other_technician, repairs.accept, rep)
    with pytest.raises(repairs.RepairStateError):  # accepted: no reassigning
        w.act(database, world.manager, repairs.assign, rep, technician_username="tech")


def test_who_sees_which_tickets(database, world):
    ours = w.report(database, world)
    theirs = w.report(database, world, user=world.neighbour, key="report-0002",
                      place="common", location="2栋电梯", category="lift")
    w.act(database, world.manager, repairs.assign, ours, technician_username="tech")
    with database.unit_of_work() as db:
        community = cw.community(db, world.com)
        spouse = db.get_one(User, world.spouse.id)
        assert [t.public_id for t in repairs.household_tickets(
            db, actor=spouse, community=community)] == [ours]
        neighbour = db.get_one(User, world.neighbour.id)
        assert [t.public_id for t in repairs.household_tickets(
            db, actor=neighbour, community=community)] == [theirs]
        tech = db.get_one(User, world.technician.id)
        assert [t.public_id for t in repairs.technician_tickets(db, actor=tech)] == [ours]
        assert repairs.technician_tickets(
            db, actor=db.get_one(User, world.other_technician.id)) == []
        for outsider, ticket_id in ((neighbour, ours), (spouse, theirs), (tech, theirs),
                                    (db.get_one(User, world.base.outsider.id), ours),
                                    (db.get_one(User, world.base.other_manager.id), ours)):
            with pytest.raises(NotFound):
                repairs.get_ticket(db, actor=outsider, ticket_id=ticket_id)
        committee = db.get_one(User, world.committee.id)
        assert {t.public_id for t in repairs.community_tickets(
            db, actor=committee, community=community)} == {ours, theirs}
        with pytest.raises(PermissionDenied):
            repairs.community_tickets(db, actor=tech, community=community)
    with pytest.raises(PermissionDenied):  # a resident does not assign
        w.act(database, world.head, repairs.assign, ours, technician_username="tech")
    with pytest.raises(PermissionDenied):  # a technician does not confirm for the resident
        w.act(database, world.technician, repairs.confirm, ours)


def test_only_the_property_manager_adds_technicians(database, world):
    from townsquare.community import communities
    with database.unit_of_work() as db:
        community = cw.community(db, world.com)
        for actor in (world.committee, world.technician, world.head):
            with pytest.raises(PermissionDenied):
                communities.grant_role(db, actor=db.get_one(User, actor.id), community=community,
                                       username="wangwu", role="technician")


def test_cancellation_rules(database, world):
    early = w.report(database, world, key="report-early")
    w.act(database, world.manager, repairs.assign, early, technician_username="tech")
    w.act(database, world.technician, repairs.accept, early)
    cancelled = w.act(database, world.spouse, repairs.cancel, early, reason="自己修好了")
    assert cancelled.status == S.CANCELLED and cancelled.cancelled_by == "resident"

    on_way = w.report(database, world, key="report-onway")
    w.act(database, world.manager, repairs.assign, on_way, technician_username="tech")
    w.act(database, world.technician, repairs.accept, on_way)
    w.act(database, world.technician, repairs.on_the_way, on_way)
    with pytest.raises(repairs.RepairStateError):  # someone is on the way: ask the property
        w.act(database, world.head, repairs.cancel, on_way)
    with pytest.raises(ValidationFailed):  # the property says why
        w.act(database, world.manager, repairs.cancel, on_way, reason="")
    by_pm = w.act(database, world.manager, repairs.cancel, on_way, reason="住户不在家")
    assert by_pm.cancelled_by == "property" and by_pm.cancel_reason == "住户不在家"

    started = w.report(database, world, key="report-start")
    w.to_in_progress(database, world, started)
    for actor, reason in ((world.head, ""), (world.manager, "不修了")):
        with pytest.raises(repairs.RepairStateError):
            w.act(database, actor, repairs.cancel, started, reason=reason)
    with pytest.raises(PermissionDenied):  # the technician does not cancel for anyone
        w.act(database, world.technician, repairs.cancel, started)
    assert status_of(database, started) == S.IN_PROGRESS


def test_photos_are_checked_and_stored(database, world):
    rep = w.report(database, world, photos=[w.jpeg(), w.jpeg(colour="blue")])
    with database.unit_of_work() as db:
        stored = w.ticket(db, rep).photos
        assert [p.position for p in stored] == [0, 1]
        for p in stored:
            assert photos.path_of(world.data_dir, p.public_id, "full").exists()
            assert photos.path_of(world.data_dir, p.public_id, "thumb").exists()
    for bad in ([w.jpeg()] * 5, [w.jpeg(), b"not a picture"], [w.jpeg(side=10)]):
        with pytest.raises(ValidationFailed) as refused:
            w.report(database, world, photos=bad, key="report-bad-1")
        assert refused.value.params.get("field") == "photos" or "photos" in str(
            refused.value.details)
    with database.unit_of_work() as db:
        assert db.scalar(select(func.count()).select_from(RepairTicket)) == 1


def test_bad_input_changes_nothing_and_a_retry_answers_the_first_ticket(database, world):
    for fields in ({"category": "magic"}, {"place": "moon"}, {"description": " "},
                   {"location": ""}):
        with pytest.raises(ValidationFailed):
            w.report(database, world, **fields)
    first = w.report(database, world, key="same-key-123")
    assert w.report(database, world, key="same-key-123") == first
    with pytest.raises(PermissionDenied):  # not a verified resident
        w.report(database, world, user=world.base.outsider, key="outsider-0001")
    with database.unit_of_work() as db:
        assert db.scalar(select(func.count()).select_from(RepairTicket)) == 1


def test_a_chargeable_repair_is_paid_in_the_cashier_then_confirmed(database, settings, world):
    rep = w.report(database, world)
    w.to_in_progress(database, world, rep)
    with pytest.raises(ValidationFailed):
        w.act(database, world.technician, repairs.finish, rep, price_fen=-1)
    waiting = w.act(database, world.technician, repairs.finish, rep, price_fen=8_000)
    assert waiting.status == S.AWAITING_PAYMENT and waiting.done_at == NOON
    with pytest.raises(repairs.RepairStateError):  # confirm only once paid
        w.act(database, world.head, repairs.confirm, rep)
    with database.unit_of_work() as db:  # the neighbour cannot pay (cannot even see it)
        with pytest.raises(NotFound):
            payment.checkout(db, actor=db.get_one(User, world.neighbour.id), ticket_id=rep)
        first = payment.checkout(db, actor=db.get_one(User, world.head.id), ticket_id=rep)
        again = payment.checkout(db, actor=db.get_one(User, world.head.id), ticket_id=rep)
        assert first.trade_no == again.trade_no  # the open trade, not a second one
    trade_no = w.pay(database, settings, world, rep, user=world.spouse)
    with database.unit_of_work() as db:
        ticket = w.ticket(db, rep)
        trade = trades.get(db, trade_no)
        assert ticket.status == S.DONE and ticket.paid_at is not None
        assert trade.status == TradeStatus.TRADE_SUCCESS and trade.total_fen == 8_000
        assert trade.out_trade_no == f"{rep}-2"  # the spouse's, the head's trade closed
        assert trades.get(db, first.trade_no).status == TradeStatus.TRADE_CLOSED
        pass_app = db.scalar(select(RepairTicket).where(RepairTicket.public_id == rep))
        assert pass_app is not None
        from townsquare.miniapps.models import MiniApp
        app = db.scalar(select(MiniApp).where(MiniApp.public_id == world.pass_app))
        assert trade.merchant_id == app.merchant_id and trade.miniapp_id == app.id
    assert events_of(database, rep)[-1] == ("awaiting_payment", "done", "resident")
    assert w.act(database, world.head, repairs.confirm, rep).status == S.CONFIRMED


def test_a_closed_trade_gives_way_to_a_new_attempt(database, settings, world):
    rep = w.report(database, world)
    w.to_in_progress(database, world, rep)
    w.act(database, world.technician, repairs.finish, rep, price_fen=500)
    with database.unit_of_work() as db:
        first = payment.checkout(db, actor=db.get_one(User, world.head.id), ticket_id=rep)
        trades.close(db, trade=first)
    with database.unit_of_work() as db:
        second = payment.checkout(db, actor=db.get_one(User, world.head.id), ticket_id=rep)
        assert second.out_trade_no == f"{rep}-2"
    assert status_of(database, rep) == S.AWAITING_PAYMENT


def test_rating_goes_to_scoring_once(database, settings, world):
    rep = w.report(database, world)
    w.to_in_progress(database, world, rep)
    with database.unit_of_work() as db, pytest.raises(repairs.RepairStateError):
        repairs.rate(db, actor=db.get_one(User, world.head.id), ticket_id=rep, stars=5,
                     settings=settings)
    w.act(database, world.technician, repairs.finish, rep)
    with database.unit_of_work() as db, pytest.raises(ValidationFailed):
        repairs.rate(db, actor=db.get_one(User, world.head.id), ticket_id=rep, stars=6,
                     settings=settings)
    with database.unit_of_work() as db:
        rated = repairs.rate(db, actor=db.get_one(User, world.head.id), ticket_id=rep,
                             stars=4, comment="很快", settings=settings)
        assert rated.rating == 4
    with database.unit_of_work() as db, pytest.raises(repairs.RepairStateError):
        repairs.rate(db, actor=db.get_one(User, world.spouse.id), ticket_id=rep, stars=1,
                     settings=settings)
    with database.unit_of_work() as db:
        events = db.scalars(select(BehaviourEvent).where(
            BehaviourEvent.type == EventType.RATING)).all()
        assert [(e.order_id, e.rating) for e in events] == [(rep, 4)]


def test_a_move_from_a_stale_read_loses_to_the_write_that_came_first(database, world):
    """The UPDATE carries its own condition: what another writer changed after this session read
    the ticket wins, and the stale move changes nothing."""
    from sqlalchemy import update

    rep = w.report(database, world)
    w.act(database, world.manager, repairs.assign, rep, technician_username="tech")
    with database.unit_of_work() as db:
        stale = w.ticket(db, rep)
        assert stale.status == S.ASSIGNED
        db.execute(update(RepairTicket).where(RepairTicket.id == stale.id)
                   .values(status=S.CANCELLED).execution_options(synchronize_session=False))
        assert stale.status == S.ASSIGNED  # this session still believes it is assigned
        with pytest.raises(repairs.RepairStateError):
            repairs._move(db, stale, from_=[S.ASSIGNED], to=S.ACCEPTED, actor=None,
                          actor_kind="technician")
        assert stale.status == S.CANCELLED
        assert db.scalar(select(func.count()).select_from(RepairEvent).where(
            RepairEvent.ticket_id == stale.id)) == 2  # reported, assigned: nothing more
