"""The authorization request an ISV sends its merchants (a link or QR code shaped like Alipay's
`appToAppAuth.htm`), the merchant's confirmation, and where the resulting `app_auth_code` may
go: only to the redirect address registered on the ISV's app (no open redirect)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core import audit
from townsquare.core.clock import clock
from townsquare.core.errors import Conflict, NotFound, ValidationFailed
from townsquare.core.i18n import N_
from townsquare.core.security import new_token, token_digest
from townsquare.gateway import apps
from townsquare.gateway.app_auth import CODE_LIFETIME
from townsquare.gateway.models import AppAuthCode, AppAuthToken, AppStatus, GatewayApp
from townsquare.merchants import access, authorizations
from townsquare.merchants.models import Authorization, Merchant
from townsquare.merchants.service import staffed_merchant
from townsquare.miniapps.runtimes import is_web_url

BAD_REDIRECT = N_("The redirect address must start with https:// (http:// only for 127.0.0.1 "
                  "or localhost) and carry no #fragment.")


# ---- the ISV's side: its app's redirect address ------------------------------------------------


def clean_redirect_uri(value: str) -> str:
    value = (value or "").strip()
    if not is_web_url(value, max_length=500) or urlsplit(value).fragment or "#" in value:
        raise ValidationFailed(BAD_REDIRECT, field="redirect_uri")
    return value


def set_redirect_uri(db: Session, *, actor: User, app: GatewayApp, redirect_uri: str) -> None:
    """The provider's staff register where app_auth_codes go (audited: it decides who gets
    a merchant's authorization)."""
    apps.require_owner(db, actor, app)
    if not app.is_isv:
        raise ValidationFailed("Only a service provider's app takes a redirect address.")
    app.redirect_uri = clean_redirect_uri(redirect_uri)
    audit.record(db, actor_id=actor.id, action="gateway.app.redirect_uri", subject_type=
                 "gateway_app", subject_id=app.app_id, redirect_uri=app.redirect_uri)
    db.flush()


def authorize_link(base_url: str, app: GatewayApp) -> str:
    """The link (or QR code) an ISV sends its merchants, shaped like Alipay's appToAppAuth."""
    query = urlencode({"app_id": app.app_id, "redirect_uri": app.redirect_uri})
    return f"{base_url.rstrip('/')}/oauth2/appToAppAuth.htm?{query}"


# ---- the merchant's side: the authorization request and its confirmation ------------------------


@dataclass(frozen=True)
class AuthorizeRequest:
    app: GatewayApp
    packages: tuple[str, ...]  # what the app asks for: the packages granted to it
    redirect_uri: str
    state: str


def authorize_request(db: Session, *, app_id: str, redirect_uri: str = "",
                      state: str = "") -> AuthorizeRequest:
    """Read an authorization link. The code goes only to the address registered on the app:
    a link naming any other address is refused (no open redirect)."""
    app = apps.by_app_id(db, app_id or "")
    if app is None or not app.is_isv:
        raise NotFound("No such third-party app.")
    if not app.redirect_uri:
        raise ValidationFailed("This app has not registered a redirect address yet.")
    if redirect_uri and redirect_uri != app.redirect_uri:
        raise ValidationFailed("The redirect address is not the one registered for this app.")
    packages = tuple(sorted(apps.granted_packages(db, app)))
    return AuthorizeRequest(app=app, packages=packages, redirect_uri=app.redirect_uri,
                            state=(state or "")[:200])


def merchants_to_choose(db: Session, *, actor: User) -> list[Merchant]:
    """The merchants the actor may authorize for (its own staff only, as for any grant)."""
    ids = access.merchant_ids_of(db, actor)
    if not ids:
        return []
    return list(db.scalars(select(Merchant).where(Merchant.id.in_(ids)).order_by(Merchant.name)))


def confirm(db: Session, *, actor: User, request: AuthorizeRequest, merchant_id: str) -> str:
    """The merchant's staff confirm: the provider is authorized (the active authorization is
    used, or one is granted) and a code is made. Answers the redirect to the ISV app."""
    merchant = staffed_merchant(db, actor=actor, public_id=merchant_id)
    app = request.app
    assert app.provider is not None
    found = access.active_authorization(db, merchant_id=merchant.id, provider_id=app.provider.id)
    if found is None:
        try:
            with db.begin_nested():
                found = authorizations.grant(db, actor=actor, merchant_id=merchant.public_id,
                                             provider_id=app.provider.public_id)
        except Conflict:  # a simultaneous confirmation granted it first: use that one
            found = access.active_authorization(db, merchant_id=merchant.id,
                                                provider_id=app.provider.id)
            assert found is not None
    code, now = new_token(), clock.now()
    db.add(AppAuthCode(app_id=app.id, authorization_id=found.id, code_digest=token_digest(code),
                       packages=list(request.packages), created_at=now,
                       expires_at=now + CODE_LIFETIME))
    audit.record(db, actor_id=actor.id, action="gateway.app_auth.confirm",
                 subject_type="merchant", subject_id=merchant.public_id, app=app.app_id,
                 authorization=found.public_id, packages=",".join(request.packages))
    db.flush()
    params = {"app_id": app.app_id, "app_auth_code": code}
    if request.state:
        params["state"] = request.state
    parts = urlsplit(request.redirect_uri)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *params.items()])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


@dataclass(frozen=True)
class AuthorizedApp:
    authorization: Authorization
    app: GatewayApp
    packages: tuple[str, ...]  # what the merchant last confirmed for this app
    tokens: int  # live app_auth_tokens under this authorization


def authorized_apps(db: Session, *, actor: User, merchant_id: str) -> list[AuthorizedApp]:
    """Third-party apps of the providers the merchant authorizes now, for its console."""
    merchant = staffed_merchant(db, actor=actor, public_id=merchant_id)
    rows = db.execute(
        select(Authorization, GatewayApp)
        .join(GatewayApp, GatewayApp.provider_id == Authorization.provider_id)
        .where(Authorization.merchant_id == merchant.id, Authorization.revoked_at.is_(None))
        .order_by(Authorization.granted_at.desc())
    ).all()
    found = []
    for authorization, app in rows:
        confirmed = db.scalar(
            select(AppAuthCode.packages).where(AppAuthCode.authorization_id == authorization.id,
                                               AppAuthCode.app_id == app.id)
            .order_by(AppAuthCode.created_at.desc(), AppAuthCode.id.desc()).limit(1)
        )
        live = db.scalar(
            select(func.count()).select_from(AppAuthToken)
            .where(AppAuthToken.authorization_id == authorization.id,
                   AppAuthToken.app_id == app.id, AppAuthToken.retired_at.is_(None),
                   AppAuthToken.expires_at > clock.now())
        )
        found.append(AuthorizedApp(authorization, app, tuple(confirmed or ()), live or 0))
    return found


def third_party_apps(db: Session) -> list[GatewayApp]:
    """Providers' apps a merchant can authorize (active, with a redirect address)."""
    return list(db.scalars(
        select(GatewayApp).where(GatewayApp.provider_id.is_not(None),
                                 GatewayApp.redirect_uri != "",
                                 GatewayApp.status == AppStatus.ACTIVE)
        .order_by(GatewayApp.created_at)
    ))
