"""ISV templates after publishing: an edit is a new version (mini-apps made from the old one
keep it until their merchant upgrades, through review), a withdrawal takes the template out of
the gallery for good while its mini-apps keep running, and the merchants hear of both. Review
results reach the merchant's inbox too; template mini-apps have no client secret to rotate."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.miniapps.registry_world import STOREFRONT_DEFAULTS, browser_login, build_world
from townsquare.core.audit import AuditEntry
from townsquare.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from townsquare.core.i18n import current_locale
from townsquare.messaging import notifications
from townsquare.miniapps import registry, review, templates_service
from townsquare.miniapps.models import (
    MiniApp,
    Template,
    TemplateStatus,
    TemplateVersion,
    VersionState,
)
from townsquare.miniapps.shell.service import runtime_config


@pytest.fixture
def world(database, make_user):
    return build_world(database, make_user)


def _live_miniapp(database, world, settings, config=None, name="城东鲜果") -> str:
    """A merchant's mini-app from the published template, approved and live."""
    with database.unit_of_work() as db:
        created = templates_service.create_from_template(
            db, actor=world.owner, settings=settings, template_id=world.template,
            merchant_id=world.merchant, name=name, cities=["武汉"], config=config or {},
            submit=True)
        version_id, miniapp_id = created.version.public_id, created.miniapp.public_id
    with database.unit_of_work() as db:
        review.approve(db, actor=world.operator, version_id=version_id)
    return miniapp_id


def _edit(db, world, **change):
    args = {"name": "社区小店模板", "description": "几分钟上线的小店", "category": "grocery",
            "defaults": {**STOREFRONT_DEFAULTS, "welcome": "欢迎光临（新版）", "delivery": False},
            "note": "新的欢迎语；默认不送货"} | change
    return templates_service.edit_template(db, actor=world.isv_user, template_id=world.template,
                                           **args)


def _config_seen_by_residents(database, miniapp_id):
    with database.unit_of_work() as db:
        miniapp = db.scalar(select(MiniApp).where(MiniApp.public_id == miniapp_id))
        return runtime_config(db, miniapp=miniapp)[1]


def test_an_edit_is_a_new_version_and_live_mini_apps_keep_theirs(database, world, settings):
    ours = _live_miniapp(database, world, settings, config={"welcome": "我们自己的欢迎语"})
    plain = _live_miniapp(database, world, settings, name="城东鲜果二店")
    before = _config_seen_by_residents(database, plain)
    with database.unit_of_work() as db:
        template = _edit(db, world)
        # published before versions were kept: its old state is version 1, the edit version 2
        assert template.version == 2
        versions = templates_service.template_versions(db, actor=world.owner,
                                                       template_id=world.template)
        assert [v.number for v in versions] == [2, 1]
        assert versions[0].note == "新的欢迎语；默认不送货"
    # nothing a resident sees changed: that needs a reviewed version
    assert _config_seen_by_residents(database, plain) == before
    assert before["welcome"] == "欢迎光临" and before["delivery"] is True
    with database.unit_of_work() as db:
        new = templates_service.create_from_template(
            db, actor=world.owner, settings=settings, template_id=world.template,
            merchant_id=world.merchant, name="新店", cities=["武汉"])
        assert new.version.template_version == 2
        assert new.version.config["welcome"] == "欢迎光临（新版）"
        miniapp = db.scalar(select(MiniApp).where(MiniApp.public_id == plain))
        assert templates_service.upgrade_available(db, miniapp=miniapp) == 2
    # the merchant upgrades: values left at the old defaults follow, its own stay
    with database.unit_of_work() as db:
        mine = templates_service.upgrade_miniapp(db, actor=world.owner, miniapp_id=ours,
                                                 label="1.1.0")
        assert mine.template_version == 2 and mine.state == VersionState.DRAFT
        assert mine.config["welcome"] == "我们自己的欢迎语"
        assert mine.config.get("delivery") is False
        draft = templates_service.upgrade_miniapp(db, actor=world.owner, miniapp_id=plain,
                                                  label="1.1.0")
        assert draft.config["welcome"] == "欢迎光临（新版）"
        with pytest.raises(Conflict):  # already on the newest (the draft is)
            templates_service.upgrade_miniapp(db, actor=world.owner, miniapp_id=plain,
                                              label="1.2.0")
        draft_id = draft.public_id
    assert _config_seen_by_residents(database, plain) == before  # a draft changes nothing yet
    with database.unit_of_work() as db:
        review.submit(db, actor=world.owner, settings=settings, version_id=draft_id,
                      publish_on_approval=True)
    with database.unit_of_work() as db:
        review.approve(db, actor=world.operator, version_id=draft_id)
    assert _config_seen_by_residents(database, plain)["welcome"] == "欢迎光临（新版）"
    with database.unit_of_work() as db:
        actions = list(db.scalars(select(AuditEntry.action).where(
            AuditEntry.action.in_(["template.edited", "miniapp.template_upgrade"]))))
        assert sorted(actions) == ["miniapp.template_upgrade", "miniapp.template_upgrade",
                                   "template.edited"]


