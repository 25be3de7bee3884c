"""`/gateway.do` over the app (TestClient), for what the SDKs never send: parameters split between
query and form, tampering, unknown apps, keys being rotated, and the call log."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.gateway import gateway_world
from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.gateway import keys
from townsquare.gateway.models import CallRecord, GatewayApp
from townsquare.gateway.protocol import signing


@pytest.fixture
def world(database, settings, make_user):
    return gateway_world.build(database, settings, make_user)


def signed(world, method="alipay.user.info.share", key=None, **extra) -> dict[str, str]:
    stamp = clock.now().astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S")
    params = {"app_id": world.app_id, "method": method, "charset": "utf-8", "format": "JSON",
              "sign_type": "RSA2", "timestamp": stamp, "version": "1.0", **extra}
    private = signing.load_private_key(key or world.private_key)
    params["sign"] = signing.sign(private, signing.string_to_sign(params))
    return params


def answer(response, key="alipay_user_info_share_response"):
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert list(body) == [key, "sign"]
    return body[key]


def test_common_in_query_business_in_form(client, world, database, settings):
    code = gateway_world.auth_code(database, settings, world, scopes="phone")
    params = signed(world, "alipay.system.oauth.token", grant_type="authorization_code",
                    code=code)
    form = {k: params.pop(k) for k in ("grant_type", "code")}
    response = client.post("/gateway.do?" + urlencode(params), data=form)
    assert answer(response, "alipay_system_oauth_token_response")["code"] == "10000"


def test_get_works_and_tampered_biz_content_is_refused(client, world):
    params = signed(world, "townsquare.data.service.score.query", biz_content='{"a":1}')
    assert answer(client.get("/gateway.do", params=params),
                  "townsquare_data_service_score_query_response")["code"] == "40006"
    params["biz_content"] = '{"a":2}'
    refused = answer(client.get("/gateway.do", params=params),
                     "townsquare_data_service_score_query_response")
    assert refused["sub_code"] == "isv.invalid-signature"
    assert 'biz_content={"a":2}' in refused["sub_msg"]


def test_unknown_app_conflicting_duplicates_and_unreadable_bodies(client, world):
    stranger = signed(world, app_id="2026999999999999")
    assert answer(client.post("/gateway.do", data=stranger))["sub_code"] == "isv.invalid-app-id"
    params = signed(world)
    clash = client.post("/gateway.do?method=alipay.trade.query", data=params)
    assert clash.json()["error_response"]["sub_code"] == "isv.invalid-parameter"
    as_json = client.post("/gateway.do", content=json.dumps(params),
                          headers={"content-type": "application/json"})
    assert as_json.json()["error_response"]["code"] == "40002"
    assert "sign" in as_json.json()  # refusals are signed too


def test_key_rotation_overlap_then_retirement(client, world, database):
    old_params = signed(world)
    with database.unit_of_work() as db:
        app = db.scalar(select(GatewayApp).where(GatewayApp.app_id == world.app_id))
        new_private = keys.generate_key_pair(db, actor=db.get(User, world.owner.id), app=app,
                                             overlap=timedelta(hours=1))
    # During the overlap both keys verify.
    assert answer(client.post("/gateway.do", data=old_params))["sub_code"] == (
        "aop.invalid-auth-token")
    rotated = answer(client.post("/gateway.do", data=signed(world, key=new_private)))
    assert rotated["code"] == "20001"
    clock.freeze(clock.now() + timedelta(hours=2))
    try:
        late = answer(client.post("/gateway.do", data=signed(world)))
        assert late["sub_code"] == "isv.invalid-signature"
        fresh = answer(client.post("/gateway.do", data=signed(world, key=new_private)))
        assert fresh["code"] == "20001"
    finally:
        clock.unfreeze()


def test_calls_are_logged_for_their_app(client, world, database):
    client.post("/gateway.do", data=signed(world))
    client.post("/gateway.do", data=signed(world, app_id="2026999999999999"))
    with database.unit_of_work() as db:
        rows = db.scalars(select(CallRecord)).all()
        assert [(r.method, r.code, r.sub_code) for r in rows] == [
            ("alipay.user.info.share", "20001", "aop.invalid-auth-token")
        ]
