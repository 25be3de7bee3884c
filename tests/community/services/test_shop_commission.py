"""A shop mini-app admitted to a community: its orders by residents of that community carry
the community's commission (ordering's checkout asks community's admissions through the
commission provider connected at start), split off by the ledger when paid; the same shop's
orders by anyone else carry none."""

from __future__ import annotations

import pytest

from tests.community import world as cw
from tests.community.services import world as w
from tests.ordering.conftest import shop  # noqa: F401 (the fixture)
from tests.ordering.orders import world as ow
from townsquare.community.services import admissions, statements
from townsquare.core.clock import clock
from townsquare.merchants.models import Merchant
from townsquare.payments import fees, ledger, trades
from townsquare.payments.ledger import accounts


@pytest.fixture
def worlds(database, settings, shop, make_user):  # noqa: F811 (the imported fixture)
    shop_world = ow.build(database, settings, shop, make_user)
    community_world = w.build(database, settings, make_user)
    with database.unit_of_work() as db:
        community = cw.community(db, community_world.com)
        adm = admissions.apply(db, actor=None, community=community,
                               miniapp_id=shop_world.miniapp, offer="社区团购")
        admissions.approve(db, actor=None, community=community, admission_id=adm.public_id,
                           commission_bp=500)
    return shop_world, community_world


def test_a_residents_order_at_an_admitted_shop_pays_the_community(database, settings, worlds):
    shop_world, world = worlds
    with database.unit_of_work() as db:
        mine = ow.place(db, shop_world, world.resident, key="r1")
        theirs = ow.place(db, shop_world, shop_world.resident, key="o1")
        numbers = mine.trade_no, theirs.trade_no
    ow.pay(database, settings, world.resident, numbers[0])
    ow.pay(database, settings, shop_world.resident, numbers[1])
    with database.unit_of_work() as db:
        community = cw.community(db, world.com)
        paid = trades.get(db, numbers[0])
        assert (paid.community_id, paid.community_rate_bp) == (community.id, 500)
        other = trades.get(db, numbers[1])
        assert (other.community_id, other.community_rate_bp) == (None, 0)
        assert ledger.balance(db, accounts.community_commission(community.id)) == (
            fees.fee_of(paid.total_fen, 500))
        # the order is a line of the property's statement, and of the shop's, this month
        statement = statements.for_property(db, actor=None, community=community,
                                            month=statements.this_month(clock.now(),
                                                                        settings.timezone))
        assert [(x.kind, x.reference, x.gross_fen, x.rate_bp, x.commission_fen)
                for x in statement.lines] == [
            ("order", paid.out_trade_no, paid.total_fen, 500, fees.fee_of(paid.total_fen, 500))]
        assert statement.commission_fen == statement.balance_fen
        shop_merchant = db.get_one(Merchant, paid.merchant_id)
        assert [x.trade_no for x in statements.for_merchant(db, merchant=shop_merchant).lines
                ] == [paid.trade_no]
