"""Royalties (分账) in the service: receivers bound, unbound and listed by request number; a
settle moves part of the merchant's share of a paid trade to bound receivers as one balanced
entry, once per out_request_no, never beyond what is left of the merchant's part (after fees,
refunds and earlier settles); refusals change nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.miniapps.shell_data import browser_login
from tests.payments.trades import royalty_world, trade_world
from townsquare.payments import ledger
from townsquare.payments.ledger import accounts, settlement
from townsquare.payments.trades import errors, royalty, service
from townsquare.payments.trades.royalty import Part, Receiver


@pytest.fixture
def made(database, settings, make_user):
    return royalty_world.build(database, settings, make_user)


def _bind(database, receivers, *accounts_, no="B1"):
    with database.unit_of_work() as db:
        royalty.bind(db, merchant=royalty_world.merchant_of(db, receivers), out_request_no=no,
                     receivers=[Receiver(a) for a in accounts_])


def _settle(db, trade_no, no, *parts):
    return royalty.settle(db, trade=service.get(db, trade_no), out_request_no=no,
                          parts=[Part(a, fen) for a, fen in parts])


def test_bind_list_unbind_and_requests_by_number(database, made):
    world, r = made
    _bind(database, r, r.isv, r.community)
    _bind(database, r, r.isv, r.community)  # the same request again: nothing changes
    with database.unit_of_work() as db:
        merchant = royalty_world.merchant_of(db, r)
        rows, total = royalty.receivers(db, merchant=merchant, page=1, page_size=20)
        assert total == 2 and [row.account for row in rows] == [r.isv, r.community]
        assert [row.kind for row in rows] == ["isv", "community"]
        assert rows[0].name == "云帆科技"
        with pytest.raises(errors.InvalidParameter):  # the number again, other receivers
            royalty.bind(db, merchant=merchant, out_request_no="B1",
                         receivers=[Receiver(r.isv)])
    for bad in (r.stranger, "isv_nobody000000000000", "com_nowhere000000000", r.merchant):
        with database.unit_of_work() as db, pytest.raises(errors.ReceiverNotExist):
            royalty.bind(db, merchant=royalty_world.merchant_of(db, r), out_request_no="B2",
                         receivers=[Receiver(r.isv), Receiver(bad)])
    with database.unit_of_work() as db:
        merchant = royalty_world.merchant_of(db, r)
        royalty.unbind(db, merchant=merchant, out_request_no="U1", receivers=[Receiver(r.isv)])
        rows, total = royalty.receivers(db, merchant=merchant, page=1, page_size=20)
        assert [row.account for row in rows] == [r.community]
        with pytest.raises(errors.ReceiverNotBound):
            royalty.unbind(db, merchant=merchant, out_request_no="U2",
                           receivers=[Receiver(r.isv)])
    _bind(database, r, r.isv, no="B3")  # bound again
    with database.unit_of_work() as db:
        assert royalty.receivers(db, merchant=royalty_world.merchant_of(db, r), page=1,
                                 page_size=1)[1] == 2


def test_a_settle_is_one_balanced_entry_once_per_request_number(database, made):
    world, r = made
    _bind(database, r, r.isv, r.community)
    trade_no = royalty_world.paid_trade(database, world)  # 100.00: merchant 99.40, fee 0.60
    with database.unit_of_work() as db:
        row, moved = _settle(db, trade_no, "S1", (r.isv, 1_200), (r.community, 300))
        assert moved and row.amount_fen == 1_500 and len(row.settle_no) == 28
        again, moved_again = _settle(db, trade_no, "S1", (r.isv, 1_200), (r.community, 300))
        assert (again.settle_no, moved_again) == (row.settle_no, False)
        with pytest.raises(errors.InvalidParameter):  # the number again, other parts
            _settle(db, trade_no, "S1", (r.isv, 1_000))
    with database.unit_of_work() as db:
        kinds = [e.kind for e in ledger.entries_for(db, trade_no)]
        assert kinds == ["payment", "royalty"]
        entry = ledger.entries_for(db, trade_no)[1]
        assert sorted((p.account.code, p.amount_fen) for p in entry.postings) == sorted([
            (accounts.merchant_pending(r.merchant_id), -1_500),
            (accounts.isv_commission(r.isv_id), 1_200),
            (accounts.community_commission(r.community_id), 300)])
        assert ledger.balance(db, accounts.merchant_pending(r.merchant_id)) == 9_940 - 1_500
        assert ledger.reconcile(db).sound


def test_never_more_than_the_merchants_part_after_refunds_and_settles(database, made):
    world, r = made
    _bind(database, r, r.isv)
    trade_no = royalty_world.paid_trade(database, world)
    with database.unit_of_work() as db:
        assert royalty.settleable_fen(db, service.get(db, trade_no)) == 9_940
        with pytest.raises(errors.SettleAmountExceeded):
            _settle(db, trade_no, "S0", (r.isv, 9_941))  # the platform's fee is not the merchant's
        service.refund(db, trade=service.get(db, trade_no), refund_fen=5_000,
                       out_request_no="R1")
        assert royalty.settleable_fen(db, service.get(db, trade_no)) == 9_940 - 4_970
        _settle(db, trade_no, "S1", (r.isv, 4_000))
        with pytest.raises(errors.SettleAmountExceeded) as refused:
            _settle(db, trade_no, "S2", (r.isv, 971))
        assert refused.value.sub_code == "ACQ.ALLOC_AMOUNT_VALIDATE_ERROR"
        _settle(db, trade_no, "S2", (r.isv, 970))
        assert royalty.settleable_fen(db, service.get(db, trade_no)) == 0
        assert ledger.balance(db, accounts.isv_commission(r.isv_id)) == 4_970
        assert ledger.reconcile(db).sound


def test_refusals_change_nothing(database, made):
    world, r = made
    _bind(database, r, r.isv)
    trade_no = royalty_world.paid_trade(database, world)
    with database.unit_of_work() as db:
        unpaid = trade_world.create(db, world, "UNPAID", 500).trade_no
    cases = [
        (trade_no, [(r.community, 100)], errors.ReceiverNotBound),  # a community never bound
        (unpaid, [(r.isv, 100)], errors.TradeStatusError),
    ]
    for number, parts, refusal in cases:
        with database.unit_of_work() as db, pytest.raises(refusal):
            _settle(db, number, "S", *parts)
    with database.unit_of_work() as db:
        service.refund(db, trade=service.get(db, trade_no), refund_fen=10_000,
                       out_request_no="ALL")
    with database.unit_of_work() as db, pytest.raises(errors.TradeClosed):
        _settle(db, trade_no, "S", (r.isv, 100))
    with database.unit_of_work() as db:
        assert [e.kind for e in ledger.entries_for(db, trade_no)] == ["payment", "refund"]
        assert ledger.balance(db, accounts.isv_commission(r.isv_id)) == 0


def test_a_settle_after_settlement_takes_from_available_and_settlement_counts_it(
        database, settings, made):
    world, r = made
    _bind(database, r, r.isv)
    trade_no = royalty_world.paid_trade(database, world)
    with database.unit_of_work() as db:  # the trade's money settled (T+1, run a day later)
        day = settlement.today(settings)
        done = settlement.settle_merchant(db, merchant_id=r.merchant_id,
                                          day=day + timedelta(days=1), settings=settings)
        assert done.amount_fen == 9_940
    with database.unit_of_work() as db:
        _settle(db, trade_no, "S1", (r.isv, 940))
        assert ledger.balance(db, accounts.merchant_available(r.merchant_id)) == 9_000
        assert ledger.balance(db, accounts.merchant_pending(r.merchant_id)) == 0
        assert ledger.reconcile(db).sound
    # a second trade paid and settled to the ISV while pending: settlement moves only the rest
    second = royalty_world.paid_trade(database, world, "T-2", 1_000)  # merchant 994
    with database.unit_of_work() as db:
        _settle(db, second, "S1", (r.isv, 94))
        done = settlement.settle_merchant(db, merchant_id=r.merchant_id,
                                          day=settlement.today(settings) + timedelta(days=2),
                                          settings=settings)
        assert done.amount_fen == 900
        assert ledger.balance(db, accounts.merchant_pending(r.merchant_id)) == 0
        assert ledger.reconcile(db).sound


def test_the_trade_pages_show_its_settles(client, database, made):
    world, r = made
    _bind(database, r, r.isv, r.community)
    trade_no = royalty_world.paid_trade(database, world)
    with database.unit_of_work() as db:
        row, _ = _settle(db, trade_no, "S-PAGE", (r.isv, 1_200), (r.community, 300))
    browser_login(client, world.owner)
    page = client.get(f"/console/merchant/{r.merchant}/trades/{trade_no}")
    assert page.status_code == 200 and 'id="settles"' in page.text
    assert row.settle_no in page.text and r.isv in page.text and r.community in page.text
    assert "分账" in page.text and "¥12.00" in page.text
    browser_login(client, world.operator)
    looked_up = client.get("/console/operator/trades", params={"q": trade_no})
    assert row.settle_no in looked_up.text


def test_the_funds_page_lists_receivers_and_what_they_were_sent(client, database, made):
    world, r = made
    _bind(database, r, r.isv, r.community)
    trade_no = royalty_world.paid_trade(database, world)
    with database.unit_of_work() as db:
        _settle(db, trade_no, "S1", (r.isv, 1_200))
        _settle(db, trade_no, "S2", (r.isv, 34), (r.community, 300))
    browser_login(client, world.owner)
    page = client.get(f"/console/merchant/{r.merchant}/funds")
    assert page.status_code == 200
    section = page.text.split('id="royalty-receivers"')[1].split("</section>")[0]
    assert r.isv in section and r.community in section and "云帆科技" in section
    assert "¥12.34" in section and "¥3.00" in section
