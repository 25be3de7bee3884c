"""A small world for the registry tests: two merchants, providers in every relation to the first
merchant (authorized, never authorized, revoked), a resident and an operator, a published and a
draft template. Rows are written straight through the ORM (the merchants services are not
needed to set the scene)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import PASSWORD
from townsquare.accounts.models import Role, RoleGrant, User
from townsquare.core.clock import clock
from townsquare.core.database import Database
from townsquare.core.security import hash_password
from townsquare.merchants.models import (
    Authorization,
    Category,
    Merchant,
    MerchantStaff,
    ProviderStaff,
    ServiceProvider,
)
from townsquare.miniapps.models import Template, TemplateStatus
from townsquare.miniapps.runtimes import field_dicts

STOREFRONT_DEFAULTS = {"welcome": "欢迎光临", "opening_hours": "08:00-20:00", "delivery": True}


@dataclass
class World:
    merchant: str  # public ids
    other_merchant: str
    isv: str
    stranger_isv: str
    revoked_isv: str
    template: str  # published storefront template of `isv`
    draft_template: str
    owner: User  # staff of `merchant`
    other_owner: User
    isv_user: User
    stranger_isv_user: User
    revoked_isv_user: User
    resident: User
    operator: User

    @property
    def outsiders(self) -> dict[str, User]:
        """Everyone who must not see `merchant`'s mini-apps."""
        return {
            "resident": self.resident, "other merchant": self.other_owner,
            "unauthorized ISV": self.stranger_isv_user, "revoked ISV": self.revoked_isv_user,
        }


@lru_cache
def _password_hash() -> str:
    return hash_password(PASSWORD)  # argon2 is slow on purpose: hash once for every test


def _users(database: Database, *specs: tuple[str, Role]) -> list[User]:
    with database.unit_of_work() as db:
        users = [
            User(username=name, display_name=f"测试{name}", password_hash=_password_hash(),
                 roles=[RoleGrant(role=role)])
            for name, role in specs
        ]
        db.add_all(users)
        db.flush()
        for user in users:
            db.refresh(user)
            assert user.roles  # loaded now, usable after the session closes
    return users


def build_world(database: Database, make_user=None) -> World:
    owner, other_owner, isv_user, stranger, revoked, resident, operator = _users(
        database, ("owner", Role.MERCHANT_STAFF), ("other_owner", Role.MERCHANT_STAFF),
        ("isv_dev", Role.ISV_STAFF), ("stranger_dev", Role.ISV_STAFF),
        ("revoked_dev", Role.ISV_STAFF), ("resident", Role.RESIDENT), ("operator", Role.OPERATOR),
    )
    now = clock.now()
    with database.unit_of_work() as db:
        grocery = Category(code="grocery", name_zh="生鲜", name_en="Groceries", urgent=False)
        medicine = Category(code="medicine", name_zh="药品", name_en="Medicine", urgent=True)
        db.add_all([grocery, medicine])
        db.flush()
        merchant = Merchant(name="城东鲜果店", category_id=grocery.id, cities=["武汉"])
        other = Merchant(name="城西药房", category_id=medicine.id, cities=["武汉"])
        providers = [ServiceProvider(name=n) for n in ("好帮手科技", "陌生科技", "旧伙伴科技")]
        db.add_all([merchant, other, *providers])
        db.flush()
        db.add_all([
            MerchantStaff(merchant_id=merchant.id, user_id=owner.id, is_owner=True),
            MerchantStaff(merchant_id=other.id, user_id=other_owner.id, is_owner=True),
            ProviderStaff(provider_id=providers[0].id, user_id=isv_user.id),
            ProviderStaff(provider_id=providers[1].id, user_id=stranger.id),
            ProviderStaff(provider_id=providers[2].id, user_id=revoked.id),
            Authorization(merchant_id=merchant.id, provider_id=providers[0].id,
                          granted_by_id=owner.id, granted_at=now),
            Authorization(merchant_id=merchant.id, provider_id=providers[2].id,
                          granted_by_id=owner.id, granted_at=now, revoked_at=now,
                          revoked_by_id=owner.id),
        ])
        template = Template(
            provider_id=providers[0].id, runtime="storefront", name="社区小店模板",
            description="几分钟上线的小店", category_id=grocery.id,
            fields=field_dicts("storefront", STOREFRONT_DEFAULTS), status=TemplateStatus.PUBLISHED,
        )
        draft = Template(
            provider_id=providers[0].id, runtime="info", name="草稿模板",
            fields=field_dicts("info"), status=TemplateStatus.DRAFT,
        )
        db.add_all([template, draft])
        db.flush()
        return World(
            merchant=merchant.public_id, other_merchant=other.public_id,
            isv=providers[0].public_id, stranger_isv=providers[1].public_id,
            revoked_isv=providers[2].public_id, template=template.public_id,
            draft_template=draft.public_id, owner=owner, other_owner=other_owner,
            isv_user=isv_user, stranger_isv_user=stranger, revoked_isv_user=revoked,
            resident=resident, operator=operator,
        )


def external_app(**overrides: Any) -> dict[str, Any]:
    """Arguments for registry.create_miniapp making an external mini-app (merchant_id added)."""
    return {
        "kind": "external", "name": "鲜果到家", "icon": "🍎", "description": "新鲜水果送到家",
        "tags": ["水果", "配送"], "cities": ["武汉"],
        "external_url": "https://shop.example.com/app", **overrides,
    }


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def browser_login(client: TestClient, user: User) -> str:
    """Log in with the cookie session (replacing any other); returns the CSRF token."""
    client.cookies.clear()
    response = client.post(
        "/login", data={"username": user.username, "password": PASSWORD, "next": "/me"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    page = client.get("/me")
    return _CSRF.search(page.text).group(1)
