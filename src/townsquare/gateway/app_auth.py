"""ISV app authorization tokens: a merchant lets a service provider's third-party app act for
it, and the app's calls carry an `app_auth_token` that says for whom (the confirmation page and
the ISV's redirect address are in authorize.py).

The relation is the merchant → provider `Authorization` (merchants/authorizations.py): confirming
an authorization request creates it (or uses the active one) and hands the ISV app a one-time
`app_auth_code` at its registered redirect URI; `alipay.open.auth.token.app` turns the code into
an `app_auth_token`. A token holds only while its authorization does, so the merchant revoking
the provider in its console ends every token at once (checked on each call, nothing to sweep).
Codes and tokens are stored as SHA-256 digests only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from townsquare.core.clock import clock
from townsquare.core.i18n import N_
from townsquare.core.security import keyed_digest, new_token, token_digest
from townsquare.gateway.models import AppAuthCode, AppAuthToken, GatewayApp
from townsquare.gateway.protocol.errors import GatewayFailure, insufficient_permissions
from townsquare.gateway.schema import Field
from townsquare.merchants.models import Authorization, Merchant
from townsquare.miniapps.models import MiniApp

CODE_LIFETIME = timedelta(minutes=10)
TOKEN_LIFETIME = timedelta(days=365)  # as Alipay: a year, the refresh token a week longer
REFRESH_LIFETIME = timedelta(days=372)
# Methods about tokens themselves: they read the token from biz_content, never act with one (a
# client may still send its old, even expired, token as the common parameter when refreshing).
TOKEN_METHODS = frozenset({"alipay.open.auth.token.app", "alipay.open.auth.token.app.query"})

# Methods about one mini-app declare it: an ISV app names which of its merchant's it means.
MINI_APP_FIELD = Field(
    "mini_app_id", "string",
    N_("ISV apps only: which of the authorizing merchant's mini-apps (ma_…); a mini-app's own "
       "app leaves it out."),
    max_length=24, default="",
)


class AppRef(Protocol):
    """What the token checks need of the calling app: a `GatewayApp`, or the directory's
    plain-data entry for it (`directory.AppEntry`)."""

    @property
    def id(self) -> int: ...

    @property
    def is_isv(self) -> bool: ...


def refused(sub_code: str, sub_msg: str) -> GatewayFailure:
    """20001 Insufficient Token Permissions, as Alipay answers a bad `app_auth_token`."""
    return GatewayFailure("20001", sub_code, sub_msg)


def merchant_user_id(secret: bytes, merchant: Merchant) -> str:
    """The merchant's id as Alipay gives it to ISVs (`2088` + 12 digits): the same for every
    app, stable, and not the merchant's sequential row id."""
    digits = int(keyed_digest(secret, "gateway merchant user id", merchant.public_id), 16)
    return "2088" + f"{digits % 10**12:012d}"


# ---- tokens -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Issued:
    row: AppAuthToken
    access: str
    refresh: str


def _issue(db: Session, app: GatewayApp, authorization_id: int, packages: list[str],
           auth_start: datetime) -> Issued:
    access_token, refresh_token, now = new_token(), new_token(), clock.now()
    row = AppAuthToken(
        app_id=app.id, authorization_id=authorization_id, access_digest=token_digest(access_token),
        refresh_digest=token_digest(refresh_token), packages=packages, auth_start=auth_start,
        created_at=now, expires_at=now + TOKEN_LIFETIME, refresh_expires_at=now + REFRESH_LIFETIME,
    )
    db.add(row)
    db.flush()
    return Issued(row, access_token, refresh_token)


