"""A small world for the merchants tests: two merchants, two providers (one authorized by
merchant A, one not), an operator and a resident, built through the real services."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from tests.conftest import PASSWORD
from townsquare.accounts.models import Role, User
from townsquare.core.database import Database
from townsquare.merchants import authorizations, categories, providers, service


@dataclass
class World:
    operator: User
    resident: User
    owner_a: User  # owns merchant A
    owner_b: User  # owns merchant B ("another merchant's staff" for A)
    isv_p: User  # works for provider P, which A authorizes
    isv_q: User  # works for provider Q, which nobody authorizes
    merchant_a: str
    merchant_b: str
    provider_p: str
    provider_q: str
    authorization_p: str


@pytest.fixture
def world(database: Database, make_user) -> World:
    operator = make_user(Role.OPERATOR, username="olga")
    resident = make_user(username="resident")
    owner_a, owner_b = make_user(username="alice"), make_user(username="bob")
    isv_p, isv_q = make_user(username="pat"), make_user(username="quinn")
    with database.unit_of_work() as db:
        categories.create_category(db, actor=None, code="food", name_zh="美食", name_en="Food")
        categories.create_category(
            db, actor=None, code="locksmith", name_zh="开锁", name_en="Locksmith", urgent=True
        )
        a = service.create_merchant(
            db,
            actor=None,
            owner_username="alice",
            name="Alice Noodles",
            category_code="food",
            cities=["武汉"],
        )
        b = service.create_merchant(
            db,
            actor=None,
            owner_username="bob",
            name="Bob Bakery",
            category_code="food",
            cities=["武汉", "北京"],
        )
        p = providers.create_provider(db, actor=None, name="Pine ISV", staff_username="pat")
        q = providers.create_provider(db, actor=None, name="Quartz ISV", staff_username="quinn")
        grant = authorizations.grant(
            db, actor=None, merchant_id=a.public_id, provider_id=p.public_id
        )
        ids = (a.public_id, b.public_id, p.public_id, q.public_id, grant.public_id)
    return World(operator, resident, owner_a, owner_b, isv_p, isv_q, *ids)


def login(client: TestClient, user: User) -> None:
    """Log the test client in through the login form (a cookie session)."""
    client.cookies.clear()
    response = client.post(
        "/login",
        data={"username": user.username, "password": PASSWORD, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def csrf(client: TestClient, path: str = "/me") -> str:
    """The session's CSRF token, read from a page's hidden form field."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found, "no CSRF token on " + path
    return found.group(1)
