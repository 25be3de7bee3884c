"""Open-platform pages for service providers and the merchants they serve: a provider's
third-party app (the same console page as a mini-app's app, plus its redirect address and the
authorization link and QR code it sends merchants), the page where a merchant confirms an
authorization (`/oauth2/appToAppAuth.htm`, Alipay's address for it), and a merchant's list of
authorized apps."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.deps import CurrentUser, FormUser
from townsquare.accounts.models import User
from townsquare.core.errors import TownsquareError
from townsquare.core.i18n import N_, gettext
from townsquare.core.settings import Settings
from townsquare.gateway import apps, authorize, console, keys, notify
from townsquare.gateway.methods import PACKAGES
from townsquare.gateway.models import GatewayApp
from townsquare.gateway.pages import PlatformKeyText
from townsquare.merchants import providers
from townsquare.merchants.service import staffed_merchant
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.forms import flashes, see_other
from townsquare.web.qr import qr_svg
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)
APP_PAGE = "gateway/console_app.html"
AUTHORIZE_PAGE = "gateway/authorize.html"
DONE = {
    "created": N_("The open platform is enabled for this service provider."),
    "key": "The new public key is in use; the previous key keeps working during the overlap.",
    "applied": "Applied: an operator will decide.",
    "resent": "The notification will be sent again now.",
    "redirect": N_("Redirect address saved."),
}
Text = Annotated[str, Form(max_length=500)]


# ---- the provider's app console ------------------------------------------------------------------


def _context(request: Request, db: Session, settings: Settings, user: User, isv_id: str, *,
             platform_key: str, method: str = "", failed: bool = False,
             page: int = 1) -> dict[str, Any]:
    provider = providers.staffed_provider(db, actor=user, public_id=isv_id)
    app = db.scalar(select(GatewayApp).where(GatewayApp.provider_id == provider.id))
    context: dict[str, Any] = {
        "provider": provider, "app": app, "can_act": True, "packages": PACKAGES,
        "method": method, "failed": failed, "page": page,
        "base": f"/console/isv/{isv_id}/gateway", "owner_name": provider.name,
        "owner_link": "/console/isv",
    }
    if app is not None:
        context |= console.page_context(db, app, platform_key=platform_key,
                                        rate_limits=settings.gateway_rate_limits,
                                        method=method, failed=failed, page=page)
        if app.redirect_uri:
            link = authorize.authorize_link(str(request.base_url), app)
            context |= {"authorize_link": link,
                        "authorize_qr": qr_svg(link, label=gettext("Authorization link"))}
    return context


def _acting(db: Session, user: User, isv_id: str) -> GatewayApp:
    provider = providers.staffed_provider(db, actor=user, public_id=isv_id)
    return apps.app_for_provider(db, actor=user, provider=provider)


def _refused(request: Request, db: Session, settings: Settings, user: User, isv_id: str,
             exc: TownsquareError) -> HTMLResponse:
    db.rollback()
    key = keys.ensure_platform_key(db, secret=settings.effective_secret_key).public_key
    context = _context(request, db, settings, user, isv_id, platform_key=key)
    return render(request, APP_PAGE, error=exc.render(gettext), status_code=422, **context)


@router.get("/console/isv/{isv_id}/gateway", response_class=HTMLResponse)
def app_page(
    request: Request, isv_id: str, key: PlatformKeyText, user: CurrentUser, db: DbSession,
    settings: AppSettings, method: Annotated[str, Query(max_length=64)] = "",
    failed: bool = False, page: Annotated[int, Query(ge=1, le=1000)] = 1,
) -> HTMLResponse:
    context = _context(request, db, settings, user, isv_id, platform_key=key, method=method,
                       failed=failed, page=page)
    return render(request, APP_PAGE, flashes=flashes(request, DONE), **context)


@router.post("/console/isv/{isv_id}/gateway")
def enable(isv_id: str, user: FormUser, db: DbSession) -> Response:
    _acting(db, user, isv_id)
    return see_other(f"/console/isv/{isv_id}/gateway?ok=created")


@router.post("/console/isv/{isv_id}/gateway/redirect")
def set_redirect(request: Request, isv_id: str, user: FormUser, db: DbSession,
                 settings: AppSettings, redirect_uri: Text = "") -> Response:
    app = _acting(db, user, isv_id)
    try:
        authorize.set_redirect_uri(db, actor=user, app=app, redirect_uri=redirect_uri)
    except TownsquareError as exc:
        return _refused(request, db, settings, user, isv_id, exc)
    return see_other(f"/console/isv/{isv_id}/gateway?ok=redirect#app-auth")


@router.post("/console/isv/{isv_id}/gateway/keys")
def upload_key(
    request: Request, isv_id: str, user: FormUser, db: DbSession, settings: AppSettings,
    public_key: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    app = _acting(db, user, isv_id)
    try:
        keys.add_public_key(db, actor=user, app=app, public_key=public_key)
    except TownsquareError as exc:
        return _refused(request, db, settings, user, isv_id, exc)
    return see_other(f"/console/isv/{isv_id}/gateway?ok=key")


@router.post("/console/isv/{isv_id}/gateway/keys/generate", response_class=HTMLResponse)
def generate_key(request: Request, isv_id: str, user: FormUser, db: DbSession) -> Response:
    app = _acting(db, user, isv_id)
    private = keys.generate_key_pair(db, actor=user, app=app)
    page = render(request, "gateway/console_private_key.html", app=app,
                  base=f"/console/isv/{isv_id}/gateway", private_key=private)
    page.headers["Cache-Control"] = "no-store"  # shown once: no copy in any cache
    return page


@router.post("/console/isv/{isv_id}/gateway/packages")
def apply_package(
    request: Request, isv_id: str, user: FormUser, db: DbSession, settings: AppSettings,
    package: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    app = _acting(db, user, isv_id)
    try:
        apps.apply(db, actor=user, app=app, package=package)
    except TownsquareError as exc:
        return _refused(request, db, settings, user, isv_id, exc)
    return see_other(f"/console/isv/{isv_id}/gateway?ok=applied")


@router.post("/console/isv/{isv_id}/gateway/notifications/{notify_id}")
def resend(isv_id: str, notify_id: str, user: FormUser, db: DbSession) -> Response:
    notify.resend(db, actor=user, notify_id=notify_id)
    return see_other(f"/console/isv/{isv_id}/gateway?ok=resent#notifications")


# ---- the merchant's side -------------------------------------------------------------------------


def _authorize_context(db: Session, user: User, found: authorize.AuthorizeRequest
                       ) -> dict[str, Any]:
    return {"ask": found, "packages": PACKAGES,
            "merchants": authorize.merchants_to_choose(db, actor=user)}


@router.get("/oauth2/appToAppAuth.htm", response_class=HTMLResponse)
def authorize_page(
    request: Request, user: CurrentUser, db: DbSession,
    app_id: Annotated[str, Query(max_length=16)] = "",
    redirect_uri: Annotated[str, Query(max_length=500)] = "",
    state: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    """What a merchant sees on opening an ISV's authorization link: which provider's app asks
    for which capability packages, and where the answer goes."""
    found = authorize.authorize_request(db, app_id=app_id, redirect_uri=redirect_uri,
                                        state=state)
    return render(request, AUTHORIZE_PAGE, **_authorize_context(db, user, found))


@router.post("/oauth2/appToAppAuth.htm")
def confirm(
    request: Request, user: FormUser, db: DbSession,
    app_id: Annotated[str, Form(max_length=16)] = "", redirect_uri: Text = "",
    state: Annotated[str, Form(max_length=200)] = "",
    merchant: Annotated[str, Form(max_length=24)] = "",
) -> Response:
    found = authorize.authorize_request(db, app_id=app_id, redirect_uri=redirect_uri,
                                        state=state)
    try:
        target = authorize.confirm(db, actor=user, request=found, merchant_id=merchant)
    except TownsquareError as exc:
        db.rollback()
        again = authorize.authorize_request(db, app_id=app_id, redirect_uri=redirect_uri,
                                            state=state)
        return render(request, AUTHORIZE_PAGE, error=exc.render(gettext),
                      status_code=exc.status, **_authorize_context(db, user, again))
    return see_other(target)  # to the address registered on the app, and nowhere else


@router.get("/console/merchant/{mer_id}/apps", response_class=HTMLResponse)
def merchant_apps(request: Request, mer_id: str, user: CurrentUser,
                  db: DbSession) -> HTMLResponse:
    merchant = staffed_merchant(db, actor=user, public_id=mer_id)
    return render(request, "gateway/merchant_apps.html", merchant=merchant, packages=PACKAGES,
                  authorized=authorize.authorized_apps(db, actor=user, merchant_id=mer_id),
                  available=authorize.third_party_apps(db))
