"""ISV templates and runtime settings: checking a config, creating and publishing templates,
and a merchant's mini-app made from one in a single step."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.miniapps.registry_world import STOREFRONT_DEFAULTS, build_world
from townsquare.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from townsquare.miniapps import registry, templates_service
from townsquare.miniapps.models import MiniApp, Template, TemplateStatus, VersionState
from townsquare.miniapps.runtimes import RUNTIMES, defaults_from_fields, validate_config

# --- validate_config (no database) -------------------------------------------------------------


def test_a_good_config_is_cleaned():
    cleaned = validate_config("storefront", {
        "welcome": "  欢迎 ", "opening_hours": "8-20", "store_pickup": "on", "delivery": False,
        "min_order_fen": "2000", "contact_phone": "027-12345678",
    })
    assert cleaned == {
        "welcome": "欢迎", "opening_hours": "8-20", "store_pickup": True, "delivery": False,
        "min_order_fen": 2000, "contact_phone": "027-12345678",
    }
    # empty optional values are dropped
    assert validate_config("info", {"headline": "通知", "body": "内容", "link": ""}) == {
        "headline": "通知", "body": "内容",
    }


def test_every_problem_is_reported_per_field():
    with pytest.raises(ValidationFailed) as caught:
        validate_config("consultation", {
            "department": "x" * 41, "mode": "telepathy", "hours": "", "surprise": 1,
        })
    problems = {d["field"]: d["problem"] for d in caught.value.details}
    assert set(problems) == {"department", "mode", "hours", "surprise"}
    assert "40" in problems["department"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("min_order_fen", -1), ("min_order_fen", 10_000_01), ("min_order_fen", "1.5"),
        ("min_order_fen", True), ("min_order_fen", "12abc"), ("store_pickup", "maybe"),
        ("contact_phone", "call me"), ("welcome", 5), ("welcome", "a\x00b"),
    ],
)
def test_bad_values(field, value):
    raw = {"welcome": "hi", "opening_hours": "8-20", field: value}
    with pytest.raises(ValidationFailed) as caught:
        validate_config("storefront", raw)
    assert [d["field"] for d in caught.value.details] == [field]


def test_urls_unknown_runtimes_and_partial_defaults():
    good = {"headline": "h", "body": "b"}
    assert validate_config("info", {**good, "link": "https://a.example/x"})["link"]
    for bad in ("http://a.example", "ftp://a.example", "https://", "https://a b.example"):
        with pytest.raises(ValidationFailed):
            validate_config("info", {**good, "link": bad})
    with pytest.raises(ValidationFailed):
        validate_config("nope", {})
    with pytest.raises(ValidationFailed):
        validate_config("info", {})  # required settings missing
    assert validate_config("info", {}, partial=True) == {}


# --- templates --------------------------------------------------------------------------------


@pytest.fixture
def world(database, make_user):
    return build_world(database, make_user)


def test_isv_staff_create_and_publish_a_template(database, world):
    with database.unit_of_work() as db:
        template = templates_service.create_template(
            db, actor=world.isv_user, provider_id=world.isv, runtime="consultation",
            name="在线问诊台", description="医生在线答疑", category="medicine",
            defaults={"department": "全科", "mode": "video", "hours": "8:00-20:00"},
        )
        assert template.status == TemplateStatus.DRAFT
        assert defaults_from_fields(template.fields) == {
            "department": "全科", "mode": "video", "hours": "8:00-20:00"}
        tpl_id = template.public_id
    with database.unit_of_work() as db:
        # drafts are invisible to merchants and other providers
        for actor in (world.owner, world.stranger_isv_user, world.resident):
            with pytest.raises(NotFound):
                templates_service.get_template(db, actor=actor, public_id=tpl_id)
        names = [t.name for t in templates_service.list_published_templates(db)]
        assert "在线问诊台" not in names
        with pytest.raises(PermissionDenied):
            templates_service.publish_template(db, actor=world.operator, template_id=tpl_id)
        templates_service.publish_template(db, actor=world.isv_user, template_id=tpl_id)
    with database.unit_of_work() as db:
        with pytest.raises(Conflict):
            templates_service.publish_template(db, actor=world.isv_user, template_id=tpl_id)
        published = templates_service.list_published_templates(db, runtime="consultation")
        assert [t.public_id for t in published] == [tpl_id]
        assert templates_service.get_template(db, actor=world.owner, public_id=tpl_id)


def test_a_template_is_published_only_with_its_required_settings(database, world):
    with database.unit_of_work() as db:
        draft = templates_service.create_template(
            db, actor=world.isv_user, provider_id=world.isv, runtime="info", name="半成品",
            defaults={"headline": "通知", "body": "   "},
        )
        tpl_id = draft.public_id
    with database.unit_of_work() as db, pytest.raises(ValidationFailed) as caught:
        templates_service.publish_template(db, actor=world.isv_user, template_id=tpl_id)
    assert [d["field"] for d in caught.value.details] == ["body"]
    with database.unit_of_work() as db:
        assert db.scalar(select(Template.status).where(Template.public_id == tpl_id)) == (
            TemplateStatus.DRAFT
        )


def test_template_creation_checks(database, world):
    ok = {"provider_id": world.isv, "runtime": "info", "name": "公告"}
    with database.unit_of_work() as db:
        for actor in (world.stranger_isv_user, world.owner, world.resident):
            with pytest.raises(NotFound):
                templates_service.create_template(db, actor=actor, **ok)
        with pytest.raises(PermissionDenied):
            templates_service.create_template(db, actor=world.operator, **ok)
        for bad in ({"runtime": "nope"}, {"name": ""}, {"category": "nope"},
                    {"defaults": {"link": "http://x.example"}}, {"defaults": {"nope": 1}}):
            with pytest.raises(ValidationFailed):
                templates_service.create_template(db, actor=world.isv_user, **{**ok, **bad})
    with database.unit_of_work() as db:
        assert db.scalar(select(Template.id).where(Template.name == "公告")) is None
        listed = templates_service.list_provider_templates(
            db, actor=world.isv_user, provider_id=world.isv)
        assert {t.status for t in listed} == {TemplateStatus.PUBLISHED, TemplateStatus.DRAFT}


def test_a_merchant_makes_a_miniapp_from_a_template_in_one_step(database, world, settings):
    with database.unit_of_work() as db:
        created = templates_service.create_from_template(
            db, actor=world.owner, settings=settings, template_id=world.template,
            merchant_id=world.merchant, name="城东鲜果", cities=["武汉"],
            config={"min_order_fen": 1500, "delivery": False}, submit=True,
        )
        version = created.version
        assert version.config == {**STOREFRONT_DEFAULTS, "delivery": False, "min_order_fen": 1500}
        assert version.state == VersionState.SUBMITTED and version.publish_on_approval
        assert created.miniapp.template.public_id == world.template
        assert created.miniapp.category.code == "grocery"  # the template's suggestion
        assert created.miniapp.description == "几分钟上线的小店"  # the template's description
        assert created.client_secret


def test_from_template_refusals_leave_nothing(database, world, settings):
    base = {"settings": settings, "merchant_id": world.merchant, "name": "店", "cities": ["武汉"]}
    with database.unit_of_work() as db:
        with pytest.raises(NotFound):  # a draft template is not offered to merchants
            templates_service.create_from_template(
                db, actor=world.owner, template_id=world.draft_template, **base)
        with pytest.raises(ValidationFailed):
            templates_service.create_from_template(
                db, actor=world.owner, template_id=world.template,
                config={"welcome": ""}, **base)  # a required setting blanked out
        with pytest.raises(NotFound):
            templates_service.create_from_template(
                db, actor=world.revoked_isv_user, template_id=world.template, **base)
        # the template's own provider may use its draft, but a draft still cannot be used
        with pytest.raises(Conflict):
            templates_service.create_from_template(
                db, actor=world.isv_user, template_id=world.draft_template, **base)
    with database.unit_of_work() as db:
        assert db.scalar(select(MiniApp.id)) is None


def test_template_miniapp_drafts_merge_settings(database, world, settings):
    with database.unit_of_work() as db:
        created = templates_service.create_from_template(
            db, actor=world.isv_user, settings=settings, template_id=world.template,
            merchant_id=world.merchant, name="城东鲜果", cities=["武汉"],
        )
        ver_id = created.version.public_id
    with database.unit_of_work() as db:
        version = registry.update_draft(
            db, actor=world.owner, version_id=ver_id, config={"welcome": "新欢迎语", "delivery": ""}
        )
        assert version.config == {"welcome": "新欢迎语", "opening_hours": "08:00-20:00"}
        with pytest.raises(ValidationFailed):
            registry.update_draft(db, actor=world.owner, version_id=ver_id,
                                  external_url="https://x.example")


def test_runtimes_are_all_valid_with_their_required_fields():
    for key, runtime in RUNTIMES.items():
        raw = {
            f.name: (f.choices[0] if f.type == "choice"
                     else f.minimum or 0 if f.type in ("number", "money") else "x")
            for f in runtime.fields if f.required
        }
        assert set(validate_config(key, raw)) == set(raw)
