"""Royalties from both real Alipay SDKs, unmodified, over HTTP (each SDK verifies every answer's
signature; the official one builds its own request classes AlipayTradeRoyaltyRelationBind…,
AlipayTradeOrderSettle…): bind an ISV and a community, list them, settle part of a paid trade,
repeat the settle (the same settle_no, nothing moved), query it, and each refusal with its
sub_code: more than the merchant's part, a receiver not bound, an account no one authorized,
an unpaid trade; then unbind, after which a settle to that receiver is refused."""

from __future__ import annotations

import pytest

from tests.gateway.sdk import run_sdk, sdk_dir, serve_on_port_80
from tests.payments.trades import royalty_world, trade_world
from townsquare.payments import ledger
from townsquare.payments.ledger import accounts

pytestmark = pytest.mark.parametrize("sdk", ["official", "community"])


@pytest.fixture(scope="module", autouse=True)
def sdks_installed() -> None:
    for name in ("official", "community"):
        sdk_dir(name)


@pytest.fixture
def made(database, settings, make_user):
    return royalty_world.build(database, settings, make_user)


@pytest.fixture
def gateway_url(database, settings, made):
    yield from serve_on_port_80(database, settings)


def _calls(sdk, world, url, *calls):
    job = {"server_url": url, "app_id": world.app_id, "private_key": world.private_key,
           "platform_public_key": world.platform_public_key, "calls": list(calls)}
    answers = run_sdk(sdk, job)
    for answer in answers:
        assert answer["ok"], answer  # the SDK verified the answer's signature
    return [a["response"] for a in answers]


def _receiver(account, **more):
    return {"type": "userId", "account": account, **more}


def _settle(trade_no, no, *parts):
    return {"method": "alipay.trade.order.settle",
            "biz": {"out_request_no": no, "trade_no": trade_no,
                    "royalty_parameters": [
                        {"royalty_type": "transfer", "trans_in_type": "userId",
                         "trans_in": account, "amount": amount, "desc": "分成"}
                        for account, amount in parts]}}


def test_bind_settle_query_and_refusals_from_each_sdk(sdk, database, made, gateway_url):
    world, r = made
    trade_no = royalty_world.paid_trade(database, world)  # ¥100.00, the merchant's part ¥99.40
    with database.unit_of_work() as db:
        unpaid = trade_world.create(db, world, "UNPAID", 500).trade_no
    bound, again, listed, stranger = _calls(
        sdk, world, gateway_url,
        {"method": "alipay.trade.royalty.relation.bind",
         "biz": {"out_request_no": "BIND-1",
                 "receiver_list": [_receiver(r.isv, name="云帆", memo="代运营"),
                                   _receiver(r.community)]}},
        {"method": "alipay.trade.royalty.relation.bind",
         "biz": {"out_request_no": "BIND-1",
                 "receiver_list": [_receiver(r.isv, name="云帆", memo="代运营"),
                                   _receiver(r.community)]}},
        {"method": "alipay.trade.royalty.relation.batchquery",
         "biz": {"out_request_no": "Q-1", "page_num": 1, "page_size": 20}},
        {"method": "alipay.trade.royalty.relation.bind",
         "biz": {"out_request_no": "BIND-2", "receiver_list": [_receiver(r.stranger)]}})
    assert bound["code"] == again["code"] == "10000" and bound["result_code"] == "SUCCESS"
    assert listed["total_record_num"] == 2 and listed["current_page_num"] == 1
    assert [(x["account"], x["type"]) for x in listed["receiver_list"]] == [
        (r.isv, "userId"), (r.community, "userId")]
    assert listed["receiver_list"][0]["name"] == "云帆"
    assert (stranger["code"], stranger["sub_code"]) == ("40004", "ACQ.INVALID_PARAMETER")

    settled, repeated, query, too_much, not_paid = _calls(
        sdk, world, gateway_url,
        _settle(trade_no, "S-1", (r.isv, "12.00"), (r.community, 3)),
        _settle(trade_no, "S-1", (r.isv, "12.00"), (r.community, 3)),
        {"method": "alipay.trade.order.settle.query",
         "biz": {"trade_no": trade_no, "out_request_no": "S-1"}},
        _settle(trade_no, "S-2", (r.isv, "84.41")),  # 99.40 − 15.00 = 84.40 left
        _settle(unpaid, "S-3", (r.isv, "1.00")))
    assert settled["code"] == "10000" and settled["trade_no"] == trade_no
    assert repeated["settle_no"] == settled["settle_no"]
    details = query["royalty_detail_list"]
    assert query["out_request_no"] == "S-1" and [(d["trans_in"], d["amount"], d["state"])
                                                 for d in details] == [
        (r.isv, "12.00", "SUCCESS"), (r.community, "3.00", "SUCCESS")]
    assert details[0]["trans_out"] == r.merchant
    assert too_much["sub_code"] == "ACQ.ALLOC_AMOUNT_VALIDATE_ERROR"
    assert "剩余可分 8440 分" in too_much["sub_msg"]
    assert not_paid["sub_code"] == "ACQ.TRADE_STATUS_ERROR"

    unbound, after, rest, by_no = _calls(
        sdk, world, gateway_url,
        {"method": "alipay.trade.royalty.relation.unbind",
         "biz": {"out_request_no": "UNBIND-1", "receiver_list": [_receiver(r.community)]}},
        _settle(trade_no, "S-4", (r.community, "1.00")),
        _settle(trade_no, "S-5", (r.isv, "84.40")),
        {"method": "alipay.trade.order.settle.query", "biz": {"settle_no": settled["settle_no"]}})
    assert unbound["result_code"] == "SUCCESS"
    assert after["sub_code"] == "ACQ.TRADE_SETTLE_ERROR"
    assert rest["code"] == "10000" and by_no["out_request_no"] == "S-1"
    with database.unit_of_work() as db:
        assert ledger.balance(db, accounts.isv_commission(r.isv_id)) == 1_200 + 8_440
        assert ledger.balance(db, accounts.community_commission(r.community_id)) == 300
        assert ledger.balance(db, accounts.merchant_pending(r.merchant_id)) == 0
        assert ledger.reconcile(db).sound
