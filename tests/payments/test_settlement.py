"""Settlement: yesterday's pending money becomes available today (T+1), once per merchant and
day, net of the refunds of those same trades; a refund after settlement draws on available."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.payments import ledger_world
from tests.payments.ledger_world import Shop, pay, refund
from townsquare.core.clock import clock
from townsquare.payments import ledger
from townsquare.payments.ledger import accounts, settlement

shop = ledger_world.shop  # the fixture
SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 12, 7)


def at(day: date, hour: int, minute: int = 0) -> None:
    clock.freeze(datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI))


def balances(db, shop: Shop) -> tuple[int, int]:
    return (ledger.balance(db, accounts.merchant_pending(shop.merchant_id)),
            ledger.balance(db, accounts.merchant_available(shop.merchant_id)))


def test_cutoff_is_the_start_of_the_local_day_for_t_plus_one(settings):
    assert settlement.cutoff(MONDAY, settings=settings) == datetime(2026, 12, 7, tzinfo=SHANGHAI)
    settings.settlement_delay_days = 2
    assert settlement.cutoff(MONDAY, settings=settings) == datetime(2026, 12, 6, tzinfo=SHANGHAI)


def test_money_paid_today_waits_and_is_settled_tomorrow_once(database, settings, shop: Shop):
    at(MONDAY, 23, 50)  # 15:50 UTC: still Monday in Shanghai
    with database.unit_of_work() as db:
        split = pay(db, shop, 2_500, "T1")
    assert split.merchant_fen == 2_485
    with database.unit_of_work() as db:
        assert settlement.settle_merchant(db, merchant_id=shop.merchant_id, day=MONDAY,
                                          settings=settings).amount_fen == 0
    at(MONDAY + timedelta(days=1), 0, 10)
    assert [s.amount_fen for s in settlement.run(database, settings=settings)] == [2_485]
    again = list(settlement.run(database, settings=settings))
    assert again == []  # nothing pending is left to look at
    with database.unit_of_work() as db:
        repeat = settlement.settle_merchant(db, merchant_id=shop.merchant_id,
                                            day=MONDAY + timedelta(days=1), settings=settings)
        assert repeat.repeated and repeat.amount_fen == 2_485
        assert balances(db, shop) == (0, 2_485)
        assert len(ledger.entries_for(db, f"settlement:{shop.merchant_id}:2026-12-08")) == 1
        assert ledger.reconcile(db).sound


def test_refunds_count_against_their_own_trade(database, settings, shop: Shop):
    at(MONDAY, 12)
    with database.unit_of_work() as db:
        old = pay(db, shop, 10_000, "OLD")  # merchant part 9_940
    at(MONDAY + timedelta(days=1), 9)
    with database.unit_of_work() as db:
        new = pay(db, shop, 5_000, "NEW")  # merchant part 4_970, paid after the cut-off
        refund(db, shop, old, 2_000, 0, "OLD")  # a fifth of the old trade, taken from pending
        refund(db, shop, new, 5_000, 0, "NEW")  # today's trade refunded whole
    with database.unit_of_work() as db:
        settled = settlement.settle_merchant(db, merchant_id=shop.merchant_id,
                                             day=MONDAY + timedelta(days=1), settings=settings)
        assert settled.amount_fen == 9_940 - 1_988
        assert balances(db, shop) == (0, 7_952)
        assert ledger.reconcile(db).sound


def test_a_refund_after_settlement_draws_on_available_funds(database, settings, shop: Shop):
    at(MONDAY, 12)
    with database.unit_of_work() as db:
        first = pay(db, shop, 1_000, "A")  # merchant 994
    at(MONDAY + timedelta(days=1), 9)
    list(settlement.run(database, settings=settings))
    with database.unit_of_work() as db:
        pay(db, shop, 300, "B")  # merchant 298, pending
        refund(db, shop, first, 1_000, 0, "A")  # 994 back: 298 from pending, 696 from available
        assert balances(db, shop) == (0, 298)
    at(MONDAY + timedelta(days=2), 9)
    with database.unit_of_work() as db:
        # B's money was taken by A's refund: nothing is left to settle, and nothing is invented
        assert settlement.settle_merchant(db, merchant_id=shop.merchant_id,
                                          day=MONDAY + timedelta(days=2),
                                          settings=settings).amount_fen == 0
        assert balances(db, shop) == (0, 298)
        assert ledger.reconcile(db).sound


def test_a_longer_delay_waits_longer(database, settings, shop: Shop):
    settings.settlement_delay_days = 2
    at(MONDAY, 12)
    with database.unit_of_work() as db:
        pay(db, shop, 1_000, "A")
    at(MONDAY + timedelta(days=1), 12)
    assert [s.amount_fen for s in settlement.run(database, settings=settings)] == [0]
    at(MONDAY + timedelta(days=2), 0, 1)
    assert [s.amount_fen for s in settlement.run(database, settings=settings)] == [994]
