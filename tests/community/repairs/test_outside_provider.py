"""A repair handed to an admitted outside merchant: the property manager hands the ticket to the
water station (admitted at 8 %), its staff accept it on the work page and take it to done with a
price, the resident pays in the cashier's way, the ledger pays the merchant less the platform fee
and the community's commission, and the commission is a line of the property's and the
merchant's statements (in the month it was paid, not in another). Who may do what, and two
staff racing to accept the same ticket (PostgreSQL)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.community import world as cw
from tests.community.services import world as w
from tests.ordering.orders import world as ow
from townsquare.accounts.models import Role, User
from townsquare.community.repairs import payment
from townsquare.community.repairs import service as repairs
from townsquare.community.repairs.models import RepairEvent, RepairTicket, Status
from townsquare.community.services import admissions, statements
from townsquare.core.clock import clock
from townsquare.core.errors import PermissionDenied
from townsquare.merchants import service as merchants
from townsquare.merchants.models import Merchant
from townsquare.payments import ledger
from townsquare.payments.ledger import accounts
from townsquare.payments.ledger.reconciliation import reconcile
from townsquare.payments.trades import service as trades

PRICE = 12_000  # ¥120.00; 8 % = ¥9.60


@pytest.fixture
def world(database, settings, make_user):
    found = w.build(database, settings, make_user)
    yield found
    clock.unfreeze()


def _user(db, user: User) -> User:
    return db.get_one(User, user.id)


def _report(database, world, key: str = "outside-0001") -> str:
    with database.unit_of_work() as db:
        ticket = repairs.report(
            db, actor=_user(db, world.resident), community=cw.community(db, world.com),
            category="plumbing", place="room", location="厨房", description="净水器漏水",
            photos=[], idempotency_key=key, data_dir=Path("/nonexistent"))
        return ticket.public_id


def _hand(database, world, ticket_id: str, admission_id: str) -> None:
    with database.unit_of_work() as db:
        repairs.hand_to_provider(db, actor=_user(db, world.base.manager), ticket_id=ticket_id,
                                 admission_id=admission_id)


def _act(database, user: User, move, ticket_id: str, **kwargs) -> RepairTicket:
    with database.unit_of_work() as db:
        ticket = move(db, actor=_user(db, user), ticket_id=ticket_id, **kwargs)
        db.expunge(ticket)
        return ticket


def test_an_outside_provider_repairs_and_the_community_gets_its_commission(
        database, settings, world):
    adm, _ = w.admit(database, world, commission_bp=800)
    rep = _report(database, world)
    _hand(database, world, rep, adm)
    with database.unit_of_work() as db:
        listed = repairs.technician_tickets(db, actor=_user(db, world.water_staff))
        assert [t.public_id for t in listed] == [rep]
        assert listed[0].commission_bp == 800 and listed[0].technician_id is None
    accepted = _act(database, world.water_staff, repairs.accept, rep)
    assert (accepted.status, accepted.technician_id) == (Status.ACCEPTED, world.water_staff.id)
    _act(database, world.water_staff, repairs.on_the_way, rep)
    _act(database, world.water_staff, repairs.start, rep)
    done = _act(database, world.water_staff, repairs.finish, rep, price_fen=PRICE)
    assert done.status is Status.AWAITING_PAYMENT
    with database.unit_of_work() as db:
        trade = payment.checkout(db, actor=_user(db, world.resident), ticket_id=rep)
        trade_no = trade.trade_no
        assert (trade.merchant_id, trade.community_rate_bp) == (world.water_merchant_id, 800)
        assert trade.community_id == cw.community(db, world.com).id
    ow.pay(database, settings, world.resident, trade_no)
    _act(database, world.resident, repairs.confirm, rep)
    with database.unit_of_work() as db:
        ticket = db.scalars(select(RepairTicket).where(RepairTicket.public_id == rep)).one()
        assert ticket.status is Status.CONFIRMED and ticket.paid_at is not None
        community = cw.community(db, world.com)
        entry = next(e for e in ledger.entries_for(db, trade_no) if e.kind == "payment")
        legs = {p.account.code: p.amount_fen for p in entry.postings}
        assert sum(legs.values()) == 0
        assert legs[accounts.community_commission(community.id)] == 960
        platform = legs[accounts.PLATFORM_FEES]
        net = PRICE - 960 - platform
        assert legs[accounts.merchant_pending(world.water_merchant_id)] == net
        assert accounts.merchant_pending(world.property_merchant_id) not in legs
        # the property's statement: one repair line with the commission, this month
        month = statements.this_month(clock.now(), settings.timezone)
        mine = statements.for_property(db, actor=_user(db, world.base.manager),
                                       community=community, month=month)
        assert [(x.kind, x.reference, x.gross_fen, x.rate_bp, x.commission_fen, x.net_fen)
                for x in mine.lines] == [("repair", rep, PRICE, 800, 960, net)]
        assert (mine.balance_fen, mine.commission_fen, mine.gross_fen) == (960, 960, PRICE)
        # the merchant's statement: the same line, naming the community
        merchant = db.get_one(Merchant, world.water_merchant_id)
        theirs = statements.for_merchant(db, merchant=merchant, month=month)
        assert [(x.community.public_id, x.commission_fen) for x in theirs.lines] == [
            (world.com, 960)]
        # another month shows none of it
        later = (clock.now() + timedelta(days=40)).strftime("%Y-%m")
        assert statements.for_property(db, actor=None, community=community,
                                       month=later).lines == []
        assert reconcile(db).sound
    # a refund gives the commission back, and the statement says so
    with database.unit_of_work() as db:
        trades.refund(db, trade=trades.get(db, trade_no), refund_fen=PRICE,
                      out_request_no="r1", reason="返工")
    with database.unit_of_work() as db:
        again = statements.for_property(db, actor=None, community=cw.community(db, world.com),
                                        month=month)
        assert (again.earned_fen, again.refunded_fen, again.commission_fen) == (960, 960, 0)
        assert again.lines[0].refunded_fen == PRICE and again.lines[0].net_fen == 0
        assert reconcile(db).sound


def test_who_may_hand_and_work_an_outside_repair(database, settings, world, make_user):
    adm, _ = w.admit(database, world, commission_bp=500)
    rep = _report(database, world)
    # only the property manager hands it over, and only to an admitted merchant
    with database.unit_of_work() as db, pytest.raises(PermissionDenied):
        repairs.hand_to_provider(db, actor=_user(db, world.resident), ticket_id=rep,
                                 admission_id=adm)
    with database.unit_of_work() as db, pytest.raises(repairs.NotAdmitted):
        repairs.hand_to_provider(db, actor=_user(db, world.base.manager), ticket_id=rep,
                                 admission_id="adm_nosuchthing00000")
    stranger = make_user(Role.MERCHANT_STAFF, username="other-staff")
    _hand(database, world, rep, adm)
    # another merchant's staff neither see nor accept it
    with database.unit_of_work() as db:
        assert repairs.technician_tickets(db, actor=_user(db, stranger)) == []
    with pytest.raises(Exception) as refused:
        _act(database, stranger, repairs.accept, rep)
    assert getattr(refused.value, "status", None) in (403, 404)
    # the resident cannot take a move of the provider's
    with pytest.raises(PermissionDenied):
        _act(database, world.resident, repairs.accept, rep)
    # an ended admission can no longer be handed a repair
    with database.unit_of_work() as db:
        admissions.end(db, actor=_user(db, world.base.manager),
                       community=cw.community(db, world.com), admission_id=adm, reason="到期")
    other = _report(database, world, key="outside-0002")
    with database.unit_of_work() as db, pytest.raises(repairs.NotAdmitted):
        repairs.hand_to_provider(db, actor=_user(db, world.base.manager), ticket_id=other,
                                 admission_id=adm)


@pytest.mark.postgres_only
def test_two_staff_racing_to_accept_the_same_repair_one_wins(database, settings, world,
                                                             make_user):
    adm, _ = w.admit(database, world, commission_bp=800)
    racers = [world.water_staff]
    for n in range(3):
        make_user(Role.MERCHANT_STAFF, username=f"waterman{n}")
        with database.unit_of_work() as db:
            merchant = db.get_one(Merchant, world.water_merchant_id)
            merchants.add_staff(db, actor=None, public_id=merchant.public_id,
                                username=f"waterman{n}")
            racers.append(db.scalars(select(User).where(User.username == f"waterman{n}")).one())
    for round_ in range(3):
        rep = _report(database, world, key=f"race-ticket-{round_}")
        _hand(database, world, rep, adm)

        def attempt(user: User, rep: str = rep) -> int | None:
            try:
                return _act(database, user, repairs.accept, rep).technician_id
            except repairs.RepairStateError:
                return None

        with ThreadPoolExecutor(max_workers=len(racers)) as pool:
            won = [x for x in pool.map(attempt, racers) if x is not None]
        assert len(won) == 1
        with database.unit_of_work() as db:
            ticket = db.scalars(select(RepairTicket).where(RepairTicket.public_id == rep)).one()
            assert (ticket.status, ticket.technician_id) == (Status.ACCEPTED, won[0])
            accepted = db.scalars(select(RepairEvent).where(
                RepairEvent.ticket_id == ticket.id, RepairEvent.to_status == "accepted")).all()
            assert len(accepted) == 1