def exchange_code(db: Session, *, app: GatewayApp, code: str) -> Issued | None:
    """A code for a token, once: the code is spent by a conditional UPDATE, so two concurrent
    exchanges of one code cannot both succeed (the loser's UPDATE matches no row)."""
    now = clock.now()
    spent = db.execute(
        update(AppAuthCode)
        .where(AppAuthCode.code_digest == token_digest(code), AppAuthCode.app_id == app.id,
               AppAuthCode.used_at.is_(None), AppAuthCode.expires_at > now)
        .values(used_at=now).execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        return None
    row = db.scalar(select(AppAuthCode).where(AppAuthCode.code_digest == token_digest(code)))
    assert row is not None
    authorization = db.get(Authorization, row.authorization_id)
    if authorization is None or authorization.revoked_at is not None:
        return None
    return _issue(db, app, row.authorization_id, list(row.packages), now)


def refresh(db: Session, *, app: GatewayApp, refresh_token: str) -> Issued | None:
    """The next token pair for a refresh token, once: the old pair is retired in the same
    conditional UPDATE that checks it is still live."""
    now = clock.now()
    digest = token_digest(refresh_token)
    retired = db.execute(
        update(AppAuthToken)
        .where(AppAuthToken.refresh_digest == digest, AppAuthToken.app_id == app.id,
               AppAuthToken.retired_at.is_(None), AppAuthToken.refresh_expires_at > now)
        .values(retired_at=now).execution_options(synchronize_session=False)
    )
    if retired.rowcount != 1:  # type: ignore[attr-defined]
        return None
    old = db.scalar(select(AppAuthToken).where(AppAuthToken.refresh_digest == digest))
    assert old is not None
    db.refresh(old)
    if old.authorization.revoked_at is not None:
        return None
    return _issue(db, app, old.authorization_id, list(old.packages), old.auth_start)


def token_row(db: Session, *, app: AppRef, token: str) -> AppAuthToken | None:
    """The app's own token (retired, expired or revoked ones included), None for any other."""
    row = db.scalar(select(AppAuthToken).where(AppAuthToken.access_digest == token_digest(token)))
    return row if row is not None and row.app_id == app.id else None


def is_live(row: AppAuthToken) -> bool:
    return (row.retired_at is None and row.authorization.revoked_at is None
            and row.expires_at > clock.now())


# ---- dispatch: who a call acts for --------------------------------------------------------------


def acting_merchant(db: Session, app: AppRef, *, token: str, method: str,
                    package: str) -> Merchant | None:
    """The merchant an ISV app's call acts for, from its `app_auth_token` (None without one).
    Any token that is not this app's live token, or does not cover the method's package,
    answers 20001."""
    if method in TOKEN_METHODS or not token:
        return None
    if not app.is_isv:
        raise refused("aop.invalid-app-auth-token",
                      "无效的应用授权令牌：小程序自己的应用不使用 app_auth_token")
    row = token_row(db, app=app, token=token)
    if row is None or row.retired_at is not None:
        raise refused("aop.invalid-app-auth-token", "无效的应用授权令牌")
    if row.authorization.revoked_at is not None:
        raise refused("aop.invalid-app-auth-token", "无效的应用授权令牌：商户已取消授权")
    if row.expires_at <= clock.now():
        raise refused("aop.app-auth-token-time-out",
                      "应用授权令牌已过期，请用 app_refresh_token 刷新")
    if package not in row.packages:
        raise refused("aop.invalid-app-auth-token-no-api",
                      f"商户未授权当前接口：授权时未包含「{package}」能力包，请商户重新授权")
    return row.authorization.merchant


def require_merchant(app: GatewayApp, acting: Merchant | None) -> Merchant:
    """The merchant a call acts for: a mini-app app's own merchant, or the one whose token an
    ISV app presented (an ISV app without a token acts for no merchant)."""
    if not app.is_isv:
        assert app.miniapp is not None
        return app.miniapp.merchant
    return _acting(acting)


def require_merchant_id(app: AppRef, acting: Merchant | None,
                        owner_merchant_id: int | None) -> int:
    """`require_merchant(app, acting).id` without loading anything: a mini-app app's merchant
    is `owner_merchant_id` (its mini-app's, as the gateway's directory knows it)."""
    if not app.is_isv:
        assert owner_merchant_id is not None
        return owner_merchant_id
    return _acting(acting).id


def _acting(acting: Merchant | None) -> Merchant:
    if acting is None:
        raise refused("aop.invalid-app-auth-token",
                      "第三方应用须携带商户授权的 app_auth_token 代商户调用此接口")
    return acting


def call_miniapp(db: Session, app: GatewayApp, acting: Merchant | None,
                 mini_app_id: object) -> MiniApp:
    """The mini-app a call is about: a mini-app app's own; for an ISV app acting for a
    merchant, the biz parameter `mini_app_id`, which must be one of that merchant's."""
    if not app.is_isv:
        assert app.miniapp is not None
        return app.miniapp
    merchant = require_merchant(app, acting)
    found = None
    if isinstance(mini_app_id, str) and mini_app_id:
        found = db.scalar(select(MiniApp).where(MiniApp.public_id == mini_app_id[:24]))
    if found is None or found.merchant_id != merchant.id:
        raise GatewayFailure(
            "40002", "isv.invalid-parameter",
            "第三方应用须在 biz_content 中给出 mini_app_id：授权商户名下的小程序 id（ma_…）",
        )
    return found


def own_miniapp(app: GatewayApp) -> MiniApp:
    """For methods about one mini-app's users (identity): only the mini-app's own app."""
    if app.miniapp is None:
        raise insufficient_permissions(
            "此接口只对小程序自己的应用开放：用户身份与授权按小程序划分，第三方应用请使用"
            "所服务小程序的应用调用"
        )
    return app.miniapp
