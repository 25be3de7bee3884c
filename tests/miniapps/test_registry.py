"""Registry services: who may create and see mini-apps, field checks, secrets and versions."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.miniapps.registry_world import build_world, external_app
from townsquare.core import audit
from townsquare.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from townsquare.core.security import token_digest
from townsquare.miniapps import registry, registry_checks
from townsquare.miniapps.models import MiniApp, MiniAppVersion, VersionState


@pytest.fixture
def world(database, make_user):
    return build_world(database, make_user)


def _create(database, world, actor=None, **overrides):
    with database.unit_of_work() as db:
        created = registry.create_miniapp(
            db, actor=actor or world.owner, merchant_id=world.merchant,
            **external_app(**overrides),
        )
        return created.miniapp.public_id, created.version.public_id, created.client_secret


def test_merchant_staff_creates_an_external_miniapp_with_a_draft(database, world):
    ma_id, ver_id, secret = _create(database, world)
    with database.unit_of_work() as db:
        miniapp = db.scalar(select(MiniApp).where(MiniApp.public_id == ma_id))
        version = db.scalar(select(MiniAppVersion).where(MiniAppVersion.public_id == ver_id))
        assert miniapp.merchant.public_id == world.merchant
        assert miniapp.builder is None
        assert miniapp.category.code == "grocery"  # the merchant's, as none was given
        assert miniapp.listed is False
        assert (version.number, version.label, version.state) == (1, "1.0.0", VersionState.DRAFT)
        assert version.external_url == "https://shop.example.com/app"
        assert version.tags == ["水果", "配送"]
        # only the digest of the secret is stored
        assert miniapp.client_secret_digest == token_digest(secret)
        assert secret not in miniapp.client_secret_digest
        actions = [e.action for e in audit.history(db, subject_type="miniapp", subject_id=ma_id)]
        assert actions == ["miniapp.create"]


def test_authorized_isv_creates_for_the_merchant_as_builder(database, world):
    ma_id, _, _ = _create(database, world, actor=world.isv_user)
    with database.unit_of_work() as db:
        miniapp = db.scalar(select(MiniApp).where(MiniApp.public_id == ma_id))
        assert miniapp.builder.public_id == world.isv
        assert miniapp.merchant.public_id == world.merchant


@pytest.mark.parametrize(
    "who", ["resident", "other merchant", "unauthorized ISV", "revoked ISV"]
)
def test_outsiders_cannot_create_for_the_merchant(database, world, who):
    with database.unit_of_work() as db, pytest.raises(NotFound):
        registry.create_miniapp(
            db, actor=world.outsiders[who], merchant_id=world.merchant, **external_app()
        )
    with database.unit_of_work() as db:
        assert db.scalar(select(MiniApp.id)) is None


def test_operator_sees_but_does_not_create_for_a_merchant(database, world):
    with database.unit_of_work() as db, pytest.raises(PermissionDenied):
        registry.create_miniapp(
            db, actor=world.operator, merchant_id=world.merchant, **external_app()
        )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 65}, "name"),
        ({"icon": "abc"}, "icon"),
        ({"icon": "http://evil.example/i.png"}, "icon"),
        ({"description": "x" * 2001}, "description"),
        ({"tags": [f"t{i}" for i in range(11)]}, "tags"),
        ({"tags": ["x" * 17]}, "tags"),
        ({"cities": []}, "cities"),
        ({"cities": [f"c{i}" for i in range(21)]}, "cities"),
        ({"external_url": "http://shop.example.com"}, "external_url"),
        ({"external_url": "javascript:alert(1)"}, "external_url"),
        ({"external_url": "https://user:pw@shop.example.com"}, "external_url"),
        ({"category": "nope"}, "category"),
        ({"kind": "magic"}, "kind"),
        ({"label": "v1"}, "label"),
        ({"config": {"welcome": "hi"}}, "config"),
    ],
)
def test_invalid_fields_are_refused_before_anything_is_written(database, world, overrides, field):
    with database.unit_of_work() as db, pytest.raises(ValidationFailed) as caught:
        registry.create_miniapp(
            db, actor=world.owner, merchant_id=world.merchant, **external_app(**overrides)
        )
    assert caught.value.params.get("field") == field
    with database.unit_of_work() as db:
        assert db.scalar(select(MiniApp.id)) is None


def test_icons_and_dev_urls_that_are_fine(database, world):
    for icon in ("🍎", "👨‍⚕️", "🇨🇳", "https://cdn.example.com/icon.png", ""):
        _create(database, world, icon=icon)
    _create(database, world, external_url="http://127.0.0.1:9000/app")
    _create(database, world, external_url="http://localhost/app", category="medicine")
    with database.unit_of_work() as db:
        icons = set(db.scalars(select(MiniApp.icon)))
        assert registry_checks.ICON_DEFAULT in icons and "👨‍⚕️" in icons


def test_rotating_the_secret_replaces_the_digest(database, world):
    ma_id, _, first = _create(database, world)
    with database.unit_of_work() as db:
        second = registry.rotate_secret(db, actor=world.isv_user, miniapp_id=ma_id)
    assert second != first
    with database.unit_of_work() as db:
        miniapp = db.scalar(select(MiniApp).where(MiniApp.public_id == ma_id))
        assert miniapp.client_secret_digest == token_digest(second)
    with database.unit_of_work() as db, pytest.raises(PermissionDenied):
        registry.rotate_secret(db, actor=world.operator, miniapp_id=ma_id)
    with database.unit_of_work() as db, pytest.raises(NotFound):
        registry.rotate_secret(db, actor=world.revoked_isv_user, miniapp_id=ma_id)


def test_who_sees_what(database, world):
    ma_id, ver_id, _ = _create(database, world)
    for viewer in (world.owner, world.isv_user, world.operator):
        with database.unit_of_work() as db:
            assert registry.get_miniapp(db, actor=viewer, public_id=ma_id).public_id == ma_id
            assert registry.get_version(db, actor=viewer, public_id=ver_id).public_id == ver_id
            listed = registry.list_merchant_miniapps(db, actor=viewer, merchant_id=world.merchant)
            assert [m.public_id for m in listed] == [ma_id]
            assert registry.history(db, actor=viewer, miniapp_id=ma_id)
    for outsider in world.outsiders.values():
        with database.unit_of_work() as db:
            for call in (
                lambda db=db, o=outsider: registry.get_miniapp(db, actor=o, public_id=ma_id),
                lambda db=db, o=outsider: registry.get_version(db, actor=o, public_id=ver_id),
                lambda db=db, o=outsider: registry.list_merchant_miniapps(
                    db, actor=o, merchant_id=world.merchant),
                lambda db=db, o=outsider: registry.history(db, actor=o, miniapp_id=ma_id),
                lambda db=db, o=outsider: registry.update_draft(
                    db, actor=o, version_id=ver_id, name="偷改"),
            ):
                with pytest.raises(NotFound):
                    call()
    # the other merchant's own list is empty, and junk ids are simply not found
    with database.unit_of_work() as db:
        assert registry.list_merchant_miniapps(
            db, actor=world.other_owner, merchant_id=world.other_merchant) == []
        with pytest.raises(NotFound):
            registry.get_miniapp(db, actor=world.operator, public_id="ma_\x00'; drop")


def test_edit_a_draft_only(database, world):
    ma_id, ver_id, _ = _create(database, world)
    with database.unit_of_work() as db:
        version = registry.update_draft(
            db, actor=world.owner, version_id=ver_id, name="鲜果到家 Plus", tags=["水果"],
            label="1.0.1", external_url="https://shop.example.com/v2",
        )
        assert (version.name, version.tags, version.label) == ("鲜果到家 Plus", ["水果"], "1.0.1")
        assert version.cities == ["武汉"]  # untouched
    with database.unit_of_work() as db, pytest.raises(ValidationFailed):
        registry.update_draft(db, actor=world.owner, version_id=ver_id, config={"welcome": "x"})
    with database.unit_of_work() as db, pytest.raises(PermissionDenied):
        registry.update_draft(db, actor=world.operator, version_id=ver_id, name="运营改名")
    with database.unit_of_work() as db:
        db.scalar(select(MiniAppVersion).where(MiniAppVersion.public_id == ver_id)).state = (
            VersionState.SUBMITTED
        )
    with database.unit_of_work() as db, pytest.raises(Conflict):
        registry.update_draft(db, actor=world.owner, version_id=ver_id, name="改")


def test_new_versions_copy_the_newest_and_one_open_at_a_time(database, world):
    ma_id, ver_id, _ = _create(database, world)
    with database.unit_of_work() as db, pytest.raises(Conflict):
        registry.new_version(db, actor=world.owner, miniapp_id=ma_id, label="1.1.0")
    with database.unit_of_work() as db:
        db.scalar(select(MiniAppVersion).where(MiniAppVersion.public_id == ver_id)).state = (
            VersionState.REJECTED
        )
    with database.unit_of_work() as db:
        for bad in ("1", "1.1.0.0", "v1.1", "01.1", "1.1.0-" + "x" * 20):
            with pytest.raises(ValidationFailed):
                registry.new_version(db, actor=world.owner, miniapp_id=ma_id, label=bad)
        with pytest.raises(Conflict):
            registry.new_version(db, actor=world.owner, miniapp_id=ma_id, label="1.0.0")
        with pytest.raises(PermissionDenied):
            registry.new_version(db, actor=world.operator, miniapp_id=ma_id, label="1.1.0")
        second = registry.new_version(
            db, actor=world.isv_user, miniapp_id=ma_id, label="1.1.0-beta.1",
            changelog="修正地址", from_version=ver_id,
        )
        assert (second.number, second.state, second.name) == (2, VersionState.DRAFT, "鲜果到家")
        assert second.external_url == "https://shop.example.com/app"
        second_id = second.public_id
    with database.unit_of_work() as db:
        # the first version cannot be deleted, a later draft can
        with pytest.raises(Conflict):
            registry.delete_draft(db, actor=world.owner, version_id=ver_id)
        registry.delete_draft(db, actor=world.owner, version_id=second_id)
    with database.unit_of_work() as db:
        versions = registry.list_versions(db, actor=world.owner, miniapp_id=ma_id)
        assert [v.public_id for v in versions] == [ver_id]
        actions = [h.action for h in registry.history(db, actor=world.owner, miniapp_id=ma_id)]
        assert actions == ["miniapp.create", "version.draft", "version.deleted"]
