"""Accounts JSON API: sign-up, bearer tokens, the current user and real-name verification."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from townsquare.accounts import service
from townsquare.accounts.deps import CurrentUser
from townsquare.accounts.schemas import (
    IdentityIn,
    PasswordChangeIn,
    PasswordResetOut,
    SignUp,
    TokenOut,
    TokenRequest,
    UserOut,
)
from townsquare.core import i18n
from townsquare.core.errors import PermissionDenied
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.openapi import error

router = APIRouter(prefix="/api", tags=["accounts"])


@router.post("/users", status_code=201, response_model=UserOut)
def sign_up(body: SignUp, db: DbSession) -> UserOut:
    """Create a resident account."""
    user = service.create_user(
        db,
        actor=None,
        username=body.username,
        password=body.password,
        display_name=body.display_name,
    )
    return UserOut.of(user)


@router.post("/auth/token", response_model=TokenOut, responses={401: {}, 429: {}})
def issue_token(body: TokenRequest, db: DbSession, settings: AppSettings):
    """Exchange a username and password for a bearer token."""
    outcome = service.login(
        db, settings=settings, username=body.username, password=body.password, kind="bearer"
    )
    if outcome.session is None:
        # Returned, not raised: the failure count must be committed with this request.
        status = 429 if outcome.retry_after_seconds else 401
        message = i18n.gettext(outcome.error).format(
            minutes=max(1, outcome.retry_after_seconds // 60)
        )
        headers = {"Retry-After": str(outcome.retry_after_seconds)} if status == 429 else None
        body_out = {"error": {"code": "login_failed", "message": message, "details": None}}
        return JSONResponse(body_out, status_code=status, headers=headers)
    return TokenOut(
        token=outcome.token,
        expires_at=outcome.session.expires_at,
        user=UserOut.of(outcome.session.user),
    )


@router.post("/auth/logout", status_code=204)
def revoke_token(request: Request, user: CurrentUser, db: DbSession) -> None:
    """Revoke the bearer token used for this request."""
    session = request.state.auth_session
    if session.kind != "bearer":
        raise PermissionDenied("Use the logout button to end a browser session.")
    service.logout(db, session=session)


@router.get("/me", response_model=UserOut)
def me(user: CurrentUser) -> UserOut:
    return UserOut.of(user)


@router.post("/me/identity", response_model=UserOut)
def verify_identity(body: IdentityIn, user: CurrentUser, db: DbSession, settings: AppSettings):
    """Verify your real name, resident ID number and mobile number."""
    service.verify_identity(
        db,
        settings=settings,
        actor=user,
        real_name=body.real_name,
        id_number=body.id_number,
        phone=body.phone,
    )
    return UserOut.of(user)


@router.post("/me/password", status_code=204,
             responses={401: error("Not logged in"), 422: error("Wrong current password")})
def change_password(request: Request, body: PasswordChangeIn, user: CurrentUser,
                    db: DbSession) -> None:
    """Change your password (with the current one); your other sessions end."""
    service.change_password(db, actor=user, session=request.state.auth_session,
                            old_password=body.old_password, new_password=body.new_password)


@router.post("/users/{username}/password-reset", response_model=PasswordResetOut,
             responses={401: error("Not logged in"), 403: error("Operators only"),
                        404: error("No such user")})
def reset_password(username: Annotated[str, Path(max_length=32)], user: CurrentUser,
                   db: DbSession) -> PasswordResetOut:
    """Operators: reset a user's password to a temporary one; every session of theirs ends."""
    return PasswordResetOut(
        temporary_password=service.reset_password(db, actor=user, username=username))
