"""`alipay.trade.pay` over `/gateway.do`: the till scans the resident's payment code and the
trade is created and paid in one call, once per out_trade_no and once per code; each refusal
answers Alipay's sub_code and leaves no trade behind."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from tests.gateway.test_gateway_http import answer, signed
from tests.payments.wallet import pay_world
from townsquare.accounts.models import User
from townsquare.payments.trades.models import Trade, TradeStatus
from townsquare.payments.wallet import payment_codes
from townsquare.payments.wallet import service as wallet

KEY = "alipay_trade_pay_response"


@pytest.fixture
def world(database, settings, make_user):
    return pay_world.build(database, settings, make_user, wallet_fen=5_000)


def code_of(database, settings, world) -> str:
    with database.unit_of_work() as db:
        return payment_codes.issue(db, settings=settings,
                                   actor=db.get(User, world[0].resident.id)).code


def pay(client, world, auth_code, out_trade_no="POS-1", amount="12.50", **biz):
    content = {"out_trade_no": out_trade_no, "scene": "bar_code", "auth_code": auth_code,
               "total_amount": amount, "subject": "收银台 2 号", **biz}
    params = signed(world[0], "alipay.trade.pay", biz_content=json.dumps(content))
    return answer(client.post("/gateway.do", data=params), KEY)


def test_the_till_pays_with_the_residents_code(client, database, settings, world):
    paid = pay(client, world, code_of(database, settings, world))
    assert paid["code"] == "10000", paid
    assert paid["out_trade_no"] == "POS-1" and len(paid["trade_no"]) == 28
    assert paid["total_amount"] == paid["receipt_amount"] == paid["buyer_pay_amount"] == "12.50"
    assert paid["fund_bill_list"] == [{"fund_channel": "ALIPAYACCOUNT", "amount": "12.50",
                                       "real_amount": "12.50"}]
    assert paid["gmt_payment"] and paid["buyer_user_id"] and "trade_status" not in paid
    with database.unit_of_work() as db:
        trade = db.scalar(select(Trade).where(Trade.trade_no == paid["trade_no"]))
        assert trade.status is TradeStatus.TRADE_SUCCESS
        assert wallet.balance(db, user=db.get(User, world[0].resident.id)) == 5_000 - 1_250
    again = pay(client, world, code_of(database, settings, world))  # the till retries
    assert again["sub_code"] == "ACQ.TRADE_HAS_SUCCESS"
    with database.unit_of_work() as db:
        assert wallet.balance(db, user=db.get(User, world[0].resident.id)) == 3_750


def test_refusals_answer_alipays_sub_codes_and_leave_nothing(client, database, settings,
                                                             world):
    code = code_of(database, settings, world)
    forged = code[:-1] + str((int(code[-1]) + 1) % 10)
    assert pay(client, world, forged)["sub_code"] == "ACQ.PAYMENT_AUTH_CODE_INVALID"
    poor = pay(client, world, code, amount="50.01")
    assert (poor["code"], poor["sub_code"]) == ("40004", "ACQ.BUYER_BALANCE_NOT_ENOUGH")
    settings.payment_limit_per_day_fen = 1_000
    over = pay(client, world, code, out_trade_no="POS-2")
    assert over["sub_code"] == "ACQ.BUYER_PAYMENT_AMOUNT_DAY_LIMIT_ERROR"
    settings.payment_limit_per_day_fen = 1_000_000
    assert pay(client, world, code, scene="wave_code")["sub_code"] == "ACQ.INVALID_PARAMETER"
    # a malformed amount fails the declared schema (docs/open-platform.md, "Parameters are
    # checked"); a well-formed one out of range is the method's own refusal
    assert pay(client, world, code, amount="1.001")["sub_code"] == "ACQ.INVALID_PARAMETER"
    assert pay(client, world, code, amount="0")["sub_code"] == "ACQ.INVALID_PARAMETER"
    with database.unit_of_work() as db:
        assert db.scalar(select(func.count(Trade.id))) == 0
    assert pay(client, world, code, out_trade_no="POS-3")["code"] == "10000"  # still unused
    used = pay(client, world, code, out_trade_no="POS-4")
    assert used["sub_code"] == "ACQ.PAYMENT_AUTH_CODE_INVALID"


def test_a_code_pays_from_the_card_behind_it_when_the_wallet_is_short(client, database,
                                                                     settings, world):
    """The wallet pays while it holds enough; past that the card the resident put behind the
    code is charged (fund_channel BANKCARD), within the same limits; without such a card the
    till hears ACQ.BUYER_BALANCE_NOT_ENOUGH; a declining card answers ACQ.PAYMENT_FAIL."""
    resident = world[0].resident.id
    assert pay(client, world, code_of(database, settings, world),
               amount="60.00")["sub_code"] == "ACQ.BUYER_BALANCE_NOT_ENOUGH"
    with database.unit_of_work() as db:
        wallet.set_code_card(db, actor=db.get(User, resident), card_id=world[1])
    small = pay(client, world, code_of(database, settings, world), "POS-W", amount="10.00")
    assert small["fund_bill_list"][0]["fund_channel"] == "ALIPAYACCOUNT"
    big = pay(client, world, code_of(database, settings, world), "POS-C", amount="60.00")
    assert big["code"] == "10000", big
    assert big["fund_bill_list"] == [{"fund_channel": "BANKCARD", "amount": "60.00",
                                      "real_amount": "60.00"}]
    with database.unit_of_work() as db:
        user = db.get(User, resident)
        assert wallet.balance(db, user=user) == 5_000 - 1_000  # the card paid the 60.00
        trade = db.scalar(select(Trade).where(Trade.trade_no == big["trade_no"]))
        assert trade.funding_reference.startswith("sbm_")
        declining = wallet.bind_card(db, settings=settings, actor=user,
                                     number="4000000000000002")
        wallet.set_code_card(db, actor=user, card_id=declining.public_id)
        assert wallet.code_card(db, user=user).id == declining.id  # one card at most
    refused = pay(client, world, code_of(database, settings, world), "POS-D", amount="60.00")
    assert refused["sub_code"] == "ACQ.PAYMENT_FAIL"
    settings.payment_limit_per_payment_fen = 5_000
    with database.unit_of_work() as db:
        wallet.set_code_card(db, actor=db.get(User, resident), card_id=world[1])
    over = pay(client, world, code_of(database, settings, world), "POS-L", amount="60.00")
    assert over["sub_code"] == "ACQ.PAYMENT_FAIL"  # the limit per payment counts cards too
    with database.unit_of_work() as db:
        assert db.scalar(select(func.count(Trade.id))) == 2
