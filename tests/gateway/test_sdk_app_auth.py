"""Both real Alipay SDKs, unmodified, as an ISV's backend: exchange the merchant's app_auth_code
for an app_auth_token, refresh it, query it, call a method for the merchant with it; after the
merchant revokes the provider, the SDK surfaces 20001 aop.invalid-app-auth-token. (The
community SDK through its own ISVAliPay methods; the official one through its request
classes.)"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.gateway import isv_world
from tests.gateway.sdk import run_sdk, sdk_dir, serve_on_port_80
from townsquare.merchants.models import Merchant
from townsquare.traffic.support import points

pytestmark = pytest.mark.parametrize("sdk", ["official", "community"])


@pytest.fixture(scope="session", autouse=True)
def sdks_installed() -> None:
    for name in ("official", "community"):
        sdk_dir(name)


@pytest.fixture
def world(database, settings, make_user):
    made = isv_world.build(database, settings, make_user)
    with database.unit_of_work() as db:
        merchant = db.scalar(select(Merchant).where(Merchant.public_id == made.merchant_id))
        points.earn(db, merchant_id=merchant.id, rule_code="test", points=75,
                    reference="earn:test:sdk")
    return made


@pytest.fixture
def gateway_url(database, settings, world):
    yield from serve_on_port_80(database, settings)


def _job(world, url, calls):
    return {"server_url": url, "app_id": world.app_id, "private_key": world.private_key,
            "platform_public_key": world.platform_public_key, "calls": calls}


def _calls(sdk, kind, **values):
    """One ISV call as this SDK makes it."""
    if sdk == "community":
        return {"isv": kind, **values}
    if kind == "exchange":
        biz = {"grant_type": "authorization_code", "code": values["app_auth_code"]}
        return {"method": "alipay.open.auth.token.app", "biz": biz}
    if kind == "refresh":
        biz = {"grant_type": "refresh_token", "refresh_token": values["refresh_token"]}
        return {"method": "alipay.open.auth.token.app", "biz": biz}
    return {"method": "alipay.open.auth.token.app.query",  # the token as a common one too
            "biz": {"app_auth_token": values["app_auth_token"]},
            "app_auth_token": values["app_auth_token"]}


def test_isv_token_lifecycle(sdk, database, world, gateway_url):
    code = isv_world.authorize_code(database, world, state="from-qr")
    [got] = run_sdk(sdk, _job(world, gateway_url, [_calls(sdk, "exchange", app_auth_code=code)]))
    assert got["ok"], got  # the SDK verified the platform's signature
    token = got["response"]
    assert token["code"] == "10000", token
    assert token["auth_app_id"] == world.app_id and token["user_id"].startswith("2088")
    assert token["tokens"][0]["app_auth_token"] == token["app_auth_token"]

    points_call = {"method": "townsquare.marketing.points.query", "biz": {"limit": 1}}
    refreshed, spent_again = run_sdk(sdk, _job(world, gateway_url, [
        _calls(sdk, "refresh", app_auth_token=token["app_auth_token"],
               refresh_token=token["app_refresh_token"]),
        _calls(sdk, "refresh", app_auth_token=token["app_auth_token"],
               refresh_token=token["app_refresh_token"]),
    ]))
    assert refreshed["ok"] and refreshed["response"]["code"] == "10000", refreshed
    renewed = refreshed["response"]["app_auth_token"]
    assert renewed != token["app_auth_token"]
    assert spent_again["response"]["sub_code"] == "isv.invalid-refresh-token"

    status, balance, old = run_sdk(sdk, _job(world, gateway_url, [
        _calls(sdk, "query", app_auth_token=renewed),
        {**points_call, "app_auth_token": renewed},
        {**points_call, "app_auth_token": token["app_auth_token"]},
    ]))
    assert status["ok"] and status["response"]["status"] == "valid", status
    assert status["response"]["user_id"] == token["user_id"]
    assert balance["ok"] and balance["response"]["balance"] == 75, balance
    assert old["response"]["code"] == "20001"  # the rotated-out token

    isv_world.revoke(database, world)
    refused, after = run_sdk(sdk, _job(world, gateway_url, [
        {**points_call, "app_auth_token": renewed},
        _calls(sdk, "query", app_auth_token=renewed),
    ]))
    assert refused["ok"], refused  # signed refusal: verified by the SDK, read by the ISV
    assert refused["response"]["code"] == "20001"
    assert refused["response"]["msg"] == "Insufficient Token Permissions"
    assert refused["response"]["sub_code"] == "aop.invalid-app-auth-token"
    # (both SDKs also send the revoked token as the common parameter: the query still reads)
    assert after["ok"] and after["response"]["status"] == "invalid", after
