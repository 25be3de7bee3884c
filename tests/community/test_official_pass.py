"""A community has exactly one official pass mini-app, chosen by its property manager (or an
operator): a look-alike pass mini-app naming the community gets no reminder subscriptions, cannot
be chosen by an outsider, and no owner can rewrite or send the platform's reminder texts."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.community import world as w
from tests.miniapps.shell_data import SECRET, browser_login, make_miniapp
from townsquare.accounts.models import Role, User
from townsquare.community import communities, jobs, residents
from townsquare.core.errors import PermissionDenied, ValidationFailed
from townsquare.messaging import service as messaging
from townsquare.messaging.models import MessageTemplate
from townsquare.miniapps.models import MiniApp


@pytest.fixture
def world(database, settings, make_user):
    return w.build(database, settings, make_user)


def _pass_app(database, com: str, name: str) -> str:
    return make_miniapp(database, name=name, runtime="community_pass",
                        config={"community": com, "welcome": "欢迎"}).id


def test_a_self_made_pass_app_does_not_become_the_communitys_channel(database, world):
    _pass_app(database, world.com, "幸福小区通行证")
    with database.unit_of_work() as db:
        community = w.community(db, world.com)
        # naming the community in its config is not enough
        assert jobs.pass_miniapps(db) == {}
        assert communities.official_pass(db, community=community) is None


def test_only_the_property_manager_or_an_operator_chooses_the_pass(database, world, make_user):
    official = _pass_app(database, world.com, "幸福小区通行证")
    stranger = make_user(Role.MERCHANT_STAFF)
    with database.unit_of_work() as db:
        community = w.community(db, world.com)
        for outsider in (stranger, world.other_manager, world.committee, world.resident):
            with pytest.raises(PermissionDenied):
                communities.choose_pass_miniapp(db, actor=db.get(User, outsider.id),
                                                community=community, miniapp_id=official)
        communities.choose_pass_miniapp(db, actor=db.get(User, world.manager.id),
                                        community=community, miniapp_id=official)
    with database.unit_of_work() as db:
        assert jobs.pass_miniapps(db)[world.com].public_id == official


def test_an_app_serving_another_community_cannot_be_chosen(database, world):
    other = _pass_app(database, world.other_com, "和平小区通行证")
    shop = make_miniapp(database, name="生鲜", runtime="storefront").id
    with database.unit_of_work() as db:
        community = w.community(db, world.com)
        for miniapp_id in (other, shop, "ma_nothing"):
            with pytest.raises(ValidationFailed):
                communities.choose_pass_miniapp(db, actor=db.get(User, world.operator.id),
                                                community=community, miniapp_id=miniapp_id)


def test_the_official_apps_owner_cannot_rewrite_or_send_the_reminders(database, world,
                                                                      settings):
    official = _pass_app(database, world.com, "幸福小区通行证")
    with database.unit_of_work() as db:
        communities.choose_pass_miniapp(db, actor=None, community=w.community(db, world.com),
                                        miniapp_id=official)
        app = db.scalar(select(MiniApp).where(MiniApp.public_id == official))
        jobs.ensure_templates(db, miniapp=app)
    with database.unit_of_work() as db:
        with pytest.raises(PermissionDenied):
            messaging.define_template(db, actor=None, miniapp_id=official, key="declare_today",
                                      title="请点击领取补贴", body="点击链接 {name}")
        with pytest.raises(PermissionDenied):
            messaging.send_as_client(db, settings=settings, client_id=official,
                                     client_secret=SECRET, sub="ou_" + "0" * 32,
                                     key="declare_today", data={})


def test_reminder_texts_are_reset_to_the_platforms_own(database, world):
    official = _pass_app(database, world.com, "幸福小区通行证")
    with database.unit_of_work() as db:
        app = db.scalar(select(MiniApp).where(MiniApp.public_id == official))
        # the owner defined the key first, before the platform used it
        messaging.define_template(db, actor=None, miniapp_id=official, key="declare_today",
                                  title="钓鱼", body="请输入密码 {name}")
        communities.choose_pass_miniapp(db, actor=None, community=w.community(db, world.com),
                                        miniapp_id=official)
        jobs.ensure_templates(db, miniapp=app)
        template = db.scalar(select(MessageTemplate).where(
            MessageTemplate.miniapp_id == app.id, MessageTemplate.key == "declare_today"))
        assert (template.title, template.body) == jobs.TEMPLATES["declare_today"]
        assert template.system


def test_resident_page_subscribes_to_the_official_app_only(database, world, client, settings):
    _pass_app(database, world.com, "幸福小区通行证（仿冒）")
    with database.unit_of_work() as db:
        residents.verify(db, settings=settings, actor=db.get(User, world.resident.id),
                         community=w.community(db, world.com), real_name="张三",
                         id_number=w.HEAD_ID)
    csrf = browser_login(client, world.resident)
    response = client.post(f"/community/{world.com}/reminders", data={"csrf_token": csrf},
                           follow_redirects=False)
    assert response.status_code != 303  # no official app: no subscription to anyone
    with database.unit_of_work() as db:
        assert db.scalar(select(MessageTemplate.id)) is None


def test_api_choose_pass(database, world, client, token_for):
    official = _pass_app(database, world.com, "幸福小区通行证")
    url = f"/api/community/{world.com}/pass-miniapp"
    assert client.put(url, json={"miniapp": official},
                      headers=token_for(world.other_manager)).status_code == 403
    response = client.put(url, json={"miniapp": official}, headers=token_for(world.manager))
    assert response.status_code == 200 and response.json() == {"miniapp": official}
    with database.unit_of_work() as db:
        assert jobs.pass_miniapps(db)[world.com].public_id == official
