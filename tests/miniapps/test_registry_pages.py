"""Merchant console pages of the registry: the list with its two create forms, a mini-app's page
with its versions and actions, errors shown in place with nothing kept, and the one-time secret."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.miniapps.registry_world import browser_login, build_world, external_app
from townsquare.core.security import token_digest
from townsquare.miniapps import registry
from townsquare.miniapps.models import MiniApp, MiniAppVersion, VersionState


@pytest.fixture
def world(database, make_user):
    return build_world(database, make_user)


def _count(database, model) -> int:
    with database.unit_of_work() as db:
        return db.scalar(select(func.count()).select_from(model))


def _new_from_template(client, world, csrf, **fields):
    data = {
        "csrf_token": csrf, "template_id": world.template, "name": "城东鲜果", "icon": "🍎",
        "cities": "武汉", "tags": "水果，配送", "cfg_welcome": "欢迎光临",
        "cfg_opening_hours": "08:00-20:00", "cfg_delivery": "true", "cfg_min_order_fen": "15.00",
        "submit_now": "on", "publish_on_approval": "on", **fields,
    }
    return client.post(f"/console/merchant/{world.merchant}/miniapps/from-template", data=data,
                       follow_redirects=False)


def test_list_page_offers_templates_and_prefills_defaults(client, world):
    browser_login(client, world.owner)
    page = client.get(f"/console/merchant/{world.merchant}/miniapps")
    assert page.status_code == 200
    assert "社区小店模板" in page.text and 'id="external-form"' in page.text
    assert 'id="template-form"' not in page.text  # until a template is chosen
    chosen = client.get(f"/console/merchant/{world.merchant}/miniapps?template={world.template}")
    assert 'id="template-form"' in chosen.text
    assert 'name="cfg_welcome" value="欢迎光临"' in chosen.text  # the template's default
    assert re.search(r'name="cfg_delivery" value="true"\s+checked', chosen.text)
    assert re.search(r'name="cfg_store_pickup" value="true"\s+>', chosen.text)
    assert "营业时间" in chosen.text  # the runtime's labels are translated (zh_CN default)


def test_create_from_template_needs_no_secret_and_submits(client, world, database):
    """A template mini-app runs on the platform with no backend: no one-time secret page, straight
    to its page; the minimum order typed in yuan is stored as exact integer fen."""
    csrf = browser_login(client, world.owner)
    response = _new_from_template(client, world, csrf, cfg_min_order_fen="15.10")
    assert response.status_code == 303, response.text
    with database.unit_of_work() as db:
        miniapp = db.scalar(select(MiniApp))
        version = db.scalar(select(MiniAppVersion))
        assert miniapp.tags == ["水果", "配送"]
        assert version.state == VersionState.SUBMITTED and version.publish_on_approval
        assert version.config["min_order_fen"] == 1510 and version.config["delivery"] is True
        assert "store_pickup" in version.config and version.config["store_pickup"] is False
        ma_id = miniapp.public_id
    assert response.headers["location"] == f"/console/miniapps/{ma_id}?ok=created"
    detail = client.get(response.headers["location"])
    assert 'id="client-secret"' not in detail.text and 'id="secret"' not in detail.text
    assert 'class="flash ok">创建小程序<' in detail.text
    assert 'data-state="submitted"' in detail.text
    listing = client.get(f"/console/merchant/{world.merchant}/miniapps")
    assert f'href="/console/miniapps/{ma_id}"' in listing.text


def test_external_miniapp_shows_its_secret_once(client, world, database):
    csrf = browser_login(client, world.owner)
    created = client.post(
        f"/console/merchant/{world.merchant}/miniapps/external",
        data={"csrf_token": csrf, "name": "外部小店", "external_url": "https://a.example/app",
              "cities": "武汉"},
    )
    assert created.status_code == 200
    secret = re.search(r'id="client-secret">([^<]+)<', created.text).group(1)
    with database.unit_of_work() as db:
        miniapp = db.scalar(select(MiniApp))
        assert miniapp.client_secret_digest == token_digest(secret)
        ma_id = miniapp.public_id
    detail = client.get(f"/console/miniapps/{ma_id}")
    assert secret not in detail.text and 'id="secret"' in detail.text


@pytest.mark.parametrize("amount", ["1.505", "-1", "abc", "1e3", "10000.01"])
def test_money_in_yuan_refused_beside_its_field(client, world, database, amount):
    csrf = browser_login(client, world.owner)
    response = _new_from_template(client, world, csrf, cfg_min_order_fen=amount)
    assert response.status_code == 422, response.text
    assert "field-error" in response.text and "起送金额" in response.text
    assert f'value="{amount}"' in response.text  # the typed value is kept for correction
    assert _count(database, MiniApp) == 0


def test_money_fields_are_shown_in_yuan(client, world, database):
    csrf = browser_login(client, world.owner)
    created = _new_from_template(client, world, csrf, submit_now="", cfg_min_order_fen="15")
    assert created.status_code == 303
    page = client.get(created.headers["location"])  # the draft's edit form
    assert 'name="cfg_min_order_fen" value="15.00"' in page.text
    assert "起送金额（元）" in page.text and "（分）" not in page.text


def test_a_refused_form_keeps_nothing_and_says_why_in_place(client, world, database):
    csrf = browser_login(client, world.owner)
    response = _new_from_template(client, world, csrf, cfg_opening_hours="", cfg_min_order_fen="-3",
                                  name="保留的名字")
    assert response.status_code == 422
    assert _count(database, MiniApp) == 0
    assert 'class="flash error"' in response.text
    assert response.text.count('class="field-error"') == 2
    assert 'value="保留的名字"' in response.text  # what was typed is shown again
    external = client.post(
        f"/console/merchant/{world.merchant}/miniapps/external",
        data={"csrf_token": csrf, "name": "外部", "external_url": "http://shop.example.com",
              "cities": "武汉"},
    )
    assert external.status_code == 422
    assert re.search(r'id="external-form".*field-error', external.text, re.S)
    assert _count(database, MiniApp) == 0


def test_forms_need_the_csrf_token(client, world, database):
    browser_login(client, world.owner)
    response = _new_from_template(client, world, "forged")
    assert response.status_code == 403
    assert _count(database, MiniApp) == 0


def test_outsiders_get_not_found_pages(client, world, database):
    with database.unit_of_work() as db:
        created = registry.create_miniapp(
            db, actor=world.owner, merchant_id=world.merchant, **external_app(name="秘密小店")
        )
        ma_id, ver_id = created.miniapp.public_id, created.version.public_id
    for outsider in world.outsiders.values():
        csrf = browser_login(client, outsider)
        page = client.get(f"/console/merchant/{world.merchant}/miniapps")
        assert page.status_code == 404 and "社区小店模板" not in page.text
        detail = client.get(f"/console/miniapps/{ma_id}")
        assert detail.status_code == 404 and "秘密小店" not in detail.text
        for action in ("submit", "edit", "publish", "delete"):
            posted = client.post(f"/console/versions/{ver_id}/{action}", data={"csrf_token": csrf})
            assert posted.status_code == 404, action
        assert client.post(f"/console/miniapps/{ma_id}/secret",
                           data={"csrf_token": csrf}).status_code == 404
    with database.unit_of_work() as db:
        assert db.scalar(select(MiniAppVersion.state)) == VersionState.DRAFT
    client.cookies.clear()
    anonymous = client.get(f"/console/merchant/{world.merchant}/miniapps", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


def test_miniapp_page_edit_submit_new_version_and_rotate(client, world, database):
    csrf = browser_login(client, world.isv_user)
    created = client.post(
        f"/console/merchant/{world.merchant}/miniapps/external",
        data={"csrf_token": csrf, "name": "外部小店", "external_url": "https://a.example/app",
              "cities": "武汉, 黄石", "category": "medicine"},
    )
    assert created.status_code == 200
    with database.unit_of_work() as db:
        miniapp = db.scalar(select(MiniApp))
        ma_id, ver_id = miniapp.public_id, db.scalar(select(MiniAppVersion.public_id))
        assert miniapp.builder is not None and miniapp.cities == ["武汉", "黄石"]
    page = client.get(f"/console/miniapps/{ma_id}")
    assert 'id="edit-form"' in page.text and 'data-lane="expedited"' in page.text
    bad_edit = client.post(f"/console/versions/{ver_id}/edit", data={
        "csrf_token": csrf, "label": "one", "name": "改名", "cities": "武汉",
        "external_url": "https://a.example/app"})
    assert bad_edit.status_code == 422 and "field-error" in bad_edit.text
    edited = client.post(f"/console/versions/{ver_id}/edit", data={
        "csrf_token": csrf, "label": "1.0.1", "name": "改名", "cities": "武汉",
        "external_url": "https://a.example/v2", "changelog": "", "icon": "", "description": "",
        "tags": ""}, follow_redirects=False)
    assert edited.status_code == 303
    submitted = client.post(f"/console/versions/{ver_id}/submit",
                            data={"csrf_token": csrf}, follow_redirects=False)
    assert submitted.status_code == 303
    with database.unit_of_work() as db:
        version = db.scalar(select(MiniAppVersion))
        assert (version.name, version.label) == ("改名", "1.0.1")
        assert version.state == VersionState.SUBMITTED
        assert version.publish_on_approval is False  # the box was not ticked
    page = client.get(f"/console/miniapps/{ma_id}")
    assert 'id="new-version-form"' not in page.text  # one open version at a time
    again = client.post(f"/console/versions/{ver_id}/submit", data={"csrf_token": csrf})
    assert again.status_code == 409 and "flash error" in again.text
    rotated = client.post(f"/console/miniapps/{ma_id}/secret", data={"csrf_token": csrf})
    secret = re.search(r'id="client-secret">([^<]+)<', rotated.text).group(1)
    with database.unit_of_work() as db:
        assert db.scalar(select(MiniApp.client_secret_digest)) == token_digest(secret)
    # operators see the page but get no owner actions
    browser_login(client, world.operator)
    page = client.get(f"/console/miniapps/{ma_id}")
    assert page.status_code == 200 and 'id="secret"' not in page.text


def test_new_version_from_a_rejected_one(client, world, database):
    csrf = browser_login(client, world.owner)
    client.post(f"/console/merchant/{world.merchant}/miniapps/external", data={
        "csrf_token": csrf, "name": "外部", "external_url": "https://a.example", "cities": "武汉"})
    with database.unit_of_work() as db:
        version = db.scalar(select(MiniAppVersion))
        version.state, version.reason = VersionState.REJECTED, "资料不全"
        ma_id, ver_id = version.miniapp.public_id, version.public_id
    page = client.get(f"/console/miniapps/{ma_id}")
    assert "资料不全" in page.text and 'id="new-version-form"' in page.text
    dup = client.post(f"/console/miniapps/{ma_id}/versions",
                      data={"csrf_token": csrf, "label": "1.0.0", "from_version": ver_id})
    assert dup.status_code == 409 and _count(database, MiniAppVersion) == 1
    made = client.post(f"/console/miniapps/{ma_id}/versions", follow_redirects=False,
                       data={"csrf_token": csrf, "label": "1.0.1", "from_version": ver_id})
    assert made.status_code == 303 and _count(database, MiniAppVersion) == 2
