"""A resident's cancel racing the provider's 'on the way' on PostgreSQL: the booking row is
locked by both, so exactly one wins. Either the booking is cancelled and refunded whole and the
provider is told it cannot move, or the provider is on the way and the cancel is refused with
nothing refunded; never a refunded booking with a provider on the way."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest

from tests.community import world as cw
from tests.community.services import world as w
from tests.ordering.orders import world as ow
from townsquare.accounts.models import User
from townsquare.community.services import bookings, cancelling
from townsquare.community.services.models import BookingStatus
from townsquare.payments import trades

pytestmark = pytest.mark.postgres_only
ROUNDS = 3


def _race(database, world, booking_id: str) -> tuple[bool, bool]:
    """The resident's cancel and the water station's 'on the way', released together."""
    barrier = Barrier(2)

    def cancel() -> bool:
        barrier.wait()
        try:
            with database.unit_of_work() as db:
                cancelling.cancel(db, actor=db.get_one(User, world.resident.id),
                                  community=cw.community(db, world.com), booking_id=booking_id)
            return True
        except bookings.BookingStateError:
            return False

    def set_out() -> bool:
        barrier.wait()
        try:
            with database.unit_of_work() as db:
                bookings.advance(db, actor=db.get_one(User, world.water_staff.id),
                                 community=cw.community(db, world.com), booking_id=booking_id,
                                 to="on_the_way")
            return True
        except bookings.BookingStateError:
            return False

    with ThreadPoolExecutor(max_workers=2) as pool:
        cancelled, on_the_way = pool.submit(cancel), pool.submit(set_out)
        return cancelled.result(), on_the_way.result()


def test_cancel_and_on_the_way_never_both_win(database, settings, make_user):
    world = w.build(database, settings, make_user, water_places=ROUNDS)
    _, svc = w.admit(database, world)
    for n in range(ROUNDS):
        booking_id, trade_no = w.book(database, settings, world, svc, key=f"race-{n}")
        ow.pay(database, settings, world.resident, trade_no)
        won = _race(database, world, booking_id)
        assert sorted(won) == [False, True], won
        with database.unit_of_work() as db:
            status = w.booking(db, booking_id).status
            refunded = trades.get(db, trade_no).refunded_fen
        if won[0]:
            assert (status, refunded) == (BookingStatus.CANCELLED, 1888)
        else:
            assert (status, refunded) == (BookingStatus.ON_THE_WAY, 0)
