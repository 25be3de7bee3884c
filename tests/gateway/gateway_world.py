"""A small world for gateway tests: a listed mini-app with a gateway app, the app's RSA key pair
(the private half as the SDKs take it), granted packages, and a resident who consented."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from tests.miniapps.shell_data import make_miniapp, verify_identity
from townsquare.accounts.models import Role, User
from townsquare.core.database import Database
from townsquare.core.settings import Settings
from townsquare.gateway import apps, keys
from townsquare.gateway.models import GatewayApp
from townsquare.gateway.protocol import signing
from townsquare.merchants.models import Merchant, MerchantStaff
from townsquare.messaging import service as messaging
from townsquare.miniapps.models import MiniApp
from townsquare.miniapps.shell import consent

PHONE = "13812345678"


@dataclass(frozen=True)
class World:
    app_id: str
    miniapp_id: str
    private_key: str  # PKCS#1 base64, the official SDK's `app_private_key`
    platform_public_key: str  # base64 SubjectPublicKeyInfo, the SDKs' "alipay public key"
    resident: User
    owner: User
    operator: User


def build(database: Database, settings: Settings, make_user, *,
          packages: tuple[str, ...] = ("identity",)) -> World:
    made = make_miniapp(database, name="鲜果时光")
    owner = make_user(Role.MERCHANT_STAFF, display_name="店长")
    operator = make_user(Role.OPERATOR, display_name="运营")
    resident = make_user(display_name="张小民")
    verify_identity(database, settings, resident, phone=PHONE, real_name="张小民")
    key = signing.new_private_key()
    with database.unit_of_work() as db:
        miniapp = db.scalar(select(MiniApp).where(MiniApp.public_id == made.id))
        merchant = db.scalar(select(Merchant).where(Merchant.public_id == made.merchant_id))
        db.add(MerchantStaff(merchant_id=merchant.id, user_id=owner.id))
        db.flush()
        acting = db.get(User, owner.id)
        app = apps.app_for_miniapp(db, actor=acting, miniapp=miniapp)
        keys.add_public_key(db, actor=acting, app=app,
                            public_key=signing.public_key_text(key.public_key()))
        for package in packages:
            apps.apply(db, actor=acting, app=app, package=package)
            apps.decide(db, actor=db.get(User, operator.id), app=app, package=package, grant=True)
        platform = keys.ensure_platform_key(db, secret=settings.effective_secret_key)
        return World(
            app_id=app.app_id, miniapp_id=made.id, private_key=signing.private_key_pkcs1(key),
            platform_public_key=platform.public_key, resident=resident, owner=owner,
            operator=operator,
        )


def auth_code(database: Database, settings: Settings, world: World,
              scopes: str = "phone,real_name") -> str:
    """The one-time code the resident's consent hands the mini-app."""
    with database.unit_of_work() as db:
        return consent.grant(db, settings=settings, actor=db.get(User, world.resident.id),
                             miniapp_id=world.miniapp_id, scopes=scopes).code


def subscribe(database: Database, world: World, key: str = "order_ready") -> None:
    """The mini-app defines a template; the resident subscribes to it once."""
    with database.unit_of_work() as db:
        miniapp = db.scalar(select(MiniApp).where(MiniApp.public_id == world.miniapp_id))
        messaging.ensure_template(db, miniapp=miniapp, key=key, title="取货提醒",
                                  body="您的订单 {order} 已备好，金额 {amount} 元")
        messaging.subscribe(db, actor=db.get(User, world.resident.id),
                            miniapp_id=world.miniapp_id, keys=[key])


def app_row(database: Database, world: World) -> GatewayApp:
    with database.unit_of_work() as db:
        app = db.scalar(select(GatewayApp).where(GatewayApp.app_id == world.app_id))
        db.expunge(app)
        return app
