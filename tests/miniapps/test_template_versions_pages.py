"""The pages of template versions: the ISV edits and withdraws on its templates page, the
merchant sees the template's state on its mini-app's page and upgrades there, and both read
what happened in the inbox (the unread badge in the top bar and on the phone's 消息 tab)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.miniapps.registry_world import STOREFRONT_DEFAULTS, browser_login, build_world
from townsquare.miniapps import review, templates_service
from townsquare.miniapps.models import MiniAppVersion, Template, TemplateStatus, VersionState
from townsquare.miniapps.runtimes import defaults_from_fields


@pytest.fixture
def world(database, make_user):
    return build_world(database, make_user)


def _live(database, world, settings) -> str:
    with database.unit_of_work() as db:
        created = templates_service.create_from_template(
            db, actor=world.owner, settings=settings, template_id=world.template,
            merchant_id=world.merchant, name="城东鲜果", cities=["武汉"], submit=True)
        version_id, miniapp_id = created.version.public_id, created.miniapp.public_id
    with database.unit_of_work() as db:
        review.approve(db, actor=world.operator, version_id=version_id)
    return miniapp_id


def _form(csrf, **change):
    return {"csrf_token": csrf, "name": "社区小店模板", "description": "几分钟上线的小店",
            "category": "grocery", "cfg_welcome": "欢迎光临（新版）",
            "cfg_opening_hours": STOREFRONT_DEFAULTS["opening_hours"], "cfg_store_pickup": "on",
            "note": "新的欢迎语"} | change


def test_the_isv_edits_and_withdraws_on_its_templates_page(client, database, world, settings):
    live = _live(database, world, settings)
    csrf = browser_login(client, world.isv_user)
    page = client.get(f"/console/isv/{world.isv}/templates")
    assert f'data-edit="{world.template}"' in page.text and "已创建的小程序" in page.text
    form = client.get(f"/console/isv/{world.isv}/templates?edit={world.template}")
    assert 'id="edit-form"' in form.text and "保存为第 1 版" in form.text
    bad = client.post(f"/console/templates/{world.template}/edit",
                      data=_form(csrf, cfg_welcome=""))
    assert bad.status_code == 422 and "field-error" in bad.text  # beside the field
    saved = client.post(f"/console/templates/{world.template}/edit", data=_form(csrf),
                        follow_redirects=False)
    assert saved.status_code == 303
    after = client.get(saved.headers["location"])
    assert "模板已保存" in after.text
    with database.unit_of_work() as db:
        template = db.scalar(select(Template).where(Template.public_id == world.template))
        assert template.version == 2
        assert defaults_from_fields(template.fields)["welcome"] == "欢迎光临（新版）"
        assert defaults_from_fields(template.fields)["store_pickup"] is True
    # the merchant's page offers the upgrade, with the note, and upgrading makes a draft
    owner_csrf = browser_login(client, world.owner)
    mine = client.get(f"/console/miniapps/{live}")
    assert 'id="template-upgrade"' in mine.text and "新的欢迎语" in mine.text
    assert "已发布的版本基于模板第 1 版" in mine.text
    up = client.post(f"/console/miniapps/{live}/template-upgrade",
                     data={"csrf_token": owner_csrf, "label": "1.1.0"}, follow_redirects=False)
    assert up.status_code == 303
    with database.unit_of_work() as db:
        draft = db.scalar(select(MiniAppVersion).where(MiniAppVersion.label == "1.1.0"))
        assert (draft.state, draft.template_version) == (VersionState.DRAFT, 2)
    # the ISV withdraws it
    csrf = browser_login(client, world.isv_user)
    gone = client.post(f"/console/templates/{world.template}/withdraw",
                       data={"csrf_token": csrf, "reason": "不再维护"}, follow_redirects=False)
    assert gone.status_code == 303
    listing = client.get(f"/console/isv/{world.isv}/templates")
    assert 'data-status="withdrawn"' in listing.text and "已下线" in listing.text
    assert f'data-edit="{world.template}"' not in listing.text
    with database.unit_of_work() as db:
        assert db.scalar(select(Template.status).where(
            Template.public_id == world.template)) == TemplateStatus.WITHDRAWN
    # the merchant's page says so; the gallery no longer offers it
    browser_login(client, world.owner)
    mine = client.get(f"/console/miniapps/{live}")
    assert 'id="template-withdrawn"' in mine.text and "照常运行" in mine.text
    assert "不再维护" in mine.text
    gallery = client.get(f"/console/merchant/{world.merchant}/miniapps")
    assert world.template not in gallery.text


def test_outsiders_cannot_edit_or_withdraw(client, database, world):
    for outsider in (world.owner, world.stranger_isv_user):
        csrf = browser_login(client, outsider)
        edit = client.post(f"/console/templates/{world.template}/edit", data=_form(csrf))
        gone = client.post(f"/console/templates/{world.template}/withdraw",
                           data={"csrf_token": csrf})
        assert edit.status_code in (403, 404) and gone.status_code in (403, 404)
    with database.unit_of_work() as db:
        template = db.scalar(select(Template).where(Template.public_id == world.template))
        assert (template.status, template.version) == (TemplateStatus.PUBLISHED, 0)


def test_the_inbox_shows_notifications_with_badges_and_marks_them_read(client, database, world,
                                                                      settings):
    live = _live(database, world, settings)
    csrf = browser_login(client, world.owner)
    assert client.get("/inbox/unread").text.count(">1<") == 1
    tab = client.get("/inbox/unread?where=tab")
    assert 'id="inbox-unread-tab"' in tab.text and ">1<" in tab.text
    home = client.get("/inbox")
    assert "工作通知" in home.text and "城东鲜果 1.0.0 已通过审核并上线" in home.text
    assert 'hx-get="/inbox/unread?where=tab"' in home.text  # the phone's 消息 tab has its badge
    english = client.get("/inbox?lang=en")
    assert "城东鲜果 1.0.0 is approved and live" in english.text
    client.get("/inbox?lang=zh-CN")
    notice = home.text.split('data-notification="')[1].split('"')[0]
    opened = client.post(f"/inbox/notifications/{notice}/open", data={"csrf_token": csrf},
                         follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == f"/console/miniapps/{live}"
    assert client.get("/inbox/unread").text == ""
    # another merchant's staff: nothing, and opening someone else's is not found
    other_csrf = browser_login(client, world.other_owner)
    assert "工作通知" not in client.get("/inbox").text
    refused = client.post(f"/inbox/notifications/{notice}/open",
                          data={"csrf_token": other_csrf})
    assert refused.status_code == 404
