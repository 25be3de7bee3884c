"""The demo city's marketplace: every community with an official pass has the property's
catalog and an admitted outside merchant with a commission; the demo resident's paid bookings
put a commission on the first community's account, and so does the repair the admitted merchant
did for the demo resident (a line of the property's statement); and the ledger ties out after
the whole demo run: the reconciliation job (`payments.ledger.jobs.run_reconciliation`, the one
cron and the operator's button run) reports a sound ledger with zero difference.

The build runs with the cyclic garbage collector off: objects it made earlier then stay in memory
(as they may in any process), so a relationship left stale by a key-only assignment shows up here
every time rather than in one CI run out of several."""

from __future__ import annotations

import gc

from sqlalchemy import select

from townsquare.community import communities
from townsquare.community.models import Community
from townsquare.community.repairs.models import RepairTicket, Status
from townsquare.community.services import catalog, statements
from townsquare.community.services.models import AdmissionStatus, Booking, BookingStatus
from townsquare.payments.ledger import jobs, reconciliation
from townsquare.simulation import demo_city


def test_the_demo_communities_have_a_marketplace_and_the_ledger_ties_out(database, settings):
    gc.disable()
    try:
        with database.unit_of_work() as db:
            demo_city.ensure(db, settings=settings, seed=7)
    finally:
        gc.enable()
    with database.unit_of_work() as db:
        found = list(db.scalars(select(Community).where(Community.pass_miniapp_id.is_not(None))
                                .order_by(Community.id)))
        assert len(found) == 2
        assert all(communities.official_pass(db, community=c) for c in found)
        for community in found:
            offered = catalog.offered(db, community=community)
            names = {s.name for s in offered}
            assert {"上门保洁", "代收快递送上门", "老人探访", "桶装水"} <= names
            admitted = [s.admission for s in offered if s.admission is not None]
            assert admitted and all(a.status is AdmissionStatus.APPROVED for a in admitted)
        made = list(db.scalars(select(Booking)))
        assert {b.status for b in made} <= {BookingStatus.PAID, BookingStatus.DONE}
        assert any(b.commission_bp for b in made)
        statement = statements.for_property(db, actor=None, community=found[0])
        # 8 % of the ¥18.00 water and of the ¥120.00 outside repair
        assert statement.balance_fen == statement.commission_fen == 144 + 960
        repair = db.scalars(select(RepairTicket).where(
            RepairTicket.admission_id.is_not(None))).one()
        assert repair.status is Status.CONFIRMED and repair.commission_bp == 800
        assert [(x.kind, x.gross_fen, x.commission_fen) for x in statement.lines
                if x.kind == "repair"] == [("repair", 12_000, 960)]
        report = reconciliation.reconcile(db)
        assert report.differences == [] and report.unbalanced_entries == []
        assert report.negative_accounts == [] and report.total_fen == 0
    run = jobs.run_reconciliation(database)
    assert run.sound and run.total_fen == 0 and run.entries > 0
    assert run.findings == {"differences": [], "unbalanced_entries": [],
                            "negative_accounts": []}
