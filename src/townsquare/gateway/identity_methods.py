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
from townsquare.core.security import new_token, token_digest
from townsquare.gateway.app_auth import own_miniapp
from townsquare.gateway.methods import CallContext, Method
from townsquare.gateway.models import UserToken
from townsquare.gateway.protocol.errors import GatewayFailure, invalid, missing, token_refused
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
    grant_type = context.param("grant_type") or str(context.biz.get("grant_type", ""))
    if grant_type == "authorization_code":
        code = context.param("code") or str(context.biz.get("code", ""))
        if not code:
            raise missing("code", "缺少参数 code")
        try:
            redeemed = consent.redeem(context.db, miniapp=own_miniapp(context.app), code=code)
        except consent.InvalidGrant:
            raise GatewayFailure(
                "40002", "isv.code-invalid",
                "授权码 code 无效（未知、已使用、已过期或用户已撤销授权）",
            ) from None
        return _issue(context, redeemed.user, redeemed.scopes)
    if grant_type == "refresh_token":
        refresh = context.param("refresh_token") or str(context.biz.get("refresh_token", ""))
        if not refresh:
            raise missing("refresh-token", "缺少参数 refresh_token")
        return _refreshed(context, refresh)
    raise invalid("grant-type", "grant_type 只能是 authorization_code 或 refresh_token")


def user_info_share(context: CallContext) -> dict[str, Any]:
    token = context.call.auth_token
    if not token:
        raise token_refused(
            "aop.invalid-auth-token", "缺少 auth_token，请先调用 alipay.system.oauth.token"
        )
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


METHODS = (
    Method(
        "alipay.system.oauth.token", "identity", oauth_token,
        "用授权码换取访问令牌（或用 refresh_token 刷新）",
        {"grant_type": "authorization_code 或 refresh_token", "code": "授权码（一次有效）",
         "refresh_token": "刷新令牌"},
    ),
    Method(
        "alipay.user.info.share", "identity", user_info_share,
        "读取用户当前授权分享的信息（需公共参数 auth_token）",
        {"auth_token": "公共参数：alipay.system.oauth.token 返回的 access_token"}, writes=False,
    ),
)
