"""Settles under real concurrency on PostgreSQL: one trade settled twenty times at once with
distinct numbers never sends out more than the merchant's part; fifty settles with one
out_request_no move money once; settles racing refunds of the same trade never exceed the
merchant's part either, and the ledger stays sound."""

from __future__ import annotations

import pytest

from tests.payments.trades import royalty_world
from tests.payments.trades.test_trade_concurrency import _at_once
from townsquare.payments import ledger
from townsquare.payments.ledger import accounts
from townsquare.payments.trades import royalty, service
from townsquare.payments.trades.royalty import Part, Receiver

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def made(database, settings, make_user):
    world, r = royalty_world.build(database, settings, make_user)
    with database.unit_of_work() as db:
        royalty.bind(db, merchant=royalty_world.merchant_of(db, r), out_request_no="B",
                     receivers=[Receiver(r.isv), Receiver(r.community)])
    return world, r


def _settle(trade_no, no, account, fen):
    def work(db, i):
        return royalty.settle(db, trade=service.get(db, trade_no), out_request_no=no(i),
                              parts=[Part(account(i), fen)])[1]
    return work


def test_one_trade_settled_twenty_times_at_once_never_exceeds_the_merchants_part(
        database, made):
    world, r = made
    trade_no = royalty_world.paid_trade(database, world)  # the merchant's part: 9,940 fen
    results = _at_once(database, 20, _settle(
        trade_no, lambda i: f"S{i}", lambda i: r.isv if i % 2 else r.community, 1_000))
    assert [ok for ok, _ in results].count(True) == 9  # 9,000; a tenth would be 10,000
    assert {answer for ok, answer in results if not ok} == {"settle_amount_exceeded"}
    with database.unit_of_work() as db:
        trade = service.get(db, trade_no)
        assert royalty.settleable_fen(db, trade) == 940
        assert sum(s.amount_fen for s in royalty.settles_of(db, trade)) == 9_000
        assert (ledger.balance(db, accounts.isv_commission(r.isv_id))
                + ledger.balance(db, accounts.community_commission(r.community_id))) == 9_000
        assert ledger.balance(db, accounts.merchant_pending(r.merchant_id)) == 940
        assert ledger.reconcile(db).sound


def test_fifty_settles_with_one_request_number_move_money_once(database, made):
    world, r = made
    trade_no = royalty_world.paid_trade(database, world)
    results = _at_once(database, 50, _settle(trade_no, lambda i: "SAME", lambda i: r.isv, 700))
    assert all(ok for ok, _ in results)
    assert sorted(moved for _, moved in results) == [False] * 49 + [True]
    with database.unit_of_work() as db:
        assert ledger.balance(db, accounts.isv_commission(r.isv_id)) == 700
        assert [e.kind for e in ledger.entries_for(db, trade_no)] == ["payment", "royalty"]


def test_settles_racing_refunds_never_exceed_the_merchants_part(database, made):
    world, r = made
    trade_no = royalty_world.paid_trade(database, world)

    def work(db, i):
        trade = service.get(db, trade_no)
        if i % 2:
            return service.refund(db, trade=trade, refund_fen=2_000, out_request_no=f"R{i}")[1]
        return royalty.settle(db, trade=trade, out_request_no=f"S{i}",
                              parts=[Part(r.isv, 2_000)])[1]

    _at_once(database, 12, work)
    with database.unit_of_work() as db:
        trade = service.get(db, trade_no)
        share, refunded, settled = royalty.merchant_share(db, trade)
        assert settled + refunded <= share == 9_940
        assert trade.refunded_fen <= trade.total_fen
        assert ledger.balance(db, accounts.isv_commission(r.isv_id)) == settled
        assert ledger.reconcile(db).sound
