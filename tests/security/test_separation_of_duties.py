"""Separation of duties: an operator who works for a merchant (its staff, or staff of a provider
it authorizes) cannot decide that merchant's reviews, take-downs, brands or complaint disputes;
each attempt is refused with 403 and audited, and the audit outlives the refused request."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD
from tests.miniapps.registry_world import build_world, external_app
from tests.scoring.cycle_world import build_market
from townsquare.accounts.models import Role, RoleGrant, User
from townsquare.core.audit import AuditEntry
from townsquare.core.clock import clock
from townsquare.core.errors import PermissionDenied
from townsquare.merchants import brands
from townsquare.merchants.models import Brand, BrandStatus, Merchant, MerchantStaff, ProviderStaff
from townsquare.miniapps import registry, review
from townsquare.miniapps.models import MiniAppVersion, VersionState
from townsquare.scoring import disputes

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def _refusals(database) -> list[AuditEntry]:
    with database.unit_of_work() as db:
        return list(db.scalars(select(AuditEntry).where(
            AuditEntry.action == "duty.conflict_refused")))


def _join(database, user: User, merchant_public_id: str) -> None:
    with database.unit_of_work() as db:
        merchant = db.scalar(select(Merchant).where(Merchant.public_id == merchant_public_id))
        db.add(MerchantStaff(merchant_id=merchant.id, user_id=user.id))


@pytest.fixture
def world(database, make_user):
    clock.freeze(T0)
    return build_world(database, make_user)


def _submitted(database, world, settings) -> str:
    with database.unit_of_work() as db:
        created = registry.create_miniapp(db, actor=world.owner, merchant_id=world.merchant,
                                          **external_app())
        review.submit(db, settings=settings, actor=world.owner,
                      version_id=created.version.public_id)
        return created.version.public_id


def test_an_operator_on_the_merchants_staff_cannot_review_or_take_down(database, world, settings):
    version_id = _submitted(database, world, settings)
    _join(database, world.operator, world.merchant)
    for decide in (lambda db: review.approve(db, actor=world.operator, version_id=version_id),
                   lambda db: review.reject(db, actor=world.operator, version_id=version_id,
                                            reason="不合规")):
        with pytest.raises(PermissionDenied) as caught, database.unit_of_work() as db:
            decide(db)
        assert caught.value.code == "conflict_of_interest"
    refusals = _refusals(database)
    assert len(refusals) == 2 and refusals[0].subject_id == version_id
    assert refusals[0].actor_id == world.operator.id
    with database.unit_of_work() as db:
        version = db.scalar(select(MiniAppVersion).where(MiniAppVersion.public_id == version_id))
        assert version.state == VersionState.SUBMITTED
        # an independent operator decides; then the insider cannot take it down either
        independent = db.merge(User(username="op2", display_name="二号", password_hash="x",
                                    roles=[RoleGrant(role=Role.OPERATOR)]))
        db.flush()
        review.approve(db, actor=independent, version_id=version_id)
        review.publish(db, actor=independent, version_id=version_id)
    with pytest.raises(PermissionDenied), database.unit_of_work() as db:
        review.takedown(db, actor=world.operator, version_id=version_id, reason="x")
    assert len(_refusals(database)) == 3


def test_an_operator_working_for_an_authorized_isv_is_not_independent(database, world,
                                                                      settings):
    version_id = _submitted(database, world, settings)
    with database.unit_of_work() as db:
        provider_id = db.scalar(select(ProviderStaff.provider_id).where(
            ProviderStaff.user_id == world.isv_user.id))
        db.add(ProviderStaff(provider_id=provider_id, user_id=world.operator.id))
    with pytest.raises(PermissionDenied), database.unit_of_work() as db:
        review.approve(db, actor=world.operator, version_id=version_id)


def test_brand_decisions_for_ones_own_merchant_are_refused(database, world):
    _join(database, world.operator, world.merchant)
    with database.unit_of_work() as db:
        brand = brands.apply(db, actor=world.owner, merchant_id=world.merchant, name="鲜丰水果",
                             evidence="商标注册证")
        brand_id = brand.public_id
    for decide in (lambda db: brands.approve(db, actor=world.operator, brand_id=brand_id),
                   lambda db: brands.reject(db, actor=world.operator, brand_id=brand_id,
                                            reason="x")):
        with pytest.raises(PermissionDenied), database.unit_of_work() as db:
            decide(db)
    assert len(_refusals(database)) == 2
    with database.unit_of_work() as db:
        assert db.scalar(select(Brand.status)) == BrandStatus.PENDING


def test_dispute_decisions_for_ones_own_merchant_are_refused(database):
    market = build_market(database)
    with database.unit_of_work() as db:
        dispute = disputes.open_dispute(db, actor=market.owner, miniapp_id=market.ours,
                                        event_id=market.complaint_ids[0], reason="不是我们的订单")
        dispute_id = dispute.public_id
        merchant_id = dispute.miniapp.merchant_id
        db.add(MerchantStaff(merchant_id=merchant_id, user_id=market.operator.id))
    with pytest.raises(PermissionDenied), database.unit_of_work() as db:
        disputes.decide_dispute(db, actor=market.operator, dispute_id=dispute_id,
                                decision="dismiss", reason="自己人")
    assert [r.subject_id for r in _refusals(database)] == [dispute_id]


def test_the_api_and_the_page_refuse_and_audit(database, world, client, token_for, settings):
    version_id = _submitted(database, world, settings)
    _join(database, world.operator, world.merchant)
    response = client.post(f"/api/versions/{version_id}/approve",
                           headers=token_for(world.operator))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "conflict_of_interest"
    client.post("/login", data={"username": "operator", "password": PASSWORD, "next": "/me"})
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/me").text).group(1)
    page = client.post(f"/console/versions/{version_id}/approve", data={"csrf_token": csrf},
                       follow_redirects=False)
    assert page.status_code == 403
    assert len(_refusals(database)) == 2
