"""An ISV on top of the gateway world: a service provider with a third-party app (its key pair,
packages granted, a registered redirect address), and the mini-app's merchant whose owner can
authorize it."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from tests.gateway import gateway_world
from townsquare.accounts.models import Role, User
from townsquare.core.database import Database
from townsquare.core.settings import Settings
from townsquare.gateway import apps, authorize, keys
from townsquare.gateway.protocol import signing
from townsquare.merchants import authorizations, providers
from townsquare.merchants.models import Authorization, Merchant
from townsquare.miniapps.models import MiniApp

REDIRECT = "https://isv.example.com/alipay/callback?from=townsquare"


@dataclass(frozen=True)
class IsvWorld:
    app_id: str
    private_key: str
    platform_public_key: str
    provider_id: str
    merchant_id: str
    miniapp_id: str
    owner: User  # the merchant's owner (merchant staff)
    staff: User  # the provider's staff
    base: gateway_world.World  # the mini-app's own app, for comparison


def build(database: Database, settings: Settings, make_user, *, name: str = "云帆科技",
          packages: tuple[str, ...] = ("authorization", "marketing", "data"),
          base: gateway_world.World | None = None) -> IsvWorld:
    base = base or gateway_world.build(database, settings, make_user,
                                       packages=("identity", "marketing", "data"))
    staff = make_user(Role.ISV_STAFF, display_name="服务商员工")
    key = signing.new_private_key()
    with database.unit_of_work() as db:
        operator = db.get(User, base.operator.id)
        provider = providers.create_provider(db, actor=operator, name=name,
                                             staff_username=staff.username)
        acting = db.get(User, staff.id)
        app = apps.app_for_provider(db, actor=acting, provider=provider)
        keys.add_public_key(db, actor=acting, app=app,
                            public_key=signing.public_key_text(key.public_key()))
        for package in packages:
            apps.apply(db, actor=acting, app=app, package=package)
            apps.decide(db, actor=operator, app=app, package=package, grant=True)
        authorize.set_redirect_uri(db, actor=acting, app=app, redirect_uri=REDIRECT)
        miniapp = db.scalar(select(MiniApp).where(MiniApp.public_id == base.miniapp_id))
        merchant = db.get(Merchant, miniapp.merchant_id)
        return IsvWorld(
            app_id=app.app_id, private_key=signing.private_key_pkcs1(key),
            platform_public_key=base.platform_public_key, provider_id=provider.public_id,
            merchant_id=merchant.public_id, miniapp_id=base.miniapp_id, owner=base.owner,
            staff=staff, base=base,
        )


def authorize_code(database: Database, world: IsvWorld, state: str = "") -> str:
    """The merchant's owner confirms the ISV app's authorization request: the app_auth_code
    the redirect carries."""
    with database.unit_of_work() as db:
        ask = authorize.authorize_request(db, app_id=world.app_id, redirect_uri=REDIRECT,
                                          state=state)
        target = authorize.confirm(db, actor=db.get(User, world.owner.id), request=ask,
                                   merchant_id=world.merchant_id)
    assert target.startswith("https://isv.example.com/alipay/callback?")
    query = parse_qs(urlsplit(target).query)
    assert query["app_id"] == [world.app_id] and query["from"] == ["townsquare"]
    return query["app_auth_code"][0]


def revoke(database: Database, world: IsvWorld) -> None:
    """The merchant revokes the provider in its console (the existing authorization)."""
    with database.unit_of_work() as db:
        merchant = db.scalar(select(Merchant).where(Merchant.public_id == world.merchant_id))
        found = db.scalar(select(Authorization).where(
            Authorization.merchant_id == merchant.id, Authorization.revoked_at.is_(None)))
        authorizations.revoke(db, actor=db.get(User, world.owner.id),
                              merchant_id=world.merchant_id, authorization_id=found.public_id)
