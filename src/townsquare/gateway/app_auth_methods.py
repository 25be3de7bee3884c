"""The ISV authorization methods: `alipay.open.auth.token.app` exchanges a merchant's
`app_auth_code` (or a refresh token) for an `app_auth_token`; `alipay.open.auth.token.app.query`
says what a token covers and whether it still holds. Answers are shaped as Alipay's (the
official SDK's AlipayOpenAuthTokenAppResponse / ...QueryResponse)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from townsquare.core.clock import clock
from townsquare.gateway import app_auth
from townsquare.gateway.methods import CallContext, Method
from townsquare.gateway.protocol.errors import (
    GatewayFailure,
    insufficient_permissions,
    invalid,
    missing,
)


def _value(context: CallContext, name: str) -> str:
    """A parameter from biz_content (how both SDKs send these), or given outside it."""
    found = context.biz.get(name)
    return str(found) if isinstance(found, str | int) and found != "" else context.param(name)


def _isv_only(context: CallContext) -> None:
    if not context.app.is_isv:
        raise insufficient_permissions("只有服务商的第三方应用可以换取商户授权令牌 app_auth_token")


def _answer(context: CallContext, issued: app_auth.Issued) -> dict[str, Any]:
    row = issued.row
    fields = {
        "user_id": app_auth.merchant_user_id(context.settings.effective_secret_key,
                                             row.authorization.merchant),
        "auth_app_id": context.app.app_id,
        "app_auth_token": issued.access,
        "app_refresh_token": issued.refresh,
        "expires_in": int((row.expires_at - row.created_at).total_seconds()),
        "re_expires_in": int((row.refresh_expires_at - row.created_at).total_seconds()),
    }
    return {**fields, "tokens": [fields]}  # Alipay answers both ways; older clients read tokens


def token_app(context: CallContext) -> dict[str, Any]:
    _isv_only(context)
    grant_type = _value(context, "grant_type")
    if grant_type == "authorization_code":
        code = _value(context, "code")
        if not code:
            raise missing("code", "缺少参数 code（商户授权后回调给您的 app_auth_code）")
        issued = app_auth.exchange_code(context.db, app=context.app, code=code)
        if issued is None:
            raise GatewayFailure(
                "40002", "isv.code-invalid",
                "app_auth_code 无效（未知、已使用、已过期、不属于本应用，或商户已取消授权）",
            )
        return _answer(context, issued)
    if grant_type == "refresh_token":
        refresh = _value(context, "refresh_token")
        if not refresh:
            raise missing("refresh-token", "缺少参数 refresh_token（app_refresh_token）")
        issued = app_auth.refresh(context.db, app=context.app, refresh_token=refresh)
        if issued is None:
            raise invalid("refresh-token",
                          "app_refresh_token 无效（未知、已使用、已过期，或商户已取消授权）")
        return _answer(context, issued)
    raise invalid("grant-type", "grant_type 只能是 authorization_code 或 refresh_token")


def _shown(context: CallContext, at: datetime) -> str:
    return f"{at.astimezone(ZoneInfo(context.settings.timezone)):%Y-%m-%d %H:%M:%S}"


def token_app_query(context: CallContext) -> dict[str, Any]:
    _isv_only(context)
    token = _value(context, "app_auth_token") or context.call.app_auth_token
    if not token:
        raise missing("app-auth-token", "缺少参数 app_auth_token")
    row = app_auth.token_row(context.db, app=context.app, token=token)
    if row is None:
        raise app_auth.refused("aop.invalid-app-auth-token", "无效的应用授权令牌")
    live = app_auth.is_live(row)
    remaining = int((row.expires_at - clock.now()).total_seconds()) if live else 0
    return {
        "user_id": app_auth.merchant_user_id(context.settings.effective_secret_key,
                                             row.authorization.merchant),
        "auth_app_id": context.app.app_id,
        "expires_in": remaining,
        "auth_methods": sorted(row.packages),  # Townsquare authorizes by capability package
        "auth_start": _shown(context, row.auth_start),
        "auth_end": _shown(context, row.expires_at),
        "status": "valid" if live else "invalid",
        "is_by_app_auth": True,
    }


METHODS = (
    Method(
        "alipay.open.auth.token.app", "authorization", token_app,
        "用商户授权的 app_auth_code 换取 app_auth_token，或用 app_refresh_token 刷新",
        {"grant_type": "authorization_code 或 refresh_token",
         "code": "app_auth_code（一次有效，10 分钟内）",
         "refresh_token": "app_refresh_token（一次有效）"},
    ),
    Method(
        "alipay.open.auth.token.app.query", "authorization", token_app_query,
        "查询 app_auth_token 的授权商户、能力包、有效期与状态",
        {"app_auth_token": "要查询的应用授权令牌"}, writes=False,
    ),
)
