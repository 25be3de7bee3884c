"""ISV authorization through `/gateway.do`: an app_auth_code is spent once and expires; a token
acts for its merchant only, refreshes by rotation, ends when the merchant revokes the provider;
a token presented by any other app is refused with 20001; codes and tokens are stored as
digests."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.gateway import gateway_world, isv_world
from tests.gateway.test_gateway_http import answer, signed
from tests.miniapps.shell_data import make_miniapp
from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.core.errors import ValidationFailed
from townsquare.core.security import token_digest
from townsquare.gateway import apps, authorize
from townsquare.gateway.models import AppAuthCode, AppAuthToken, GatewayApp
from townsquare.merchants.models import Merchant
from townsquare.miniapps.shell import launch
from townsquare.traffic.support import points

TOKEN = "alipay_open_auth_token_app_response"
QUERY = "alipay_open_auth_token_app_query_response"
POINTS = "townsquare_marketing_points_query_response"
SCORE = "townsquare_data_service_score_query_response"


@pytest.fixture
def world(database, settings, make_user):
    return isv_world.build(database, settings, make_user)


def call(client, world, method, biz=None, **extra):
    params = signed(world, method, **extra)
    if biz is not None:  # signed over biz_content exactly as sent
        params = signed(world, method, biz_content=json.dumps(biz, ensure_ascii=False), **extra)
    key = method.replace(".", "_") + "_response"
    return answer(client.post("/gateway.do", data=params), key)


def exchange(client, world, code):
    return call(client, world, "alipay.open.auth.token.app",
                {"grant_type": "authorization_code", "code": code})


def test_code_for_token_once_and_the_token_acts_for_its_merchant(client, database, world):
    with database.unit_of_work() as db:
        merchant = db.scalar(select(Merchant).where(Merchant.public_id == world.merchant_id))
        points.earn(db, merchant_id=merchant.id, rule_code="test", points=120,
                    reference="earn:test:isv")
    code = isv_world.authorize_code(database, world)
    got = exchange(client, world, code)
    assert got["code"] == "10000", got
    assert re.fullmatch(r"2088\d{12}", got["user_id"])
    assert got["auth_app_id"] == world.app_id
    assert got["expires_in"] == 365 * 86400 and got["re_expires_in"] == 372 * 86400
    [inner] = got["tokens"]
    assert inner == {k: got[k] for k in ("user_id", "auth_app_id", "app_auth_token",
                                          "app_refresh_token", "expires_in", "re_expires_in")}
    again = exchange(client, world, code)
    assert (again["code"], again["sub_code"]) == ("40002", "isv.code-invalid")

    token = got["app_auth_token"]
    balance = call(client, world, "townsquare.marketing.points.query", {"limit": 1},
                   app_auth_token=token)
    assert balance["code"] == "10000" and balance["balance"] == 120
    # without a token an ISV app acts for no merchant
    alone = call(client, world, "townsquare.marketing.points.query", {"limit": 1})
    assert (alone["code"], alone["sub_code"]) == ("20001", "aop.invalid-app-auth-token")

    # stored as digests only: no plaintext code or token anywhere in the rows
    with database.unit_of_work() as db:
        [row] = db.scalars(select(AppAuthToken)).all()
        assert row.access_digest == token_digest(token)
        assert token not in repr(vars(row)) and got["app_refresh_token"] not in repr(vars(row))
        assert db.scalar(select(AppAuthCode)).code_digest == token_digest(code)


def test_the_code_expires_after_ten_minutes(client, database, world):
    clock.freeze(clock.now())
    code = isv_world.authorize_code(database, world)
    clock.advance(timedelta(minutes=10, seconds=1))
    late = exchange(client, world, code)
    assert (late["code"], late["sub_code"]) == ("40002", "isv.code-invalid")


def test_refresh_rotates_and_the_old_pair_stops(client, database, world):
    got = exchange(client, world, isv_world.authorize_code(database, world))
    old_access, old_refresh = got["app_auth_token"], got["app_refresh_token"]
    renewed = call(client, world, "alipay.open.auth.token.app",
                   {"grant_type": "refresh_token", "refresh_token": old_refresh})
    assert renewed["code"] == "10000", renewed
    assert renewed["app_auth_token"] != old_access
    assert renewed["app_refresh_token"] != old_refresh
    assert renewed["user_id"] == got["user_id"]
    replay = call(client, world, "alipay.open.auth.token.app",
                  {"grant_type": "refresh_token", "refresh_token": old_refresh})
    assert (replay["code"], replay["sub_code"]) == ("40002", "isv.invalid-refresh-token")
    stale = call(client, world, "townsquare.marketing.points.query", app_auth_token=old_access)
    assert (stale["code"], stale["sub_code"]) == ("20001", "aop.invalid-app-auth-token")
    fresh = call(client, world, "townsquare.marketing.points.query",
                 app_auth_token=renewed["app_auth_token"])
    assert fresh["code"] == "10000"
    status = call(client, world, "alipay.open.auth.token.app.query",
                  {"app_auth_token": renewed["app_auth_token"]})
    assert status["status"] == "valid" and status["user_id"] == got["user_id"]
    assert status["auth_methods"] == ["authorization", "data", "marketing"]
    assert status["is_by_app_auth"] is True
    assert call(client, world, "alipay.open.auth.token.app.query",
                {"app_auth_token": old_access})["status"] == "invalid"


def test_a_token_expires_and_refresh_still_works(client, database, world):
    clock.freeze(clock.now())
    got = exchange(client, world, isv_world.authorize_code(database, world))
    clock.advance(timedelta(days=366))
    late = call(client, world, "townsquare.marketing.points.query",
                app_auth_token=got["app_auth_token"])
    assert (late["code"], late["sub_code"]) == ("20001", "aop.app-auth-token-time-out")
    # the client may still send its expired token as the common parameter while refreshing
    renewed = call(client, world, "alipay.open.auth.token.app",
                   {"grant_type": "refresh_token", "refresh_token": got["app_refresh_token"]},
                   app_auth_token=got["app_auth_token"])
    assert renewed["code"] == "10000", renewed


def test_a_token_is_refused_to_any_other_app(client, database, settings, make_user, world):
    token = exchange(client, world, isv_world.authorize_code(database, world))["app_auth_token"]
    other = isv_world.build(database, settings, make_user, name="别家服务商", base=world.base)
    stolen = call(client, other, "townsquare.marketing.points.query", app_auth_token=token)
    assert (stolen["code"], stolen["sub_code"]) == ("20001", "aop.invalid-app-auth-token")
    own_app = call(client, world.base, "townsquare.marketing.points.query",
                   app_auth_token=token)
    assert (own_app["code"], own_app["sub_code"]) == ("20001", "aop.invalid-app-auth-token")
    # the mini-app's own app keeps working without any token
    assert call(client, world.base, "townsquare.marketing.points.query")["code"] == "10000"
    # another app cannot exchange this app's codes either
    code = isv_world.authorize_code(database, world)
    assert exchange(client, other, code)["sub_code"] == "isv.code-invalid"
    assert exchange(client, world, code)["code"] == "10000"


def test_revoking_the_provider_ends_its_tokens_at_once(client, database, world):
    got = exchange(client, world, isv_world.authorize_code(database, world))
    code = isv_world.authorize_code(database, world)  # confirmed, not exchanged yet
    isv_world.revoke(database, world)
    refused = call(client, world, "townsquare.marketing.points.query",
                   app_auth_token=got["app_auth_token"])
    assert (refused["code"], refused["sub_code"]) == ("20001", "aop.invalid-app-auth-token")
    assert "取消授权" in refused["sub_msg"]
    renewed = call(client, world, "alipay.open.auth.token.app",
                   {"grant_type": "refresh_token", "refresh_token": got["app_refresh_token"]})
    assert renewed["sub_code"] == "isv.invalid-refresh-token"
    assert exchange(client, world, code)["sub_code"] == "isv.code-invalid"
    status = call(client, world, "alipay.open.auth.token.app.query",
                  {"app_auth_token": got["app_auth_token"]})
    assert status["status"] == "invalid" and status["expires_in"] == 0
    # authorizing again makes a new authorization and a new token; the old one stays dead
    again = exchange(client, world, isv_world.authorize_code(database, world))
    assert call(client, world, "townsquare.marketing.points.query",
                app_auth_token=again["app_auth_token"])["code"] == "10000"
    assert call(client, world, "townsquare.marketing.points.query",
                app_auth_token=got["app_auth_token"])["code"] == "20001"


def test_mini_app_methods_take_one_of_the_merchants_mini_apps(client, database, world):
    token = exchange(client, world, isv_world.authorize_code(database, world))["app_auth_token"]
    score = call(client, world, "townsquare.data.service.score.query",
                 {"mini_app_id": world.miniapp_id}, app_auth_token=token)
    assert score["code"] == "10000" and score["scored"] is False
    missing = call(client, world, "townsquare.data.service.score.query", app_auth_token=token)
    assert (missing["code"], missing["sub_code"]) == ("40002", "isv.invalid-parameter")
    elsewhere = make_miniapp(database, name="别家小店")  # another merchant's mini-app
    foreign = call(client, world, "townsquare.data.service.score.query",
                   {"mini_app_id": elsewhere.id}, app_auth_token=token)
    assert foreign["sub_code"] == "isv.invalid-parameter"
    # identity methods belong to the mini-app's own app
    identity = call(client, world, "alipay.system.oauth.token", app_auth_token=token,
                    grant_type="authorization_code", code="x")
    assert identity["code"] == "40006"


def test_a_token_covers_the_packages_the_merchant_confirmed(client, database, settings,
                                                            make_user):
    world = isv_world.build(database, settings, make_user, packages=("authorization", "data"))
    token = exchange(client, world, isv_world.authorize_code(database, world))["app_auth_token"]
    with database.unit_of_work() as db:  # granted after the merchant confirmed
        app = db.scalar(select(GatewayApp).where(GatewayApp.app_id == world.app_id))
        apps.apply(db, actor=db.get(User, world.staff.id), app=app, package="marketing")
        apps.decide(db, actor=db.get(User, world.base.operator.id), app=app,
                    package="marketing", grant=True)
    beyond = call(client, world, "townsquare.marketing.points.query", app_auth_token=token)
    assert (beyond["code"], beyond["sub_code"]) == ("20001", "aop.invalid-app-auth-token-no-api")
    fresh = exchange(client, world, isv_world.authorize_code(database, world))
    assert call(client, world, "townsquare.marketing.points.query",
                app_auth_token=fresh["app_auth_token"])["code"] == "10000"


def test_the_code_goes_only_to_the_registered_address(database, world):
    with database.unit_of_work() as db:
        for bad in ("https://evil.example.com/cb", isv_world.REDIRECT + "&x=1"):
            with pytest.raises(ValidationFailed):
                authorize.authorize_request(db, app_id=world.app_id, redirect_uri=bad)
        for bad in ("http://isv.example.com/cb", "javascript:alert(1)",
                    "https://isv.example.com/cb#frag", "//isv.example.com/cb", ""):
            with pytest.raises(ValidationFailed):
                authorize.clean_redirect_uri(bad)
    assert "state=s%26x" in _confirm_url(database, world, state="s&x")


def _confirm_url(database, world, state):
    with database.unit_of_work() as db:
        ask = authorize.authorize_request(db, app_id=world.app_id, state=state)
        return authorize.confirm(db, actor=db.get(User, world.owner.id), request=ask,
                                 merchant_id=world.merchant_id)


def test_an_isv_sends_a_message_for_one_of_its_merchants_mini_apps(client, database, settings,
                                                                    make_user):
    world = isv_world.build(database, settings, make_user,
                            packages=("authorization", "messaging"))
    gateway_world.subscribe(database, world.base)
    token = exchange(client, world, isv_world.authorize_code(database, world))["app_auth_token"]
    to_user = launch.pseudonymous_id(settings.effective_secret_key,
                                     world.base.resident.public_id, world.miniapp_id)
    message = {"to_user_id": to_user, "user_template_id": "order_ready",
               "data": {"order": {"value": "A-1"}, "amount": {"value": "1.00"}}}
    without = call(client, world, "alipay.open.app.mini.templatemessage.send", message,
                   app_auth_token=token)
    assert without["sub_code"] == "isv.invalid-parameter"  # which mini-app: not guessed
    sent = call(client, world, "alipay.open.app.mini.templatemessage.send",
                {**message, "mini_app_id": world.miniapp_id}, app_auth_token=token)
    assert sent["code"] == "10000" and sent["msg_id"].startswith("msg_")
