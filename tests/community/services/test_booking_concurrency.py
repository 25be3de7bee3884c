"""Booking the last place of a slot under real concurrency on PostgreSQL: of many residents'
bookings racing for the water station's one place, exactly one holds it (and one trade is
created); the others are told the slot is full and leave nothing behind. Paid, it splits the
community's commission once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from tests.community import world as cw
from tests.community.services import world as w
from tests.ordering.orders import world as ow
from townsquare.accounts.models import Role, User
from townsquare.community import residents
from townsquare.community.services import bookings
from townsquare.community.services.models import Booking, BookingStatus
from townsquare.ordering import SlotFull
from townsquare.ordering.slots.models import SlotLoad
from townsquare.payments import ledger
from townsquare.payments.ledger import accounts
from townsquare.payments.trades.models import Trade

pytestmark = pytest.mark.postgres_only
TRIES = 4  # per resident, each with its own key


def test_the_last_place_is_booked_once(database, settings, make_user):
    world = w.build(database, settings, make_user, water_places=1)
    _, svc = w.admit(database, world, commission_bp=1000)
    racers = [world.resident]
    for name, id_number in (("李四", cw.SPOUSE_ID), ("王五", cw.OTHER_ID)):
        user = make_user(Role.RESIDENT)
        with database.unit_of_work() as db:
            residents.verify(db, settings=settings, actor=db.get_one(User, user.id),
                             community=cw.community(db, world.com), real_name=name,
                             id_number=id_number)
        racers.append(user)

    def attempt(args: tuple[User, int]) -> str:
        user, n = args
        try:
            with database.unit_of_work() as db:
                booking = bookings.book(db, actor=db.get_one(User, user.id),
                                        community=cw.community(db, world.com), service_id=svc,
                                        slot_start=w.NOON, idempotency_key=f"race-{n}",
                                        settings=settings)
                return booking.trade_no
        except SlotFull:
            return ""

    jobs = [(user, n) for user in racers for n in range(TRIES)]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        won = [t for t in pool.map(attempt, jobs) if t]
    assert len(won) == 1
    with database.unit_of_work() as db:
        assert db.scalar(select(func.count()).select_from(Booking)) == 1
        assert db.scalar(select(func.count()).select_from(Trade)) == 1
        assert db.scalar(select(func.sum(SlotLoad.orders))) == 1
        winner = db.scalars(select(Booking)).one()
        payer = db.get_one(User, winner.user_id)
    if payer.id != world.resident.id:
        ow.fund(database, payer)
    ow.pay(database, settings, payer, won[0])
    with database.unit_of_work() as db:
        assert w.booking(db, winner.public_id).status is BookingStatus.PAID
        community = cw.community(db, world.com)
        assert ledger.balance(db, accounts.community_commission(community.id)) == 189  # 10 %