def test_only_the_templates_own_staff_edit_or_withdraw_it(database, world):
    with database.unit_of_work() as db:
        for actor in (world.owner, world.stranger_isv_user, world.operator, world.resident):
            with pytest.raises(PermissionDenied):
                _edit(db, world.__class__(**{**vars(world), "isv_user": actor}))
            with pytest.raises(PermissionDenied):
                templates_service.withdraw_template(db, actor=actor, template_id=world.template)
        with pytest.raises(NotFound):  # a draft is not even seen by outsiders
            templates_service.withdraw_template(db, actor=world.owner,
                                                template_id=world.draft_template)
        with pytest.raises(Conflict):
            _edit(db, world, defaults=STOREFRONT_DEFAULTS, note="")  # nothing changed
        with pytest.raises(ValidationFailed):  # a published template keeps its required ones
            _edit(db, world, defaults={"opening_hours": "8-20"})
    with database.unit_of_work() as db:
        template = db.scalar(select(Template).where(Template.public_id == world.template))
        assert (template.version, template.status) == (0, TemplateStatus.PUBLISHED)
        assert db.scalar(select(func.count(TemplateVersion.id))) == 0


def test_a_draft_edit_changes_in_place(database, world):
    with database.unit_of_work() as db:
        draft = templates_service.edit_template(
            db, actor=world.isv_user, template_id=world.draft_template, name="公告栏",
            defaults={"headline": "通知", "body": "内容"})
        assert (draft.version, draft.status) == (0, TemplateStatus.DRAFT)
        templates_service.publish_template(db, actor=world.isv_user,
                                           template_id=world.draft_template)
        assert draft.version == 1
        assert [v.name for v in templates_service.template_versions(
            db, actor=world.isv_user, template_id=world.draft_template)] == ["公告栏"]


def test_withdrawal_leaves_the_gallery_and_keeps_mini_apps_running(database, world, settings):
    live = _live_miniapp(database, world, settings)
    before = _config_seen_by_residents(database, live)
    with database.unit_of_work() as db:
        templates_service.withdraw_template(db, actor=world.isv_user, template_id=world.template,
                                            reason="不再维护")
    with database.unit_of_work() as db:
        assert world.template not in [t.public_id for t in
                                      templates_service.list_published_templates(db)]
        with pytest.raises(Conflict) as caught:
            templates_service.create_from_template(
                db, actor=world.owner, settings=settings, template_id=world.template,
                merchant_id=world.merchant, name="又一家", cities=["武汉"])
        assert caught.value.code == "template_withdrawn"
        for change in (lambda: _edit(db, world),
                       lambda: templates_service.withdraw_template(
                           db, actor=world.isv_user, template_id=world.template),
                       lambda: templates_service.upgrade_miniapp(
                           db, actor=world.owner, miniapp_id=live, label="2.0.0")):
            with pytest.raises(Conflict):
                change()
        # the merchant can still change its own mini-app
        registry.new_version(db, actor=world.owner, miniapp_id=live, label="1.0.1")
    assert _config_seen_by_residents(database, live) == before
    with database.unit_of_work() as db:
        entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "template.withdrawn"))
        assert entry.detail["reason"] == "不再维护" and entry.detail["miniapps"] == 1


