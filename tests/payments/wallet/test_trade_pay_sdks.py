"""`alipay.trade.pay` from both real Alipay SDKs, unmodified, over HTTP (each SDK verifies every
answer's signature): the till pays with the resident's payment code, a retry charges nothing
(ACQ.TRADE_HAS_SUCCESS), a used or forged code answers ACQ.PAYMENT_AUTH_CODE_INVALID, too little
in the wallet ACQ.BUYER_BALANCE_NOT_ENOUGH, and the query says TRADE_SUCCESS."""

from __future__ import annotations

import pytest

from tests.gateway.sdk import run_sdk, sdk_dir, serve_on_port_80
from tests.payments.wallet import pay_world
from townsquare.accounts.models import User
from townsquare.payments.wallet import payment_codes
from townsquare.payments.wallet import service as wallet

pytestmark = pytest.mark.parametrize("sdk", ["official", "community"])


@pytest.fixture(scope="module", autouse=True)
def sdks_installed() -> None:
    for name in ("official", "community"):
        sdk_dir(name)


@pytest.fixture
def world(database, settings, make_user):
    return pay_world.build(database, settings, make_user, wallet_fen=5_000)


@pytest.fixture
def gateway_url(database, settings, world):
    yield from serve_on_port_80(database, settings)


def _code(database, settings, world) -> str:
    with database.unit_of_work() as db:
        return payment_codes.issue(db, settings=settings,
                                   actor=db.get(User, world[0].resident.id)).code


def _calls(sdk, world, url, *calls):
    job = {"server_url": url, "app_id": world[0].app_id, "private_key": world[0].private_key,
           "platform_public_key": world[0].platform_public_key, "calls": list(calls)}
    answers = run_sdk(sdk, job)
    for answer in answers:
        assert answer["ok"], answer  # the SDK verified the answer's signature
    return [a["response"] for a in answers]


def _pay(out_trade_no: str, code: str, amount: str = "18.80") -> dict:
    return {"method": "alipay.trade.pay",
            "biz": {"out_trade_no": out_trade_no, "scene": "bar_code", "auth_code": code,
                    "total_amount": amount, "subject": "便利店 收银台 1"}}


def test_the_till_pays_with_a_payment_code_from_each_sdk(sdk, database, settings, world,
                                                         gateway_url):
    code = _code(database, settings, world)
    forged = code[:-1] + str((int(code[-1]) + 1) % 10)
    paid, again, reused, bad = _calls(
        sdk, world, gateway_url, _pay("TILL-1", code), _pay("TILL-1", code),
        _pay("TILL-2", code), _pay("TILL-3", forged))
    assert paid["code"] == "10000", paid
    assert (paid["out_trade_no"], paid["total_amount"], paid["buyer_pay_amount"]) == (
        "TILL-1", "18.80", "18.80")
    assert paid["fund_bill_list"][0]["fund_channel"] == "ALIPAYACCOUNT" and paid["gmt_payment"]
    assert again["sub_code"] == "ACQ.TRADE_HAS_SUCCESS"
    assert reused["sub_code"] == bad["sub_code"] == "ACQ.PAYMENT_AUTH_CODE_INVALID"
    poor, [query] = (_calls(sdk, world, gateway_url,
                            _pay("TILL-4", _code(database, settings, world), "31.21"))[0],
                     _calls(sdk, world, gateway_url, {"method": "alipay.trade.query",
                                                      "biz": {"out_trade_no": "TILL-1"}}))
    assert (poor["code"], poor["sub_code"]) == ("40004", "ACQ.BUYER_BALANCE_NOT_ENOUGH")
    assert query["trade_status"] == "TRADE_SUCCESS" and query["trade_no"] == paid["trade_no"]
    with database.unit_of_work() as db:
        assert wallet.balance(db, user=db.get(User, world[0].resident.id)) == 5_000 - 1_880


def test_a_code_backed_by_a_card_pays_past_the_wallet_from_each_sdk(sdk, database, settings,
                                                                    world, gateway_url):
    with database.unit_of_work() as db:
        wallet.set_code_card(db, actor=db.get(User, world[0].resident.id), card_id=world[1])
    paid, again = _calls(sdk, world, gateway_url,
                         _pay("CARD-1", _code(database, settings, world), "80.00"),
                         {"method": "alipay.trade.query", "biz": {"out_trade_no": "CARD-1"}})
    assert paid["code"] == "10000", paid
    assert paid["fund_bill_list"][0]["fund_channel"] == "BANKCARD"
    assert again["trade_status"] == "TRADE_SUCCESS"
    assert again["fund_bill_list"][0]["fund_channel"] == "BANKCARD"
    with database.unit_of_work() as db:
        assert wallet.balance(db, user=db.get(User, world[0].resident.id)) == 5_000
