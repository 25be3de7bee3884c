"""Identity through the gateway: `alipay.system.oauth.token` turns the one-time code a resident's
consent gave the mini-app into an access token; `alipay.user.info.share` reads, with that token,
only the fields the resident shares now."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.core.i18n import N_
from townsquare.core.security import new_token, token_digest
from townsquare.gateway.app_auth import own_miniapp
from townsquare.gateway.methods import CallContext, Method
from townsquare.gateway.models import UserToken
from townsquare.gateway.protocol.errors import GatewayFailure, invalid, missing, token_refused
from townsquare.gateway.schema import Example, Field, MethodError
from townsquare.miniapps.shell import consent, launch

ACCESS_LIFETIME = timedelta(days=1)
REFRESH_LIFETIME = timedelta(days=30)
# Townsquare's profile scopes under the names Alipay's user.info.share answers with.
ANSWER_FIELDS = {"phone": "mobile", "real_name": "user_name"}


def _user_id(context: CallContext, user: User) -> str:
    """The pseudonymous id this mini-app knows the user by (the launch context's `sub`)."""
    return launch.pseudonymous_id(
        context.settings.effective_secret_key, user.public_id, own_miniapp(context.app).public_id
    )


def _issue(context: CallContext, user: User, scopes: tuple[str, ...]) -> dict[str, Any]:
    access, refresh = new_token(), new_token()
    now = clock.now()
    context.db.add(
        UserToken(
            app_id=context.app.id, user_id=user.id, access_digest=token_digest(access),
            refresh_digest=token_digest(refresh), scopes=list(scopes),
            expires_at=now + ACCESS_LIFETIME, refresh_expires_at=now + REFRESH_LIFETIME,
        )
    )
    context.db.flush()
    user_id = _user_id(context, user)
    return {
        "user_id": user_id,
        "open_id": user_id,
        "access_token": access,
        "expires_in": int(ACCESS_LIFETIME.total_seconds()),
        "refresh_token": refresh,
        "re_expires_in": int(REFRESH_LIFETIME.total_seconds()),
        "auth_start": f"{now.astimezone(ZoneInfo(context.settings.timezone)):%Y-%m-%d %H:%M:%S}",
    }


def _refreshed(context: CallContext, refresh: str) -> dict[str, Any]:
    db: Session = context.db
    row = db.scalar(select(UserToken).where(UserToken.refresh_digest == token_digest(refresh)))
    if row is None or row.app_id != context.app.id or row.revoked_at is not None:
        raise invalid("refresh-token", "refresh_token 无效")
    if row.refresh_expires_at <= clock.now():
        raise invalid("refresh-token", "refresh_token 已过期，请用户重新授权")
    row.revoked_at = clock.now()  # a refresh token is spent once
    user = db.get(User, row.user_id)
    assert user is not None
    granted = consent.consent_for(db, actor=user, miniapp=own_miniapp(context.app))
    if granted is None:
        raise invalid("refresh-token", "用户已撤销授权")
    scopes = tuple(s for s in row.scopes if s in granted.scopes)
    return _issue(context, user, scopes)


def oauth_token(context: CallContext) -> dict[str, Any]:
    values = context.values
    if values["grant_type"] == "authorization_code":
        if not values["code"]:
            raise missing("code", "缺少参数 code")
        try:
            redeemed = consent.redeem(context.db, miniapp=own_miniapp(context.app),
                                      code=values["code"])
        except consent.InvalidGrant:
            raise GatewayFailure(
                "40002", "isv.code-invalid",
                "授权码 code 无效（未知、已使用、已过期或用户已撤销授权）",
            ) from None
        return _issue(context, redeemed.user, redeemed.scopes)
    if not values["refresh_token"]:
        raise missing("refresh-token", "缺少参数 refresh_token")
    return _refreshed(context, values["refresh_token"])


def user_info_share(context: CallContext) -> dict[str, Any]:
    token = context.values["auth_token"]  # present: the schema answers 20001 without it
    db = context.db
    row = db.scalar(select(UserToken).where(UserToken.access_digest == token_digest(token)))
    if row is None or row.app_id != context.app.id or row.revoked_at is not None:
        raise token_refused("aop.invalid-auth-token", "无效的访问令牌")
    if row.expires_at <= clock.now():
        raise token_refused("aop.auth-token-time-out", "访问令牌已过期，请用 refresh_token 刷新")
    user = db.get(User, row.user_id)
    miniapp = own_miniapp(context.app)
    granted = consent.consent_for(db, actor=user, miniapp=miniapp) if user else None
    if user is None or granted is None:
        raise token_refused("aop.invalid-auth-token", "用户已撤销授权")
    scopes = tuple(s for s in row.scopes if s in granted.scopes)
    fields = consent.profile_fields(user, scopes)
    return {"user_id": _user_id(context, user),
            **{ANSWER_FIELDS[k]: v for k, v in fields.items()}}


_USER_ID = "ou_0f3c2a9d8b7e6f5a4c3b2a1908f7e6d5"
_TOKEN_ERRORS = (
    MethodError("40002", "isv.code-invalid",
                N_("The auth code is unknown, spent, expired, or its consent was withdrawn.")),
    MethodError("40002", "isv.invalid-refresh-token",
                N_("The refresh token is unknown, spent, expired, or its consent was withdrawn.")),
)

METHODS = (
    Method(
        "alipay.system.oauth.token", "identity", oauth_token,
        N_("Exchange a user's one-time auth code for an access token (or renew one with a "
           "refresh token)."),
        (
            Field("grant_type", "string", N_("authorization_code, or refresh_token to renew."),
                  required=True, choices=("authorization_code", "refresh_token"),
                  source="request"),
            Field("code", "string", N_("The one-time auth code the user's consent gave the "
                                       "mini-app (with authorization_code)."),
                  max_length=128, default="", source="request"),
            Field("refresh_token", "string", N_("The refresh token of an earlier answer (with "
                                                "refresh_token; each is spent once)."),
                  max_length=128, default="", source="request"),
        ),
        Example(
            {"grant_type": "authorization_code", "code": "4b203fe6c11548bcabd8da5bb087a83b"},
            {"user_id": _USER_ID, "open_id": _USER_ID,
             "access_token": "authusrB6b3a4c8e2f1d4e0a9c7b5d3f1e2a4c6b8", "expires_in": 86400,
             "refresh_token": "authusrR2c4e6a8b0d2f4a6c8e0b2d4f6a8c0e2d4",
             "re_expires_in": 2592000, "auth_start": "2026-12-07 14:03:21"},
        ),
        _TOKEN_ERRORS + (
            MethodError("40001", "isv.missing-code",
                        N_("grant_type is authorization_code but code is missing.")),
            MethodError("40001", "isv.missing-refresh-token",
                        N_("grant_type is refresh_token but refresh_token is missing.")),
        ),
    ),
    Method(
        "alipay.user.info.share", "identity", user_info_share,
        N_("Read what the user shares with the mini-app now (needs the common parameter "
           "auth_token)."),
        (
            Field("auth_token", "string", N_("Common parameter: the access_token "
                                             "alipay.system.oauth.token answered."),
                  required=True, max_length=128, source="common",
                  when_missing=("20001", "aop.invalid-auth-token")),
        ),
        Example(
            {"auth_token": "authusrB6b3a4c8e2f1d4e0a9c7b5d3f1e2a4c6b8"},
            {"user_id": _USER_ID, "mobile": "13812345678", "user_name": "张小民"},
        ),
        (
            MethodError("20001", "aop.invalid-auth-token",
                        N_("The access token is unknown or revoked, or the user withdrew "
                           "consent.")),
            MethodError("20001", "aop.auth-token-time-out",
                        N_("The access token expired: renew it with the refresh token.")),
        ),
        writes=False,
    ),
)
