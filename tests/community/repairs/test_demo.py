"""The demo's repairs: technicians in both communities, a ticket in every state in the first,
the paid one paid through the cashier's path (the ledger ties out), and twice is once."""

from __future__ import annotations

from sqlalchemy import select

from tests.community.repairs import world as w
from tests.conftest import PASSWORD
from townsquare.accounts.models import Role, User
from townsquare.community import access
from townsquare.community.repairs import demo, service
from townsquare.community.repairs.models import RepairTicket, Status
from townsquare.payments.ledger.reconciliation import reconcile
from townsquare.payments.wallet import demo as wallet_demo
from townsquare.simulation.demo_city import DEMO_LOGINS


def test_the_demo_has_a_ticket_in_every_state(database, settings, make_user):
    world = w.build(database, settings, make_user)
    with database.unit_of_work() as db:
        head = db.get_one(User, world.head.id)
        wallet_demo.prepare(db, settings=settings, user=head, password=PASSWORD)
        for _ in range(2):
            demo.seed(db, settings=settings, password=PASSWORD, resident_username="zhangsan")
    with database.unit_of_work() as db:
        tickets = list(db.scalars(select(RepairTicket)))
        assert {t.status for t in tickets} == set(Status)
        assert len(tickets) == len(demo.TICKETS)
        confirmed = next(t for t in tickets if t.status is Status.CONFIRMED)
        assert confirmed.paid_at is not None and confirmed.rating == 5
        assert confirmed.reported_at < confirmed.accepted_at < confirmed.done_at
        technician = db.scalar(select(User).where(User.username == "technician"))
        assert technician is not None and technician.has_role(Role.TECHNICIAN)
        for community, username in ((world.com, "technician"),
                                    (world.base.other_com, "technician2")):
            found = access.get_community(db, community_id=community)
            assert username in [u.username for u in service.technicians(
                db, actor=None, community=found)]
        assert reconcile(db).sound
    assert ("repair technician", "technician", "/community/repairs/work") in DEMO_LOGINS