def test_merchants_hear_of_reviews_and_template_changes(database, world, settings):
    live = _live_miniapp(database, world, settings)
    with database.unit_of_work() as db:
        version = registry.new_version(db, actor=world.owner, miniapp_id=live, label="1.1.0")
        review.submit(db, actor=world.owner, settings=settings, version_id=version.public_id)
        version_id = version.public_id
    with database.unit_of_work() as db:
        review.reject(db, actor=world.operator, version_id=version_id, reason="图标不清晰")
        _edit(db, world)
    with database.unit_of_work() as db:
        templates_service.withdraw_template(db, actor=world.isv_user, template_id=world.template)
    with database.unit_of_work() as db:
        shown = notifications.for_reader(db, actor=world.owner)
        assert [n.kind for n in shown] == ["template.withdrawn", "template.new_version",
                                           "review.rejected", "review.published"]
        assert shown[2].title == "城东鲜果 1.1.0 未通过审核"
        assert "图标不清晰" in shown[2].body
        assert shown[1].title == "模板「社区小店模板」发布了第 2 版"
        assert shown[2].link == f"/console/miniapps/{live}"
        # the ISV built nothing here (the merchant's own staff made it): it hears nothing,
        # and neither does the other merchant
        assert notifications.for_reader(db, actor=world.other_owner) == []
        token = current_locale.set("en")
        try:
            english = notifications.for_reader(db, actor=world.owner)
        finally:
            current_locale.reset(token)
        assert english[2].title == "城东鲜果 1.1.0 was not approved"
        assert english[0].title == "Template 社区小店模板 was withdrawn"


def test_a_template_mini_app_has_no_secret_to_rotate(client, database, world, settings,
                                                     token_for):
    live = _live_miniapp(database, world, settings)
    answer = client.post(f"/api/miniapps/{live}/secret", headers=token_for(world.owner))
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "no_backend"
    csrf = browser_login(client, world.owner)
    page = client.post(f"/console/miniapps/{live}/secret", data={"csrf_token": csrf})
    assert page.status_code == 409 and "没有可以更换的客户端密钥" in page.text


def test_template_api(client, database, world, settings, token_for):
    live = _live_miniapp(database, world, settings)
    body = {"name": "社区小店模板", "description": "新版", "category": "grocery",
            "defaults": {**STOREFRONT_DEFAULTS, "delivery": False}, "note": "默认不送货"}
    for outsider in (world.owner, world.stranger_isv_user):
        refused = client.put(f"/api/templates/{world.template}", json=body,
                             headers=token_for(outsider))
        assert refused.status_code == 403
    edited = client.put(f"/api/templates/{world.template}", json=body,
                        headers=token_for(world.isv_user))
    assert edited.status_code == 200 and edited.json()["version"] == 2
    versions = client.get(f"/api/templates/{world.template}/versions",
                          headers=token_for(world.owner)).json()
    assert [v["number"] for v in versions] == [2, 1]
    assert versions[0]["defaults"]["delivery"] is False
    upgraded = client.post(f"/api/miniapps/{live}/template-upgrade", json={"label": "1.1.0"},
                           headers=token_for(world.owner))
    assert upgraded.status_code == 201 and upgraded.json()["template_version"] == 2
    gone = client.post(f"/api/templates/{world.template}/withdraw", json={"reason": "停止维护"},
                       headers=token_for(world.isv_user))
    assert gone.status_code == 200 and gone.json()["status"] == "withdrawn"
    assert gone.json()["withdrawn_reason"] == "停止维护"
    again = client.post(f"/api/templates/{world.template}/withdraw", json={},
                        headers=token_for(world.isv_user))
    assert again.status_code == 409
    gallery = client.get("/api/templates", headers=token_for(world.owner)).json()
    assert world.template not in [t["id"] for t in gallery]
    inbox = client.get("/api/me/notifications?lang=en", headers=token_for(world.owner)).json()
    assert inbox["unread"] == 3
    assert [n["kind"] for n in inbox["notifications"]] == [
        "template.withdrawn", "template.new_version", "review.published"]
    assert inbox["notifications"][1]["title"] == "Template 社区小店模板 has a new version 2"
    other = client.get("/api/me/notifications", headers=token_for(world.other_owner)).json()
    assert other == {"unread": 0, "notifications": []}
    first = inbox["notifications"][0]["id"]
    assert client.post(f"/api/me/notifications/{first}/read",
                       headers=token_for(world.other_owner)).status_code == 404
    assert client.post(f"/api/me/notifications/{first}/read",
                       headers=token_for(world.owner)).status_code == 204
    assert client.get("/api/me/notifications",
                      headers=token_for(world.owner)).json()["unread"] == 2
