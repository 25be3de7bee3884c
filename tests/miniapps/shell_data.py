"""Rows for the hub / shell / consent tests, written straight through the ORM, and a helper that
logs a browser-like test client in and returns its CSRF token."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import count
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import PASSWORD
from townsquare.accounts import service as accounts
from townsquare.accounts.identity import id_check_char
from townsquare.accounts.models import User
from townsquare.core.database import Database
from townsquare.core.security import token_digest
from townsquare.core.settings import Settings
from townsquare.merchants.models import Brand, BrandStatus, Category, Merchant, ServiceProvider
from townsquare.miniapps.models import (
    IssuedSub,
    MiniApp,
    MiniAppKind,
    MiniAppVersion,
    Template,
    TemplateStatus,
    VersionState,
)

SECRET = "client-secret-for-tests"
_serial = count(1)


@dataclass(frozen=True)
class App:
    id: str
    merchant_id: str
    name: str


def make_miniapp(
    database: Database,
    *,
    name: str = "生鲜到家",
    description: str = "社区生鲜配送",
    merchant_name: str | None = None,
    kind: str = "template",
    runtime: str = "storefront",
    config: dict[str, Any] | None = None,
    template_defaults: dict[str, Any] | None = None,
    external_url: str = "https://shop.example.com/app",
    listed: bool = True,
    certified_brand: str | None = None,
    client_secret: str = SECRET,
    client_secret_digest: str | None = None,
) -> App:
    """A mini-app with a merchant, a category and (when listed) a published version."""
    n = next(_serial)
    with database.unit_of_work() as db:
        category = db.scalar(select(Category).where(Category.code == "grocery"))
        if category is None:
            category = Category(code="grocery", name_zh="生鲜超市", name_en="Groceries")
            db.add(category)
        merchant = Merchant(
            name=merchant_name or f"城东鲜果店{n}", description="", category=category, cities=[]
        )
        db.add(merchant)
        db.flush()
        if certified_brand:
            db.add(Brand(merchant_id=merchant.id, name=certified_brand,
                         status=BrandStatus.CERTIFIED))
        template = None
        if kind == "template":
            provider = ServiceProvider(name=f"服务商{n}")
            db.add(provider)
            db.flush()
            defaults = template_defaults or {}
            template = Template(
                provider_id=provider.id, runtime=runtime, name=f"模板{n}",
                fields=[{"name": key, "default": value} for key, value in defaults.items()],
                status=TemplateStatus.PUBLISHED,
            )
            db.add(template)
            db.flush()
        miniapp = MiniApp(
            merchant_id=merchant.id, category_id=category.id,
            kind=MiniAppKind.TEMPLATE if kind == "template" else MiniAppKind.EXTERNAL,
            template_id=template.id if template else None,
            client_secret_digest=client_secret_digest or token_digest(client_secret),
            name=name, icon="🍎", description=description, listed=listed,
        )
        db.add(miniapp)
        db.flush()
        db.add(MiniAppVersion(
            miniapp_id=miniapp.id, number=1, label="1.0.0", name=name, icon="🍎",
            description=description, config=config if config is not None else _config(runtime),
            external_url=external_url if kind == "external" else "",
            state=VersionState.PUBLISHED if listed else VersionState.TAKEN_DOWN,
        ))
        return App(id=miniapp.public_id, merchant_id=merchant.public_id, name=name)


def _config(runtime: str) -> dict[str, Any]:
    return {
        "storefront": {"welcome": "欢迎光临", "opening_hours": "08:00-20:00", "delivery": True},
        "info": {"headline": "停水通知", "body": "明天 9 点到 12 点停水。"},
        "consultation": {"department": "全科", "hours": "09:00-21:00", "mode": "video"},
    }.get(runtime, {})


def set_listed(database: Database, miniapp_id: str, listed: bool) -> None:
    with database.unit_of_work() as db:
        db.scalar(select(MiniApp).where(MiniApp.public_id == miniapp_id)).listed = listed


def verify_identity(
    database: Database, settings: Settings, user: User, *, phone: str = "13812345678",
    real_name: str = "张小民", serial: int = 1,
) -> None:
    first17 = f"11010119900307{serial:03d}"
    with database.unit_of_work() as db:
        accounts.verify_identity(
            db, settings=settings, actor=db.get(User, user.id), real_name=real_name,
            id_number=first17 + id_check_char(first17), phone=phone,
        )


def browser_login(client: TestClient, user: User) -> str:
    """Log `client` in with a session cookie (as a browser does); returns the CSRF token."""
    response = client.post(
        "/login", data={"username": user.username, "password": PASSWORD, "next": "/me"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    page = client.get("/me")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, "no CSRF token on /me"
    return match.group(1)


def at(year: int = 2026, month: int = 3, day: int = 1, hour: int = 9) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def issue_sub(database: Database, miniapp_id: str, sub: str, *,
              first_at: datetime | None = None) -> None:
    """As if a user had opened the mini-app through the shell and got `sub` (first launch at
    `first_at`, default long ago)."""
    with database.unit_of_work() as db:
        miniapp = db.scalar(select(MiniApp).where(MiniApp.public_id == miniapp_id))
        user = accounts.create_user(db, actor=None, username=f"sub{next(_serial)}",
                                    password=PASSWORD, display_name="居民")
        db.add(IssuedSub(miniapp_id=miniapp.id, sub=sub, user_id=user.id,
                         first_at=first_at or datetime(2020, 1, 1, tzinfo=UTC)))
