"""Console pages: merchant, provider and operator, driven through their forms."""

from __future__ import annotations

import re

from sqlalchemy import select

from tests.merchants.conftest import csrf, login
from townsquare.merchants.models import (
    Authorization,
    Brand,
    BrandStatus,
    Category,
    Merchant,
    ServiceProvider,
)


def _brand_id(database, merchant_id: str) -> str:
    with database.unit_of_work() as db:
        return db.scalar(
            select(Brand.public_id).join(Merchant).where(Merchant.public_id == merchant_id)
        )


def test_register_a_merchant_through_the_console(client, world, database):
    login(client, world.resident)
    page = client.get("/console/merchant")
    assert page.status_code == 200 and "注册商家" in page.text  # Chinese by default
    token = csrf(client, "/console/merchant")
    bad = client.post(
        "/console/merchant",
        data={"csrf_token": token, "name": "Tea", "category": "food", "cities": "  "},
    )
    assert bad.status_code == 422
    assert "请填写 1 到 20 个城市" in bad.text and 'value="Tea"' in bad.text  # form kept
    done = client.post(
        "/console/merchant",
        data={"csrf_token": token, "name": "Tea", "category": "food", "cities": "武汉，北京"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"].startswith("/console/merchant/mer_")
    detail = client.get(done.headers["location"])
    assert "商家已注册" in detail.text and "武汉、北京" in detail.text
    with database.unit_of_work() as db:
        assert db.scalar(select(Merchant.cities).where(Merchant.name == "Tea")) == ["武汉", "北京"]


def test_forms_need_the_csrf_token(client, world, database):
    login(client, world.owner_a)
    response = client.post(
        f"/console/merchant/{world.merchant_a}/profile",
        data={"csrf_token": "forged", "description": "x", "cities": "武汉"},
    )
    assert response.status_code == 403
    with database.unit_of_work() as db:
        assert (
            db.scalar(select(Merchant.description).where(Merchant.public_id == world.merchant_a))
            == ""
        )


def test_brand_application_to_certificate(client, world, database):
    login(client, world.owner_a)
    token = csrf(client, f"/console/merchant/{world.merchant_a}")
    applied = client.post(
        f"/console/merchant/{world.merchant_a}/brands",
        data={"csrf_token": token, "name": "Luckin", "evidence": "商标 123"},
    )
    assert (
        applied.status_code == 200 and "申请已提交审核" in applied.text and "待审核" in applied.text
    )
    brand_id = _brand_id(database, world.merchant_a)

    login(client, world.operator)
    queue = client.get("/console/operator/brands")
    assert f'data-brand="{brand_id}"' in queue.text
    token = csrf(client, "/console/operator/brands")
    no_reason = client.post(
        f"/console/operator/brands/{brand_id}/reject", data={"csrf_token": token, "reason": " "}
    )
    assert no_reason.status_code == 422 and "请填写理由" in no_reason.text
    approved = client.post(
        f"/console/operator/brands/{brand_id}/approve", data={"csrf_token": token}
    )
    assert approved.status_code == 200 and "品牌已认证" in approved.text
    with database.unit_of_work() as db:
        assert (
            db.scalar(select(Brand.status).where(Brand.public_id == brand_id))
            == BrandStatus.CERTIFIED
        )

    login(client, world.owner_a)
    page = client.get(f"/console/merchant/{world.merchant_a}")
    assert 'id="certified-brand"' in page.text and "Luckin" in page.text
    english = client.get(f"/console/merchant/{world.merchant_a}?lang=en")
    assert "Certified brand" in english.text and "Brand certification" in english.text


def test_grant_and_revoke_a_provider_from_the_merchant_page(client, world, database):
    login(client, world.owner_a)
    page = client.get(f"/console/merchant/{world.merchant_a}").text
    token = csrf(client, f"/console/merchant/{world.merchant_a}")
    # Pine is authorized already, so only Quartz is offered
    offered = re.findall(r'<option value="(isv_[0-9a-z]+)"', page)
    assert offered == [world.provider_q]
    granted = client.post(
        f"/console/merchant/{world.merchant_a}/authorizations",
        data={"csrf_token": token, "provider": world.provider_q},
    )
    assert granted.status_code == 200 and "已授权服务商" in granted.text
    twice = client.post(
        f"/console/merchant/{world.merchant_a}/authorizations",
        data={"csrf_token": token, "provider": world.provider_q},
    )
    assert twice.status_code == 409 and "已获本商家授权" in twice.text

    login(client, world.isv_q)
    assert world.merchant_a in client.get("/console/isv").text
    login(client, world.owner_a)
    token = csrf(client, f"/console/merchant/{world.merchant_a}")
    with database.unit_of_work() as db:
        auz = db.scalar(
            select(Authorization.public_id)
            .join(ServiceProvider)
            .where(
                ServiceProvider.public_id == world.provider_q, Authorization.revoked_at.is_(None)
            )
        )
    assert (
        f"/authorizations/{auz}/revoke" in client.get(f"/console/merchant/{world.merchant_a}").text
    )
    revoked = client.post(
        f"/console/merchant/{world.merchant_a}/authorizations/{auz}/revoke",
        data={"csrf_token": token},
    )
    assert revoked.status_code == 200 and "授权已撤销" in revoked.text

    login(client, world.isv_q)
    isv_page = client.get("/console/isv")
    assert world.merchant_a not in isv_page.text
    assert f"/console/isv/{world.provider_q}/templates" in isv_page.text
    assert client.get(f"/console/merchant/{world.merchant_a}").status_code == 403


def test_provider_console_shows_authorizing_merchants_and_adds_staff(client, world, make_user):
    make_user(username="gina")
    login(client, world.isv_p)
    page = client.get("/console/isv")
    assert f"/console/merchant/{world.merchant_a}/miniapps" in page.text
    assert world.merchant_b not in page.text
    token = csrf(client, "/console/isv")
    added = client.post(
        f"/console/isv/{world.provider_p}/staff", data={"csrf_token": token, "username": "gina"}
    )
    assert added.status_code == 200 and "@gina" in added.text
    foreign = client.post(
        f"/console/isv/{world.provider_q}/staff", data={"csrf_token": token, "username": "gina"}
    )
    assert foreign.status_code == 403


def test_outsiders_get_an_error_page_for_merchant_a(client, world):
    for user in (world.resident, world.owner_b, world.isv_q):
        login(client, user)
        response = client.get(f"/console/merchant/{world.merchant_a}")
        assert response.status_code == 403
        assert "Alice Noodles" not in response.text


def test_operator_dashboard_and_pages(client, world):
    login(client, world.owner_a)
    for path in (
        "/console/operator",
        "/console/operator/brands",
        "/console/operator/categories",
        "/console/operator/merchants",
        "/console/operator/providers",
    ):
        assert client.get(path).status_code == 403, path
    login(client, world.operator)
    dashboard = client.get("/console/operator")
    assert dashboard.status_code == 200
    for link in (
        "/console/operator/reviews",
        "/console/operator/miniapps",
        "/console/operator/brands",
        "/console/operator/categories",
        "/console/operator/hub",
    ):
        assert f'href="{link}"' in dashboard.text
    assert re.search(r'id="count-merchants">\s*2<', dashboard.text)
    assert re.search(r'id="count-brands">\s*0<', dashboard.text)
    assert f'data-merchant="{world.merchant_a}"' in client.get("/console/operator/merchants").text
    assert f'data-provider="{world.provider_q}"' in client.get("/console/operator/providers").text


def test_operator_manages_categories(client, world, database):
    login(client, world.operator)
    token = csrf(client, "/console/operator/categories")
    created = client.post(
        "/console/operator/categories",
        data={"csrf_token": token, "code": "pharmacy", "name_zh": "药店", "name_en": "Pharmacy"},
    )
    assert created.status_code == 200 and 'data-category="pharmacy"' in created.text
    duplicate = client.post(
        "/console/operator/categories",
        data={"csrf_token": token, "code": "pharmacy", "name_zh": "药店", "name_en": "Pharmacy"},
    )
    assert duplicate.status_code == 409 and "类目编码 pharmacy 已被占用" in duplicate.text
    client.post(
        "/console/operator/categories/pharmacy/urgent", data={"csrf_token": token, "urgent": "1"}
    )
    client.post(
        "/console/operator/categories/food/rename",
        data={"csrf_token": token, "name_zh": "美食餐饮", "name_en": "Food & drink"},
    )
    with database.unit_of_work() as db:
        assert db.scalar(select(Category.urgent).where(Category.code == "pharmacy")) is True
        assert db.scalar(select(Category.name_zh).where(Category.code == "food")) == "美食餐饮"


def test_operator_opens_merchants_and_providers(client, world, make_user, database):
    hank = make_user(username="hank")
    login(client, world.operator)
    token = csrf(client, "/console/operator/merchants")
    missing_owner = client.post(
        "/console/operator/merchants",
        data={
            "csrf_token": token,
            "owner": "ghost",
            "name": "H",
            "category": "food",
            "cities": "武汉",
        },
    )
    assert missing_owner.status_code == 404 and "ghost" in missing_owner.text
    created = client.post(
        "/console/operator/merchants",
        data={
            "csrf_token": token,
            "owner": "hank",
            "name": "Hank Hardware",
            "category": "food",
            "cities": "武汉",
        },
    )
    assert created.status_code == 200 and "Hank Hardware" in created.text
    provider = client.post(
        "/console/operator/providers",
        data={"csrf_token": token, "name": "Oak ISV", "staff": "hank"},
    )
    assert provider.status_code == 200 and "Oak ISV" in provider.text
    with database.unit_of_work() as db:
        owner_of = db.scalar(select(Merchant.public_id).where(Merchant.name == "Hank Hardware"))
    login(client, hank)
    assert owner_of in client.get("/console/merchant").text
    assert "Oak ISV" in client.get("/console/isv").text
