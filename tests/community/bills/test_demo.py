"""The demo's fee bills: issued by the rules for three months, some paid through real trades,
some overdue, and the ledger ties out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tests.community import world as w
from tests.community.bills import bill_world as bw
from townsquare.community.bills import demo
from townsquare.community.bills import service as bills
from townsquare.community.bills.models import Bill, BillStatus
from townsquare.core.clock import clock
from townsquare.payments.ledger.reconciliation import reconcile


@pytest.fixture
def world(database, settings, make_user):
    clock.freeze(datetime(2026, 12, 20, 2, 0, tzinfo=UTC))
    return bw.build(database, settings, make_user)


def test_the_demo_issues_pays_some_and_leaves_some_overdue(database, settings, world):
    with database.unit_of_work() as db:
        issued = demo.seed(db, settings=settings, seed=3)
    assert issued == 3 * 2 * 3  # three rooms, two rules, three months
    with database.unit_of_work() as db:
        found = list(db.scalars(select(Bill)))
        assert {b.period for b in found} == {"2026-10", "2026-11", "2026-12"}
        assert any(b.status is BillStatus.PAID for b in found)
        today = clock.now().date()
        assert any(b.status is BillStatus.UNPAID and b.due_date < today for b in found)
        figures = bills.figures(db, actor=None, community=w.community(db, world.com),
                                today=today)
        assert sum(f.collected_fen for f in figures) == sum(
            b.amount_fen for b in found if b.status is BillStatus.PAID)
        assert reconcile(db).sound
