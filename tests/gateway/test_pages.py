"""The open-platform console as its users meet it: the merchant enables the gateway, makes a key
pair (the private key shown once), applies for a package; an operator grants it; the merchant's
backend then calls with that key, and the call shows in the log."""

from __future__ import annotations

import re
from html import unescape

from sqlalchemy import select

from tests.gateway.gateway_world import World
from tests.gateway.test_gateway_http import answer, signed
from tests.miniapps.shell_data import browser_login, make_miniapp
from townsquare.accounts.models import Role
from townsquare.gateway.protocol import signing
from townsquare.merchants.models import Merchant, MerchantStaff

PAGE = "/console/miniapps/{}/gateway"


def _staff_of(database, made, make_user):
    owner = make_user(Role.MERCHANT_STAFF, display_name="店长")
    with database.unit_of_work() as db:
        merchant = db.scalar(select(Merchant).where(Merchant.public_id == made.merchant_id))
        db.add(MerchantStaff(merchant_id=merchant.id, user_id=owner.id))
    return owner


def test_enable_key_apply_grant_then_call(client, database, make_user):
    made = make_miniapp(database, name="鲜果时光")
    owner = _staff_of(database, made, make_user)
    operator = make_user(Role.OPERATOR)
    csrf = browser_login(client, owner)
    page = PAGE.format(made.id)
    assert "开通开放平台" in client.get(page).text
    assert client.post(page, data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    enabled = client.get(page + "?ok=created").text
    app_id = re.search(r'id="app-id">(\d{16})<', enabled).group(1)
    assert "已为该小程序开通开放平台" in enabled and "尚未设置公钥" in enabled

    bad = client.post(page + "/keys", data={"csrf_token": csrf, "public_key": "nonsense"})
    assert bad.status_code == 422 and "这不是 RSA 公钥" in bad.text
    made_key = client.post(page + "/keys/generate", data={"csrf_token": csrf})
    assert made_key.headers["cache-control"] == "no-store"
    private = unescape(re.search(r'id="private-key"[^>]*>([^<]+)<', made_key.text).group(1))
    assert signing.load_private_key(private).key_size == 2048
    shown = client.get(page).text
    assert private not in shown  # shown once, never again
    platform_key = unescape(re.search(r'id="platform-key"[^>]*>([^<]+)<', shown).group(1))

    applied = client.post(page + "/packages", data={"csrf_token": csrf, "package": "identity"},
                          follow_redirects=True)
    assert "待平台审核" in applied.text
    client.cookies.clear()
    operator_csrf = browser_login(client, operator)
    queue = client.get("/console/operator/gateway").text
    assert app_id in queue and "鲜果时光" in queue
    client.post(f"/console/operator/gateway/{app_id}/identity",
                data={"csrf_token": operator_csrf, "decision": "grant"})
    assert app_id not in client.get("/console/operator/gateway").text

    world = World(app_id=app_id, miniapp_id=made.id, private_key=private,
                  platform_public_key=platform_key, resident=owner, owner=owner,
                  operator=operator)
    refused = answer(client.post("/gateway.do", data=signed(world, auth_token="x")))
    assert refused["sub_code"] == "aop.invalid-auth-token"  # signature and package passed
    client.cookies.clear()
    browser_login(client, owner)
    log = client.get(page + "?failed=true").text
    assert "alipay.user.info.share" in log and "aop.invalid-auth-token" in log


def test_outsiders_cannot_see_or_change_the_app(client, database, make_user):
    made = make_miniapp(database)
    _staff_of(database, made, make_user)
    stranger = make_user(Role.MERCHANT_STAFF)
    csrf = browser_login(client, stranger)
    page = PAGE.format(made.id)
    assert client.get(page).status_code == 404
    assert client.post(page, data={"csrf_token": csrf}).status_code == 404
    assert client.get("/console/operator/gateway").status_code == 403
