"""Request dependencies for who is asking: the login behind a bearer token or the session
cookie, the CSRF check of cookie-authenticated writes, and the user a route requires."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from townsquare.accounts import service as accounts
from townsquare.accounts.models import AuthSession, User
from townsquare.core.errors import AuthenticationRequired, PermissionDenied
from townsquare.web.deps import DbSession

SESSION_COOKIE = "ts_session"


def _auth_session(request: Request, db: Session) -> AuthSession | None:
    if hasattr(request.state, "auth_session"):
        return request.state.auth_session
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        found = accounts.session_for_token(db, token=header[7:].strip(), kind="bearer")
    elif token := request.cookies.get(SESSION_COOKIE):
        found = accounts.session_for_token(db, token=token, kind="cookie")
        if found and _unsafe_api_call(request):
            # A browser calling the JSON API with its cookie must prove it is our page.
            sent = request.headers.get("x-csrf-token", "")
            if not hmac.compare_digest(sent, found.csrf_token):
                raise PermissionDenied("Missing or wrong CSRF token.", code="csrf")
    else:
        found = None
    request.state.auth_session = found
    return found


def _unsafe_api_call(request: Request) -> bool:
    return request.url.path.startswith("/api/") and request.method not in ("GET", "HEAD", "OPTIONS")


def optional_user(request: Request, db: DbSession) -> User | None:
    found = _auth_session(request, db)
    return found.user if found else None


def required_user(request: Request, db: DbSession) -> User:
    found = _auth_session(request, db)
    if found is None:
        raise AuthenticationRequired("Please log in first.")
    return found.user


OptionalUser = Annotated[User | None, Depends(optional_user)]
CurrentUser = Annotated[User, Depends(required_user)]


async def csrf_user(request: Request, user: CurrentUser) -> User:
    """The user behind a state-changing form post, which must echo the session's CSRF token."""
    session: AuthSession = request.state.auth_session
    if session.kind != "cookie":
        return user
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        form = await request.form()
        sent = str(form.get("csrf_token", ""))
    if not hmac.compare_digest(sent, session.csrf_token):
        raise PermissionDenied("The form has expired; reload the page and try again.", code="csrf")
    return user


FormUser = Annotated[User, Depends(csrf_user)]
