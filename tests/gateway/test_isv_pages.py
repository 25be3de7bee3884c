"""The ISV authorization as people meet it: the provider's staff enable the open platform for
their provider, register a redirect address and get the authorization link; the merchant's
owner opens it (after logging in), sees who asks for what, confirms, and lands on the ISV's
address with an app_auth_code; the merchant's console lists the app and revoking the provider
ends the token. Links naming another address are refused."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlencode, urlsplit

from sqlalchemy import select

from tests.gateway import gateway_world, isv_world
from tests.gateway.test_gateway_http import answer, signed
from tests.miniapps.shell_data import browser_login
from townsquare.accounts.models import Role, User
from townsquare.merchants import providers
from townsquare.miniapps.models import MiniApp

CALLBACK = "https://isv.example.com/cb?shop=1"


def test_provider_app_link_confirm_then_revoke(client, database, settings, make_user):
    base = gateway_world.build(database, settings, make_user, packages=("marketing",))
    staff = make_user(Role.ISV_STAFF)
    with database.unit_of_work() as db:
        provider = providers.create_provider(db, actor=db.get(User, base.operator.id),
                                             name="云帆科技", staff_username=staff.username)
        isv_id = provider.public_id

    csrf = browser_login(client, staff)
    page = f"/console/isv/{isv_id}/gateway"
    assert f'href="{page}"' in client.get("/console/isv").text
    assert "开通开放平台" in client.get(page).text
    client.post(page, data={"csrf_token": csrf})
    enabled = client.get(page).text
    app_id = re.search(r'id="app-id">(\d{16})<', enabled).group(1)
    assert "设置授权回调地址后即可获得授权链接" in enabled
    bad = client.post(page + "/redirect", data={"csrf_token": csrf,
                                                "redirect_uri": "http://isv.example.com/cb"})
    assert bad.status_code == 422 and "https://" in bad.text
    saved = client.post(page + "/redirect", data={"csrf_token": csrf, "redirect_uri": CALLBACK},
                        follow_redirects=True)
    assert "授权回调地址已保存" in saved.text
    link = unescape(re.search(r'id="authorize-link">([^<]+)<', saved.text).group(1))
    assert link.startswith("http://testserver/oauth2/appToAppAuth.htm?app_id=" + app_id)
    assert '<svg class="qr"' in saved.text
    applied = client.post(page + "/packages", data={"csrf_token": csrf, "package": "marketing"},
                          follow_redirects=True)
    assert "待平台审核" in applied.text
    client.cookies.clear()
    operator_csrf = browser_login(client, base.operator)
    queue = client.get("/console/operator/gateway").text
    assert app_id in queue and "云帆科技" in queue and "服务商的第三方应用" in queue
    client.post(f"/console/operator/gateway/{app_id}/marketing",
                data={"csrf_token": operator_csrf, "decision": "grant"})

    client.cookies.clear()
    path = link.removeprefix("http://testserver") + "&state=abc"
    assert client.get(path, follow_redirects=False).headers["location"].startswith("/login?")
    owner_csrf = browser_login(client, base.owner)
    ask = client.get(path).text
    assert "云帆科技" in ask and app_id in ask and "营销：积分" in ask
    assert "https://isv.example.com/cb?shop=1" in unescape(ask)
    evil = "/oauth2/appToAppAuth.htm?" + urlencode(
        {"app_id": app_id, "redirect_uri": "https://evil.example.com/steal"})
    refused = client.get(evil)
    assert refused.status_code == 422 and "不一致" in refused.text
    forged = client.post("/oauth2/appToAppAuth.htm", data={
        "csrf_token": owner_csrf, "app_id": app_id, "merchant": base_merchant(database, base),
        "redirect_uri": "https://evil.example.com/steal"}, follow_redirects=False)
    assert forged.status_code == 422

    confirmed = client.post("/oauth2/appToAppAuth.htm", data={
        "csrf_token": owner_csrf, "app_id": app_id, "redirect_uri": CALLBACK, "state": "abc",
        "merchant": base_merchant(database, base)}, follow_redirects=False)
    assert confirmed.status_code == 303
    target = urlsplit(confirmed.headers["location"])
    assert (target.scheme, target.netloc, target.path) == ("https", "isv.example.com", "/cb")
    query = parse_qs(target.query)
    assert query["app_id"] == [app_id] and query["state"] == ["abc"] and query["shop"] == ["1"]
    assert len(query["app_auth_code"][0]) >= 32

    # the merchant's console: the provider is authorized, and its app listed once exchanged
    merchant_id = base_merchant(database, base)
    merchant_page = client.get(f"/console/merchant/{merchant_id}").text
    assert "云帆科技" in merchant_page
    assert f'href="/console/merchant/{merchant_id}/apps"' in merchant_page
    listed = client.get(f"/console/merchant/{merchant_id}/apps").text
    assert f'data-app="{app_id}"' in listed and "营销：积分" in listed


def test_only_the_merchants_staff_confirm(client, database, settings, make_user):
    world = isv_world.build(database, settings, make_user)
    stranger = make_user(Role.MERCHANT_STAFF)
    csrf = browser_login(client, stranger)
    page = client.get(f"/oauth2/appToAppAuth.htm?app_id={world.app_id}").text
    assert "只有商家自己的员工可以授权第三方应用" in page
    refused = client.post("/oauth2/appToAppAuth.htm", data={
        "csrf_token": csrf, "app_id": world.app_id, "merchant": world.merchant_id},
        follow_redirects=False)
    assert refused.status_code in (403, 404) and "location" not in refused.headers
    assert client.get(f"/console/merchant/{world.merchant_id}/apps").status_code in (403, 404)
    assert client.get(f"/console/isv/{world.provider_id}/gateway").status_code in (403, 404)


def test_merchant_apps_page_lists_and_revokes(client, database, settings, make_user):
    world = isv_world.build(database, settings, make_user)
    code = isv_world.authorize_code(database, world)
    params = signed(world, "alipay.open.auth.token.app",
                    biz_content=f'{{"grant_type":"authorization_code","code":"{code}"}}')
    token = answer(client.post("/gateway.do", data=params),
                   "alipay_open_auth_token_app_response")["app_auth_token"]
    csrf = browser_login(client, world.owner)
    listed = client.get(f"/console/merchant/{world.merchant_id}/apps").text
    assert f'data-app="{world.app_id}"' in listed and "云帆科技" in listed
    action = re.search(r'action="(/console/merchant/[^"]+/revoke)"', listed).group(1)
    assert client.post(action, data={"csrf_token": csrf}, follow_redirects=False
                       ).status_code == 303
    assert "目前没有第三方应用代本商家调用" in client.get(
        f"/console/merchant/{world.merchant_id}/apps").text
    refused = answer(client.post("/gateway.do", data=signed(
        world, "townsquare.marketing.points.query", app_auth_token=token)),
        "townsquare_marketing_points_query_response")
    assert refused["code"] == "20001"


def base_merchant(database, base) -> str:
    with database.unit_of_work() as db:
        return db.scalar(select(MiniApp).where(MiniApp.public_id == base.miniapp_id)
                         ).merchant.public_id
