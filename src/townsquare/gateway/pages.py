"""Open-platform console pages: a mini-app's gateway app (app id, keys, packages, calls) for
those who may act for its merchant, and the operators' queue of package applications."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.deps import CurrentUser, FormUser
from townsquare.accounts.models import User
from townsquare.core.errors import NotFound, TownsquareError
from townsquare.core.i18n import gettext
from townsquare.core.settings import Settings
from townsquare.gateway import apps, console, keys, notify
from townsquare.gateway.methods import PACKAGES
from townsquare.gateway.models import GatewayApp
from townsquare.merchants.access import can_act_for
from townsquare.miniapps import registry
from townsquare.web.deps import AppSettings, DbSession, get_settings
from townsquare.web.forms import flashes, see_other
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)
APP_PAGE = "gateway/console_app.html"
DONE = {
    "created": "The open platform is enabled for this mini-app.",
    "key": "The new public key is in use; the previous key keeps working during the overlap.",
    "applied": "Applied: an operator will decide.",
    "resent": "The notification will be sent again now.",
}


def platform_key(request: Request) -> str:
    """The platform key's public half for a console page, read (or made) before the request's
    own read-only unit of work (`console.platform_key_text`)."""
    return console.platform_key_text(request.app.state.database,
                                     secret=get_settings(request).effective_secret_key)


PlatformKeyText = Annotated[str, Depends(platform_key)]


def _context(db: Session, settings: Settings, user: User, miniapp_id: str, *, platform_key: str,
             method: str = "", failed: bool = False, page: int = 1) -> dict[str, Any]:
    miniapp = registry.get_miniapp(db, actor=user, public_id=miniapp_id)
    app = console.app_of(db, miniapp.id)
    context: dict[str, Any] = {
        "miniapp": miniapp, "app": app, "can_act": can_act_for(db, user, miniapp.merchant),
        "packages": PACKAGES, "method": method, "failed": failed, "page": page,
        "base": f"/console/miniapps/{miniapp_id}/gateway", "owner_name": miniapp.name,
        "owner_link": f"/console/miniapps/{miniapp_id}",
    }
    if app is not None:
        context |= console.page_context(db, app, platform_key=platform_key,
                                        rate_limits=settings.gateway_rate_limits,
                                        method=method, failed=failed, page=page)
    return context


@router.get("/console/miniapps/{miniapp_id}/gateway", response_class=HTMLResponse)
def app_page(
    request: Request, miniapp_id: str, key: PlatformKeyText, user: CurrentUser, db: DbSession,
    settings: AppSettings, method: Annotated[str, Query(max_length=64)] = "",
    failed: bool = False, page: Annotated[int, Query(ge=1, le=1000)] = 1,
) -> HTMLResponse:
    context = _context(db, settings, user, miniapp_id, platform_key=key, method=method,
                       failed=failed, page=page)
    return render(request, APP_PAGE, flashes=flashes(request, DONE), **context)


def _acting(db: Session, user: User, miniapp_id: str) -> GatewayApp:
    miniapp = registry.acting_miniapp(db, actor=user, public_id=miniapp_id)
    return apps.app_for_miniapp(db, actor=user, miniapp=miniapp)


def _refused(request: Request, db: Session, settings: Settings, user: User, miniapp_id: str,
             exc: TownsquareError) -> HTMLResponse:
    db.rollback()
    key = keys.ensure_platform_key(db, secret=settings.effective_secret_key).public_key
    context = _context(db, settings, user, miniapp_id, platform_key=key)
    return render(request, APP_PAGE, error=exc.render(gettext), status_code=422, **context)


@router.post("/console/miniapps/{miniapp_id}/gateway")
def enable(miniapp_id: str, user: FormUser, db: DbSession) -> Response:
    _acting(db, user, miniapp_id)
    return see_other(f"/console/miniapps/{miniapp_id}/gateway?ok=created")


@router.post("/console/miniapps/{miniapp_id}/gateway/keys")
def upload_key(
    request: Request, miniapp_id: str, user: FormUser, db: DbSession, settings: AppSettings,
    public_key: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    app = _acting(db, user, miniapp_id)
    try:
        keys.add_public_key(db, actor=user, app=app, public_key=public_key)
    except TownsquareError as exc:
        return _refused(request, db, settings, user, miniapp_id, exc)
    return see_other(f"/console/miniapps/{miniapp_id}/gateway?ok=key")


@router.post("/console/miniapps/{miniapp_id}/gateway/keys/generate", response_class=HTMLResponse)
def generate_key(request: Request, miniapp_id: str, user: FormUser, db: DbSession) -> Response:
    app = _acting(db, user, miniapp_id)
    private = keys.generate_key_pair(db, actor=user, app=app)
    page = render(request, "gateway/console_private_key.html", app=app,
                  base=f"/console/miniapps/{miniapp_id}/gateway", private_key=private)
    page.headers["Cache-Control"] = "no-store"  # shown once: no copy in any cache
    return page


@router.post("/console/miniapps/{miniapp_id}/gateway/packages")
def apply_package(
    request: Request, miniapp_id: str, user: FormUser, db: DbSession, settings: AppSettings,
    package: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    app = _acting(db, user, miniapp_id)
    try:
        apps.apply(db, actor=user, app=app, package=package)
    except TownsquareError as exc:
        return _refused(request, db, settings, user, miniapp_id, exc)
    return see_other(f"/console/miniapps/{miniapp_id}/gateway?ok=applied")


@router.post("/console/miniapps/{miniapp_id}/gateway/notifications/{notify_id}")
def resend(miniapp_id: str, notify_id: str, user: FormUser, db: DbSession) -> Response:
    notify.resend(db, actor=user, notify_id=notify_id)
    return see_other(f"/console/miniapps/{miniapp_id}/gateway?ok=resent#notifications")


@router.get("/console/operator/gateway", response_class=HTMLResponse)
def applications_page(request: Request, user: CurrentUser, db: DbSession) -> HTMLResponse:
    waiting = console.waiting_applications(db, actor=user)
    return render(request, "gateway/console_operator.html", waiting=waiting, packages=PACKAGES,
                  flashes=flashes(request, {"decided": "Decision recorded."}))


@router.post("/console/operator/gateway/{app_id}/{package}")
def decide(
    app_id: str, package: str, user: FormUser, db: DbSession,
    decision: Annotated[str, Form(pattern="^(grant|refuse)$")],
) -> Response:
    app = db.scalar(select(GatewayApp).where(GatewayApp.app_id == app_id[:16]))
    if app is None:
        raise NotFound("No such app.")
    apps.decide(db, actor=user, app=app, package=package[:32], grant=decision == "grant")
    return see_other("/console/operator/gateway?ok=decided")
