"""The console's signature debugger (`/console/miniapps/{id}/gateway/debug`; see debugger.py).
Pasted private keys are used for the one answer, never echoed back, stored or cached."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from townsquare.accounts.deps import CurrentUser, FormUser
from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.core.errors import NotFound
from townsquare.gateway import console, debugger
from townsquare.gateway.models import GatewayApp
from townsquare.miniapps import registry
from townsquare.miniapps.models import MiniApp
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)
PAGE = "gateway/console_debug.html"
Text = Annotated[str, Form(max_length=debugger.MAX_INPUT)]


def _app(db: DbSession, user: User, miniapp_id: str) -> tuple[MiniApp, GatewayApp]:
    """Whoever sees the app's console page may debug its signatures (it only reads)."""
    miniapp = registry.get_miniapp(db, actor=user, public_id=miniapp_id)
    app = console.app_of(db, miniapp.id)
    if app is None:
        raise NotFound("The open platform is not enabled for this mini-app.")
    return miniapp, app


@router.get("/console/miniapps/{miniapp_id}/gateway/debug", response_class=HTMLResponse)
def debug_page(request: Request, miniapp_id: str, user: CurrentUser,
               db: DbSession) -> HTMLResponse:
    miniapp, app = _app(db, user, miniapp_id)
    return render(request, PAGE, miniapp=miniapp, app=app, diagnosis=None, url="", body="",
                  sign="")


@router.post("/console/miniapps/{miniapp_id}/gateway/debug", response_class=HTMLResponse)
def debug(
    request: Request, miniapp_id: str, user: FormUser, db: DbSession, settings: AppSettings,
    url: Text = "", body: Text = "", sign: Annotated[str, Form(max_length=4096)] = "",
    private_key: Annotated[str, Form(max_length=8192)] = "",
) -> HTMLResponse:
    miniapp, app = _app(db, user, miniapp_id)
    found = debugger.diagnose(db, app=app, url=url, body=body, sign=sign,
                              private_key=private_key, zone=settings.timezone, now=clock.now())
    page = render(request, PAGE, miniapp=miniapp, app=app, diagnosis=found, url=url, body=body,
                  sign=sign)
    page.headers["Cache-Control"] = "no-store"  # it may show a sign made with a pasted key
    return page
