"""The console's signature debugger (`/console/miniapps/{id}/gateway/debug`, and an ISV app's at
`/console/isv/{id}/gateway/debug`; see debugger.py).
Pasted private keys are used for the one answer, never echoed back, stored or cached."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from townsquare.accounts.deps import CurrentUser, FormUser
from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.core.errors import NotFound
from townsquare.gateway import console, debugger
from townsquare.gateway.models import GatewayApp
from townsquare.merchants import providers
from townsquare.miniapps import registry
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)
PAGE = "gateway/console_debug.html"
Text = Annotated[str, Form(max_length=debugger.MAX_INPUT)]


def _app(db: DbSession, user: User, miniapp_id: str) -> tuple[dict[str, Any], GatewayApp]:
    """Whoever sees the app's console page may debug its signatures (it only reads)."""
    miniapp = registry.get_miniapp(db, actor=user, public_id=miniapp_id)
    app = console.app_of(db, miniapp.id)
    if app is None:
        raise NotFound("The open platform is not enabled for this mini-app.")
    return _owner(f"/console/miniapps/{miniapp_id}", miniapp.name), app


def _isv_app(db: DbSession, user: User, isv_id: str) -> tuple[dict[str, Any], GatewayApp]:
    provider = providers.staffed_provider(db, actor=user, public_id=isv_id)
    app = db.scalar(select(GatewayApp).where(GatewayApp.provider_id == provider.id))
    if app is None:
        raise NotFound("The open platform is not enabled for this provider.")
    return _owner("/console/isv", provider.name, base=f"/console/isv/{isv_id}/gateway"), app


def _owner(link: str, name: str, *, base: str = "") -> dict[str, Any]:
    return {"owner_link": link, "owner_name": name, "base": base or f"{link}/gateway"}


def _page(request: Request, owner: dict[str, Any], app: GatewayApp) -> HTMLResponse:
    return render(request, PAGE, app=app, diagnosis=None, url="", body="", sign="", **owner)


def _diagnose(request: Request, db: DbSession, settings: AppSettings, owner: dict[str, Any],
              app: GatewayApp, *, url: str, body: str, sign: str,
              private_key: str) -> HTMLResponse:
    found = debugger.diagnose(db, app=app, url=url, body=body, sign=sign,
                              private_key=private_key, zone=settings.timezone, now=clock.now())
    page = render(request, PAGE, app=app, diagnosis=found, url=url, body=body, sign=sign,
                  **owner)
    page.headers["Cache-Control"] = "no-store"  # it may show a sign made with a pasted key
    return page


Sign = Annotated[str, Form(max_length=4096)]
PrivateKey = Annotated[str, Form(max_length=8192)]


@router.get("/console/miniapps/{miniapp_id}/gateway/debug", response_class=HTMLResponse)
def debug_page(request: Request, miniapp_id: str, user: CurrentUser,
               db: DbSession) -> HTMLResponse:
    return _page(request, *_app(db, user, miniapp_id))


@router.post("/console/miniapps/{miniapp_id}/gateway/debug", response_class=HTMLResponse)
def debug(
    request: Request, miniapp_id: str, user: FormUser, db: DbSession, settings: AppSettings,
    url: Text = "", body: Text = "", sign: Sign = "", private_key: PrivateKey = "",
) -> HTMLResponse:
    owner, app = _app(db, user, miniapp_id)
    return _diagnose(request, db, settings, owner, app, url=url, body=body, sign=sign,
                     private_key=private_key)


@router.get("/console/isv/{isv_id}/gateway/debug", response_class=HTMLResponse)
def isv_debug_page(request: Request, isv_id: str, user: CurrentUser,
                   db: DbSession) -> HTMLResponse:
    return _page(request, *_isv_app(db, user, isv_id))


@router.post("/console/isv/{isv_id}/gateway/debug", response_class=HTMLResponse)
def isv_debug(
    request: Request, isv_id: str, user: FormUser, db: DbSession, settings: AppSettings,
    url: Text = "", body: Text = "", sign: Sign = "", private_key: PrivateKey = "",
) -> HTMLResponse:
    owner, app = _isv_app(db, user, isv_id)
    return _diagnose(request, db, settings, owner, app, url=url, body=body, sign=sign,
                     private_key=private_key)
