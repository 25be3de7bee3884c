"""Trades through an ISV's third-party app: it acts for the merchant whose app_auth_token it
presents, names which of that merchant's mini-apps a new trade is for (`mini_app_id`), and
finds only that merchant's trades, even those it created itself for another merchant."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from tests.gateway import gateway_world, isv_world
from tests.gateway.test_app_auth import call, exchange
from tests.miniapps.shell_data import make_miniapp
from tests.payments.trades import trade_world
from townsquare.accounts.models import Role, User
from townsquare.merchants.models import Merchant, MerchantStaff
from townsquare.miniapps.models import MiniApp
from townsquare.miniapps.shell import launch
from townsquare.payments.trades.models import Trade

ORDER = {"out_trade_no": "ISV-1", "total_amount": "18.80", "subject": "干洗 2 件"}


@pytest.fixture
def world(database, settings, make_user):
    base = gateway_world.build(database, settings, make_user, packages=("identity", "payment"))
    return isv_world.build(database, settings, make_user, base=base,
                           packages=("authorization", "payment"))


def _token(client, database, world) -> str:
    return exchange(client, world, isv_world.authorize_code(database, world))["app_auth_token"]


def test_an_isv_app_creates_and_finds_only_its_merchants_trades(client, database, settings,
                                                                make_user, world):
    token = _token(client, database, world)
    trade_world.top_up(database, world.base.resident.id, 10_000)
    unnamed = call(client, world, "alipay.trade.create", ORDER, app_auth_token=token)
    assert (unnamed["code"], unnamed["sub_code"]) == ("40002", "isv.invalid-parameter")
    alone = call(client, world, "alipay.trade.create", {**ORDER, "mini_app_id": world.miniapp_id})
    assert (alone["code"], alone["sub_code"]) == ("20001", "aop.invalid-app-auth-token")

    created = call(client, world, "alipay.trade.create",
                   {**ORDER, "mini_app_id": world.miniapp_id}, app_auth_token=token)
    assert created["code"] == "10000", created
    with database.unit_of_work() as db:
        trade = db.scalar(select(Trade).where(Trade.trade_no == created["trade_no"]))
        miniapp = db.scalar(select(MiniApp).where(MiniApp.public_id == world.miniapp_id))
        assert (trade.miniapp_id, trade.merchant_id, trade.total_fen) == (
            miniapp.id, miniapp.merchant_id, 1_880)
        trade_world.pay(db, trade.trade_no, world.base.resident.id)
    found = call(client, world, "alipay.trade.query", {"out_trade_no": "ISV-1"},
                 app_auth_token=token)
    assert found["trade_status"] == "TRADE_SUCCESS" and found["buyer_logon_id"] == "138****5678"
    # the buyer is named as the trade's mini-app knows them
    with database.unit_of_work() as db:
        resident = db.get(User, world.base.resident.id)
        assert found["buyer_open_id"] == launch.pseudonymous_id(
            settings.effective_secret_key, resident.public_id, world.miniapp_id)
    bill = call(client, world, "alipay.data.dataservice.bill.downloadurl.query",
                {"bill_type": "trade", "bill_date": "2020-01"}, app_auth_token=token)
    assert bill["code"] == "10000" and "/payments/bills/" in bill["bill_download_url"]

    # another merchant authorizes the same ISV app: its token finds none of the first one's
    second = _another_merchant(database, make_user, world)
    other_token = _token(client, database, second)
    for method in ("alipay.trade.query", "alipay.trade.close", "alipay.trade.cancel"):
        refused = call(client, world, method, {"out_trade_no": "ISV-1"},
                       app_auth_token=other_token)
        assert (refused["code"], refused["sub_code"]) == ("40004", "ACQ.TRADE_NOT_EXIST")
    refund = call(client, world, "alipay.trade.refund",
                  {"trade_no": created["trade_no"], "refund_amount": "1.00"},
                  app_auth_token=other_token)
    assert refund["sub_code"] == "ACQ.TRADE_NOT_EXIST"
    foreign = call(client, world, "alipay.trade.create",
                   {**ORDER, "out_trade_no": "ISV-2", "mini_app_id": world.miniapp_id},
                   app_auth_token=other_token)
    assert (foreign["code"], foreign["sub_code"]) == ("40002", "isv.invalid-parameter")


def _another_merchant(database, make_user, world: isv_world.IsvWorld) -> isv_world.IsvWorld:
    """A second merchant (its own mini-app and owner) that can authorize the same ISV app."""
    made = make_miniapp(database, name="别家洗衣")
    owner = make_user(Role.MERCHANT_STAFF, display_name="别家店长")
    with database.unit_of_work() as db:
        merchant = db.scalar(select(Merchant).where(Merchant.public_id == made.merchant_id))
        db.add(MerchantStaff(merchant_id=merchant.id, user_id=owner.id))
    return replace(world, merchant_id=made.merchant_id, miniapp_id=made.id, owner=owner)
