"""The console's "debug a signature" tool: what the gateway makes of a pasted request, which of
the app's keys it tries, and which usual mistake a failing signature comes from."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import quote, urlencode

import pytest
from sqlalchemy import select

from tests.gateway import gateway_world
from tests.gateway.test_gateway_http import signed
from tests.miniapps.shell_data import browser_login
from townsquare.core.clock import clock
from townsquare.gateway import debugger
from townsquare.gateway.models import GatewayApp
from townsquare.gateway.protocol import signing

BIZ = '{"limit":5,"note":"苹果 & 梨"}'
METHOD = "townsquare.marketing.points.query"


@pytest.fixture
def world(database, settings, make_user):
    return gateway_world.build(database, settings, make_user, packages=("marketing",))


def _diagnose(database, world, **pasted) -> debugger.Diagnosis:
    with database.unit_of_work() as db:
        app = db.scalar(select(GatewayApp).where(GatewayApp.app_id == world.app_id))
        return debugger.diagnose(db, app=app, zone="Asia/Shanghai", now=clock.now(), **pasted)


def _split(params: dict[str, str]) -> tuple[str, str]:
    """As the official SDK sends a call: common parameters in the URL, biz_content in the body."""
    body = {"biz_content": params.pop("biz_content")}
    return "https://town.example.com/gateway.do?" + urlencode(params), urlencode(body)


def _resigned(world, params: dict[str, str], text: str, sign_type: str = "RSA2") -> None:
    params["sign"] = signing.sign(signing.load_private_key(world.private_key), text, sign_type)


def test_a_good_request_verifies_with_the_gateways_own_string(database, world):
    params = signed(world, METHOD, biz_content=BIZ)
    expected = signing.string_to_sign(params)
    url, body = _split(dict(params))
    found = _diagnose(database, world, url=url, body=body)
    assert found.verified is True and found.notes == [] and found.refusals == []
    assert found.string_to_sign == expected and '"note":"苹果 & 梨"' in found.string_to_sign
    assert dict(found.params)["biz_content"] == BIZ
    assert [t.verified for t in found.tried] == [True]


@pytest.mark.parametrize("mistake,note", [
    ("sign_type_left_out", "You left sign_type out"),
    ("url_encoded", "You signed the URL-encoded values"),
    ("empty_kept", "You kept empty parameters"),
    ("other_hash", "The string is right but the hash is not"),
    ("tampered", "The signature matches none of the app's keys"),
])
def test_a_failing_signature_says_which_mistake(database, world, mistake, note):
    params = signed(world, METHOD, biz_content=BIZ, return_url="")
    unsigned = {k: v for k, v in params.items() if k != "sign"}
    if mistake == "sign_type_left_out":
        _resigned(world, params, signing.string_to_sign(params, exclude=("sign", "sign_type")))
    elif mistake == "url_encoded":
        _resigned(world, params, "&".join(f"{k}={quote(v, safe='')}"
                                          for k, v in sorted(unsigned.items()) if v))
    elif mistake == "empty_kept":
        _resigned(world, params, "&".join(f"{k}={v}" for k, v in sorted(unsigned.items())))
    elif mistake == "other_hash":
        _resigned(world, params, signing.string_to_sign(params), sign_type="RSA")
    else:
        params["biz_content"] = BIZ.replace("5", "50")
    found = _diagnose(database, world, url="?" + urlencode(params))
    assert found.verified is False and [t.verified for t in found.tried] == [False]
    assert len(found.notes) == 1 and found.notes[0].startswith(note)


def test_signing_here_with_a_pasted_private_key(database, world):
    params = signed(world, METHOD, biz_content=BIZ)
    del params["sign"]
    mine = _diagnose(database, world, url=urlencode(params), private_key=world.private_key)
    assert mine.private_matches is True and mine.verified is True and mine.refusals == []
    assert mine.sign == mine.produced_sign
    stranger = signing.private_key_pkcs1(signing.new_private_key())
    other = _diagnose(database, world, url=urlencode(params), private_key=stranger)
    assert other.private_matches is False and other.verified is False
    assert other.notes[0].startswith("The private key you pasted is not the pair")
    junk = _diagnose(database, world, url=urlencode(params), private_key="not a key")
    assert junk.notes[0].startswith("The pasted private key cannot be read")


def test_what_else_the_gateway_would_refuse(database, world):
    params = signed(world, METHOD, biz_content=BIZ, timestamp="2020-01-01 00:00:00")
    params["app_id"] = "2026999999999999"
    found = _diagnose(database, world, url=urlencode(params))
    assert [r[1] for r in found.refusals] == ["isv.invalid-timestamp"]
    assert any(n.startswith("The request's app_id is not this app's") for n in found.notes)
    clash = _diagnose(database, world, url="?a=1", body="a=2")
    assert [r[1] for r in clash.refusals] == ["isv.invalid-parameter"]


def test_the_console_page(client, database, world, make_user):
    page = f"/console/miniapps/{world.miniapp_id}/gateway/debug"
    csrf = browser_login(client, world.owner)
    console = client.get(f"/console/miniapps/{world.miniapp_id}/gateway").text
    assert f'href="{page}"' in console and "签名调试" in console
    assert "签名调试" in client.get(page).text
    params = signed(world, METHOD, biz_content=BIZ)
    sign = params.pop("sign")
    url, body = _split(params)
    shown = client.post(page, data={"csrf_token": csrf, "url": url, "body": body,
                                    "sign": sign})
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    html = unescape(shown.text)
    assert "验签通过。" in html
    string = re.search(r'<pre class="wire" id="string-to-sign">(.*?)</pre>', html, re.S).group(1)
    assert string == signing.string_to_sign({**params, "biz_content": BIZ})
    key = signing.fingerprint(signing.load_private_key(world.private_key).public_key())
    assert f'data-fingerprint="{key}"' in html
    private = signing.private_key_pkcs1(signing.new_private_key())
    refused = unescape(client.post(page, data={"csrf_token": csrf, "url": url, "body": body,
                                               "private_key": private}).text)
    assert "验签失败。" in refused and "您粘贴的私钥与应用的任何公钥都不配对" in refused
    assert private not in refused  # a pasted private key is never echoed back
    client.cookies.clear()
    browser_login(client, make_user(display_name="路人"))
    assert client.get(page).status_code == 404


def test_an_isv_apps_console_has_the_debugger_too(client, database, settings, make_user, world):
    from tests.gateway import isv_world

    isv = isv_world.build(database, settings, make_user, base=world)
    page = f"/console/isv/{isv.provider_id}/gateway/debug"
    csrf = browser_login(client, isv.staff)
    assert f'href="{page}"' in client.get(f"/console/isv/{isv.provider_id}/gateway").text
    params = signed(isv, "alipay.open.auth.token.app.query", biz_content="{}")
    sign = params.pop("sign")
    shown = client.post(page, data={"csrf_token": csrf, "url": "?" + urlencode(params),
                                    "sign": sign})
    assert shown.status_code == 200 and "验签通过。" in unescape(shown.text)
    # the merchant's owner is not the provider's staff: no debugger of its app
    browser_login(client, world.owner)
    assert client.get(page).status_code in (403, 404)
