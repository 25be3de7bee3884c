"""ISV templates for the grocery and restaurant runtimes: a template never keeps a merchant's
stores yet publishes without them; a merchant makes a shop from one by ticking its own stores
(offered on the form), and a store of another merchant is refused wherever the settings are
kept (made, edited, sent for review); the demo's templates all publish."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.merchants.conftest import csrf, login
from tests.miniapps.registry_world import build_world
from townsquare.core.errors import ValidationFailed
from townsquare.core.settings import Settings
from townsquare.merchants.models import Category, Merchant
from townsquare.miniapps import registry, review, templates_service
from townsquare.miniapps.models import MiniApp, MiniAppVersion, TemplateStatus
from townsquare.miniapps.runtimes import RUNTIMES, defaults_from_fields
from townsquare.ordering import shop_templates
from townsquare.ordering.stores import service as stores


@pytest.fixture
def world(database, make_user):
    built = build_world(database, make_user)
    with database.unit_of_work() as db:
        db.add(Category(code="restaurant", name_zh="餐饮美食", name_en="Restaurants",
                        urgent=False))
    return built


def _store(database, merchant: str, name: str) -> str:
    with database.unit_of_work() as db:
        return stores.create_store(db, actor=None, merchant_id=merchant, name=name,
                                   address="武汉市武昌区徐东大街 18 号", lat=30.589,
                                   lng=114.342).public_id


def _grocery_template(database, world) -> str:
    with database.unit_of_work() as db:
        template = templates_service.create_template(
            db, actor=world.isv_user, provider_id=world.isv, runtime="grocery", name="水果店",
            category="grocery", defaults={"welcome": "当季鲜果", "pickup": True,
                                          "packaging_fen": 100, "accept_within_minutes": 10})
        templates_service.publish_template(db, actor=world.isv_user,
                                           template_id=template.public_id)
        return template.public_id


def test_a_template_never_keeps_stores_and_publishes_without_them(database, world):
    mine = _store(database, world.merchant, "徐东店")
    with database.unit_of_work() as db:
        sneaky = templates_service.create_template(
            db, actor=world.isv_user, provider_id=world.isv, runtime="grocery", name="坏模板",
            defaults={"welcome": "你好", "stores": mine})
        assert defaults_from_fields(sneaky.fields) == {"welcome": "你好"}
        with pytest.raises(ValidationFailed):  # still checked like any setting
            templates_service.create_template(
                db, actor=world.isv_user, provider_id=world.isv, runtime="grocery",
                name="坏模板2", defaults={"welcome": "你好", "stores": "x" * 401})
    tpl = _grocery_template(database, world)
    with database.unit_of_work() as db:
        template = templates_service.get_template(db, actor=world.owner, public_id=tpl)
        assert template.status == TemplateStatus.PUBLISHED
        assert "stores" not in defaults_from_fields(template.fields)
        # a published template's edit does not keep stores either
        edited = templates_service.edit_template(
            db, actor=world.isv_user, template_id=tpl, name="水果店",
            defaults={"welcome": "当季鲜果", "stores": mine})
        assert "stores" not in defaults_from_fields(edited.fields)


def test_a_shop_needs_its_own_stores(database, world):
    tpl = _grocery_template(database, world)
    mine = _store(database, world.merchant, "徐东店")
    second = _store(database, world.merchant, "积玉桥店")
    theirs = _store(database, world.other_merchant, "别家店")
    settings = Settings()

    def make(stores_value):
        with database.unit_of_work() as db:
            return templates_service.create_from_template(
                db, actor=world.owner, settings=settings, template_id=tpl,
                merchant_id=world.merchant, name="城东鲜果·买菜", cities=["武汉"],
                config={"stores": stores_value}).version.public_id

    for bad in ("", f"{mine},{theirs}", "sto_notarealstore0000", "北京路店"):
        with pytest.raises(ValidationFailed) as caught:
            make(bad)
        assert [d["field"] for d in caught.value.details] == ["stores"], bad
    with database.unit_of_work() as db:
        assert db.scalar(select(MiniApp.id)) is None  # nothing was made
    version_id = make(f"{mine}，{second}")
    with database.unit_of_work() as db:
        version = registry.get_version(db, actor=world.owner, public_id=version_id)
        assert version.config["stores"] in (f"{mine}，{second}", f"{mine},{second}")
        assert version.config["packaging_fen"] == 100 and version.config["pickup"] is True
        with pytest.raises(ValidationFailed):
            registry.update_draft(db, actor=world.owner, version_id=version_id,
                                  config={"stores": theirs})
    with database.unit_of_work() as db:
        # a store that changed hands after the draft was written is caught at submission
        version = db.scalar(select(MiniAppVersion).where(MiniAppVersion.public_id == version_id))
        version.config = {**version.config, "stores": theirs}
    with database.unit_of_work() as db, pytest.raises(ValidationFailed):
        review.submit(db, actor=world.owner, settings=settings, version_id=version_id)


def test_the_form_offers_the_merchants_stores_as_ticks(client, database, world):
    tpl = _grocery_template(database, world)
    mine = _store(database, world.merchant, "徐东店")
    theirs = _store(database, world.other_merchant, "别家店")
    login(client, world.owner)
    page = client.get(f"/console/merchant/{world.merchant}/miniapps?template={tpl}")
    assert page.status_code == 200
    assert f'name="cfg_stores.{mine}"' in page.text and "徐东店" in page.text
    assert theirs not in page.text and "别家店" not in page.text
    token = csrf(client, f"/console/merchant/{world.merchant}/miniapps")
    form = {"csrf_token": token, "template_id": tpl, "name": "城东鲜果·买菜", "cities": "武汉",
            "cfg_welcome": "当季鲜果", "cfg_pickup": "true"}
    refused = client.post(f"/console/merchant/{world.merchant}/miniapps/from-template",
                          data={**form, f"cfg_stores.{theirs}": "on"})
    assert refused.status_code == 422 and "不是您的门店" in refused.text
    made = client.post(f"/console/merchant/{world.merchant}/miniapps/from-template",
                       data={**form, f"cfg_stores.{mine}": "on"}, follow_redirects=False)
    assert made.status_code == 303
    with database.unit_of_work() as db:
        config = db.scalar(select(MiniAppVersion.config))
        assert config["stores"] == mine and config["welcome"] == "当季鲜果"
    # the draft's page ticks the store it sells from
    page = client.get(made.headers["location"])
    assert f'name="cfg_stores.{mine}" value="on" checked' in page.text
    # the ISV's template form has no place for stores
    login(client, world.isv_user)
    isv_page = client.get(f"/console/isv/{world.isv}/templates?runtime=grocery")
    assert isv_page.status_code == 200 and "cfg_stores" not in isv_page.text
    assert 'data-merchant-own="stores"' in isv_page.text


def test_the_demo_templates_all_publish_and_open_a_shop(database, world):
    mine = _store(database, world.merchant, "徐东店")
    with database.unit_of_work() as db:
        providers = [templates_service.get_provider(db, actor=None, public_id=world.isv)]
        made = shop_templates.publish_templates(db, providers=providers)
        assert sorted(made) == sorted(t.name for t in shop_templates.TEMPLATES)
        assert {t.runtime for t in made.values()} == {"grocery", "restaurant"}
        assert len(made) >= 8
        again = shop_templates.publish_templates(db, providers=providers)  # idempotent
        assert {t.id for t in again.values()} == {t.id for t in made.values()}
        merchant = db.scalar(select(Merchant).where(Merchant.public_id == world.merchant))
        shop = shop_templates.DemoShop(merchant, "社区生鲜团购", "城东鲜果·买菜", "🥬",
                                       ("买菜",), {"delivery": True})
        app = shop_templates.open_shop(db, settings=Settings(), operator=None,
                                       template=made["社区生鲜团购"], shop=shop)
        assert app.listed and app.category.code == "grocery"
        live = review.published_version(db, app)
        assert live is not None and live.config["stores"] == mine
        assert live.config["community"] is True and live.config["delivery"] is True
    assert "grocery" in RUNTIMES and "restaurant" in RUNTIMES
