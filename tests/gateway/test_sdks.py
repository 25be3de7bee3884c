"""Both real Alipay SDKs, unmodified, calling the gateway over HTTP: the identity methods work and
every response passes the SDK's own signature check; a wrong key, a stale timestamp and a
method outside the app's packages each give the documented error the SDK surfaces."""

from __future__ import annotations

import pytest

from tests.gateway import gateway_world
from tests.gateway.sdk import run_sdk, sdk_dir, serve_on_port_80
from townsquare.accounts.models import User
from townsquare.gateway.protocol import signing
from townsquare.messaging import service as messaging

pytestmark = pytest.mark.parametrize("sdk", ["official", "community"])


@pytest.fixture(scope="session", autouse=True)
def sdks_installed() -> None:
    """Install both SDKs before any test starts a clock (an auth code lives minutes)."""
    for name in ("official", "community"):
        sdk_dir(name)


@pytest.fixture
def world(database, settings, make_user):
    return gateway_world.build(database, settings, make_user)


@pytest.fixture
def gateway_url(database, settings, world):
    yield from serve_on_port_80(database, settings)


def _job(world, url, calls, **overrides):
    return {
        "server_url": url, "app_id": world.app_id, "private_key": world.private_key,
        "platform_public_key": world.platform_public_key, "calls": calls, **overrides,
    }


def test_oauth_token_then_user_info(sdk, database, settings, world, gateway_url):
    code = gateway_world.auth_code(database, settings, world, scopes="phone")
    token_call = {"method": "alipay.system.oauth.token",
                  "params": {"grant_type": "authorization_code", "code": code}}
    [token] = run_sdk(sdk, _job(world, gateway_url, [token_call]))
    assert token["ok"], token
    answer = token["response"]
    assert answer["code"] == "10000", answer
    assert answer["access_token"] and answer["refresh_token"]
    assert answer["expires_in"] == 86400 and answer["user_id"]

    [info, replay] = run_sdk(sdk, _job(world, gateway_url, [
        {"method": "alipay.user.info.share", "auth_token": answer["access_token"]},
        token_call,  # the code is spent
    ]))
    assert info["ok"], info
    assert info["response"]["code"] == "10000"
    assert info["response"]["mobile"] == gateway_world.PHONE
    assert "user_name" not in info["response"]  # the real name was not consented
    assert info["response"]["user_id"] == answer["user_id"]
    assert replay["ok"] and replay["response"]["sub_code"] == "isv.code-invalid"
    assert replay["response"]["code"] == "40002"


def test_refusals_reach_the_isv_as_documented(sdk, database, settings, world, gateway_url):
    stranger = signing.private_key_pkcs1(signing.new_private_key())
    call = {"method": "alipay.user.info.share", "auth_token": "nonsense"}
    [wrong_key] = run_sdk(sdk, _job(world, gateway_url, [call], private_key=stranger))
    assert wrong_key["ok"], wrong_key  # a signed refusal: the SDK verifies it, the ISV reads it
    refusal = wrong_key["response"]
    assert refusal["code"] == "40002" and refusal["sub_code"] == "isv.invalid-signature"
    assert "app_id=" + world.app_id in refusal["sub_msg"]  # the gateway's string-to-sign
    [bad_token] = run_sdk(sdk, _job(world, gateway_url, [call]))
    assert bad_token["response"]["code"] == "20001"
    assert bad_token["response"]["sub_code"] == "aop.invalid-auth-token"
    [outside] = run_sdk(sdk, _job(world, gateway_url, [
        {"method": "alipay.open.app.mini.templatemessage.send", "biz": {"to_user_id": "x"}},
    ]))
    assert outside["ok"], outside
    assert outside["response"]["code"] == "40006"
    assert outside["response"]["sub_code"] == "isv.insufficient-isv-permissions"


def test_stale_timestamp_and_braces_in_signed_text(sdk, world, gateway_url):
    # An ISV server whose clock is set to UTC stamps calls eight hours off Beijing time.
    call = {"method": "alipay.user.info.share", "auth_token": "x"}
    job = _job(world, gateway_url, [call])
    [stale] = run_sdk(sdk, job, tz="UTC")
    assert stale["ok"], stale
    assert stale["response"]["sub_code"] == "isv.invalid-timestamp"
    # A refusal quoting a biz_content full of braces and quotes still verifies in the SDK.
    stranger = signing.private_key_pkcs1(signing.new_private_key())
    tricky = {"method": "townsquare.data.service.score.query",
              "biz": {"note": '}},"sign":"forged', "nested": {"a": "{"}}}
    [refused] = run_sdk(sdk, _job(world, gateway_url, [tricky], private_key=stranger))
    assert refused["ok"], refused
    assert refused["response"]["sub_code"] == "isv.invalid-signature"
    quoted = refused["response"]["sub_msg"]  # biz_content as this SDK wrote it, key order too
    assert '"nested":{"a":"{"}' in quoted and 'forged"' in quoted


def test_message_points_and_score_methods(sdk, database, settings, make_user):
    world = gateway_world.build(database, settings, make_user,
                                packages=("identity", "messaging", "marketing"))
    gateway_world.subscribe(database, world)
    code = gateway_world.auth_code(database, settings, world, scopes="phone")
    url_iter = serve_on_port_80(database, settings)
    url = next(url_iter)
    try:
        [token] = run_sdk(sdk, _job(world, url, [{"method": "alipay.system.oauth.token",
                          "params": {"grant_type": "authorization_code", "code": code}}]))
        user_id = token["response"]["user_id"]
        send = {"method": "alipay.open.app.mini.templatemessage.send", "biz": {
            "to_user_id": user_id, "user_template_id": "order_ready", "page": "/inbox",
            "data": {"order": {"value": "{A-17}"}, "amount": {"value": "12.50"}}}}
        sent, again, points, score = run_sdk(sdk, _job(world, url, [
            send, send,
            {"method": "townsquare.marketing.points.query", "biz": {"limit": 5}},
            {"method": "townsquare.data.service.score.query"},
        ]))
    finally:
        url_iter.close()
    assert sent["ok"] and sent["response"]["code"] == "10000", sent
    assert sent["response"]["msg_id"].startswith("msg_")
    assert again["response"]["sub_code"] == "USER_NOT_SUBSCRIBED"  # one consent, one message
    assert points["ok"] and points["response"]["balance"] == 0, points
    assert points["response"]["entries"] == []
    assert score["ok"] and score["response"]["sub_code"] == "isv.insufficient-isv-permissions"
    assert score["response"]["code"] == "40006"
    with database.unit_of_work() as db:
        [inbox] = messaging.inbox(db, actor=db.get(User, world.resident.id))
        assert inbox.body == "您的订单 {A-17} 已备好，金额 12.50 元"
