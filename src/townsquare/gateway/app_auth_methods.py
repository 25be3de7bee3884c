"""The ISV authorization methods: `alipay.open.auth.token.app` exchanges a merchant's
`app_auth_code` (or a refresh token) for an `app_auth_token`; `alipay.open.auth.token.app.query`
says what a token covers and whether it still holds. Answers are shaped as Alipay's (the
official SDK's AlipayOpenAuthTokenAppResponse / ...QueryResponse)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from townsquare.core.clock import clock
from townsquare.core.i18n import N_
from townsquare.gateway import app_auth
from townsquare.gateway.methods import CallContext, Method
from townsquare.gateway.protocol.errors import (
    GatewayFailure,
    insufficient_permissions,
    invalid,
    missing,
)
from townsquare.gateway.schema import Example, Field, MethodError


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


_TOKENS = {"user_id": "2088102174693120", "auth_app_id": "2026120712345678",
           "app_auth_token": "202612BB1c2e3d4f5a6b7c8d9e0f1a2b3c4d5e6f",
           "app_refresh_token": "202612BBr7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2",
           "expires_in": 31536000, "re_expires_in": 32140800}

METHODS = (
    Method(
        "alipay.open.auth.token.app", "authorization", token_app,
        N_("Exchange a merchant's app_auth_code for an app_auth_token, or renew one with "
           "app_refresh_token (ISV apps)."),
        (
            Field("grant_type", "string", N_("authorization_code, or refresh_token to renew."),
                  required=True, choices=("authorization_code", "refresh_token")),
            Field("code", "string", N_("The app_auth_code the merchant's authorization sent to "
                                       "your redirect address (single use, 10 minutes)."),
                  max_length=128, default=""),
            Field("refresh_token", "string", N_("The app_refresh_token of an earlier answer "
                                                "(single use)."),
                  max_length=128, default=""),
        ),
        Example({"grant_type": "authorization_code", "code": "P7b2c9e4d1a8f3b6c5e0d9a2f4b7c1e8"},
                {**_TOKENS, "tokens": [_TOKENS]}),
        (
            MethodError("40002", "isv.code-invalid",
                        N_("The app_auth_code is unknown, spent, expired, another app's, or "
                           "the merchant revoked the authorization.")),
            MethodError("40002", "isv.invalid-refresh-token",
                        N_("The app_refresh_token is unknown, spent, expired or revoked.")),
            MethodError("40006", "isv.insufficient-isv-permissions",
                        N_("Only a service provider's third-party app may call it.")),
        ),
    ),
    Method(
        "alipay.open.auth.token.app.query", "authorization", token_app_query,
        N_("Which merchant an app_auth_token acts for, what it covers, until when, and whether "
           "it still holds."),
        (
            Field("app_auth_token", "string", N_("The token to look up (or the common "
                                                 "parameter app_auth_token)."),
                  max_length=128, default=""),
        ),
        Example({"app_auth_token": _TOKENS["app_auth_token"]},
                {"user_id": _TOKENS["user_id"], "auth_app_id": _TOKENS["auth_app_id"],
                 "expires_in": 31535000, "auth_methods": ["data", "marketing"],
                 "auth_start": "2026-12-07 10:00:00", "auth_end": "2027-12-07 10:00:00",
                 "status": "valid", "is_by_app_auth": True}),
        (
            MethodError("20001", "aop.invalid-app-auth-token",
                        N_("The token is unknown or not this app's.")),
        ),
        writes=False,
    ),
)
