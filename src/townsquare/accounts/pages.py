"""Accounts pages: log in and out, sign up, and the profile with real-name verification."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from townsquare.accounts import service
from townsquare.accounts.deps import SESSION_COOKIE, CurrentUser, FormUser
from townsquare.core import i18n
from townsquare.core.errors import TownsquareError
from townsquare.core.settings import Settings
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.forms import cross_site, rejected, safe_next, same_origin, see_other
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form()]


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "accounts/login.html", next=safe_next(next))


@router.post("/login")
def login(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    username: Text = "",
    password: Text = "",
    next: Text = "/",
) -> Response:
    if not same_origin(request):
        return cross_site(request)
    outcome = service.login(
        db, settings=settings, username=username, password=password, kind="cookie"
    )
    if outcome.session is None:
        message = i18n.gettext(outcome.error).format(
            minutes=max(1, outcome.retry_after_seconds // 60)
        )
        status = 429 if outcome.retry_after_seconds else 401
        return render(
            request,
            "accounts/login.html",
            status_code=status,
            error=message,
            username=username,
            next=safe_next(next),
        )
    return _signed_in(see_other(safe_next(next)), outcome.token, settings)


def _signed_in(response: Response, token: str, settings: Settings) -> Response:
    """`response` carrying the session cookie of a login that just succeeded."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
    )
    return response


@router.post("/logout")
def logout(request: Request, user: FormUser, db: DbSession) -> Response:
    service.logout(db, session=request.state.auth_session)
    response = see_other("/")
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/signup", response_class=HTMLResponse)
def signup_form(request: Request) -> HTMLResponse:
    return render(request, "accounts/signup.html")


@router.post("/signup")
def signup(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    username: Text = "",
    password: Text = "",
    display_name: Text = "",
) -> Response:
    if not same_origin(request):
        return cross_site(request)
    try:
        user = service.create_user(
            db, actor=None, username=username, password=password, display_name=display_name
        )
    except TownsquareError as exc:
        return rejected(
            request, db, "accounts/signup.html", exc, username=username, display_name=display_name
        )
    # the new account is signed in at once (its password was just chosen; no second typing)
    outcome = service.start_session(db, settings=settings, user=user, kind="cookie")
    return _signed_in(see_other("/me"), outcome.token, settings)


@router.get("/me", response_class=HTMLResponse)
def profile(request: Request, user: CurrentUser) -> HTMLResponse:
    return render(request, "accounts/profile.html")


@router.post("/me/identity")
def verify_identity(
    request: Request,
    user: FormUser,
    db: DbSession,
    settings: AppSettings,
    real_name: Text = "",
    id_number: Text = "",
    phone: Text = "",
) -> Response:
    try:
        service.verify_identity(
            db,
            settings=settings,
            actor=user,
            real_name=real_name,
            id_number=id_number,
            phone=phone,
        )
    except TownsquareError as exc:
        return rejected(request, db, "accounts/profile.html", exc, real_name=real_name, phone=phone)
    return see_other("/me?verified=1")


@router.post("/me/password")
def change_password(
    request: Request, user: FormUser, db: DbSession, old_password: Text = "",
    new_password: Text = "",
) -> Response:
    try:
        service.change_password(db, actor=user, session=request.state.auth_session,
                                old_password=old_password, new_password=new_password)
    except TownsquareError as exc:
        return rejected(request, db, "accounts/profile.html", exc)
    return see_other("/me?password=1")
