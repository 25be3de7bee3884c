"""One gateway call, start to end: read the common parameters, find the app, verify the
signature against its keys, check the method and the app's packages, run the handler, log the
call, and sign the answer. Every outcome is a signed HTTP 200 body."""

from __future__ import annotations

import time
from collections.abc import Mapping
from contextlib import nullcontext
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from townsquare.core.clock import clock
from townsquare.core.database import Database
from townsquare.core.errors import PermissionDenied, RateLimited, TownsquareError, ValidationFailed
from townsquare.core.i18n import catalogue
from townsquare.core.settings import Settings
from townsquare.gateway import app_auth, directory, schema
from townsquare.gateway.call_log import CallLog
from townsquare.gateway.limits import RateLimiter
from townsquare.gateway.methods import CallContext, MethodTable
from townsquare.gateway.protocol import envelope, signing
from townsquare.gateway.protocol.errors import (
    GatewayFailure,
    business,
    insufficient_permissions,
    invalid,
    missing,
)
from townsquare.gateway.protocol.params import read_call, signature_failure

TIMESTAMP_WINDOW = timedelta(minutes=15)
SUCCESS = {"code": "10000", "msg": "Success"}


def _answer(
    db: Session, params: Mapping[str, str], app: directory.AppEntry | None, settings: Settings,
    table: MethodTable, limiter: RateLimiter | None,
) -> dict[str, Any]:
    call = read_call(params, zone=settings.timezone, now=clock.now(), window=TIMESTAMP_WINDOW)
    if app is None:
        raise invalid("app-id", f"无效的AppID参数：{call.app_id}")
    candidates = app.keys_at(clock.now())
    if not candidates:
        raise missing("signature-key", "未上传应用公钥，请先在开放平台控制台设置应用公钥")
    unsigned = call.unsigned()
    if not any(
        signing.verify(signing.load_public_key(k.public_key), unsigned, call.sign, call.sign_type)
        for k in candidates
    ):
        raise signature_failure(call, candidates[0].fingerprint)
    method = table.get(call.method)
    if method is None:
        raise invalid("method", f"不存在的方法名：{call.method}")
    if method.package not in app.packages:
        raise insufficient_permissions(
            f"应用未获得「{method.package}」能力包的授权，无权调用 {call.method}"
        )
    if limiter is not None:  # after the signature: no one else can spend an app's calls
        limiter.check(app.app_id, method.package, clock.now())
    # an ISV app's app_auth_token: for which merchant the call acts (20001 if not valid)
    acting = app_auth.acting_merchant(db, app, token=call.app_auth_token,
                                      method=call.method, package=method.package)
    values = schema.validate(method.fields, call)
    context = CallContext(db=db, settings=settings, entry=app, call=call, biz=call.biz(),
                          values=values, acting=acting)
    try:  # a failing handler leaves nothing behind (one that only reads has nothing to undo)
        with db.begin_nested() if method.writes else nullcontext():  # the log row stays
            body = dict(method.handler(context))
    except TownsquareError as error:  # a domain's own refusal, in the protocol's terms
        raise refusal(error) from None
    return {**SUCCESS, **body}


def refusal(error: TownsquareError) -> GatewayFailure:
    """A domain error as the gateway answers it, its message in Chinese."""
    zh = catalogue("zh_CN")
    text = error.render(lambda message: zh.get(message, message))
    if isinstance(error, ValidationFailed):
        return invalid("parameter", text)
    if isinstance(error, PermissionDenied):
        return insufficient_permissions(text)
    if isinstance(error, RateLimited):
        return business("CALL_LIMITED", text)
    return business(error.code.upper(), text)


def handle(
    database: Database, params: Mapping[str, str], *, settings: Settings, table: MethodTable,
    call_log: CallLog, limiter: RateLimiter | None = None,
) -> bytes:
    """The signed response body for one call (always HTTP 200). A method that only reads runs
    in a read-only unit of work when the call log is written behind."""
    started = time.perf_counter()
    method = table.get(params.get("method", ""))
    reads_only = method is not None and not method.writes and call_log.behind
    with database.unit_of_work(read_only=reads_only) as db:
        # looked up once (in this process's directory): the call and its log row are the app's
        app = directory.find(db, params.get("app_id", ""))
        try:
            body = _answer(db, params, app, settings, table, limiter)
        except GatewayFailure as failure:
            body = failure.body()
        if app is not None:  # calls naming no real app belong to no one's log
            call_log.record(db, {
                "app_id": app.id, "method": params.get("method", "")[:64],
                "code": body["code"], "sub_code": body.get("sub_code", "")[:64],
                "at": clock.now(), "elapsed_ms": int((time.perf_counter() - started) * 1000),
            })
        key = directory.platform_key(db, secret=settings.effective_secret_key)
    return envelope.render(key, params.get("method", ""), body, params.get("sign_type", "RSA2"))


def handle_browser(
    database: Database, params: Mapping[str, str], *, settings: Settings, table: MethodTable,
    call_log: CallLog, limiter: RateLimiter | None = None,
) -> dict[str, Any]:
    """A call a browser opens (the SDK's signed page/wap pay URL or form): verified and run like
    any call, answered unsigned, for the route to redirect (`redirect`) or show the refusal."""
    started = time.perf_counter()
    with database.unit_of_work() as db:
        app = directory.find(db, params.get("app_id", ""))
        try:
            body = _answer(db, params, app, settings, table, limiter)
        except GatewayFailure as failure:
            body = failure.body()
        if app is not None:
            call_log.record(db, {
                "app_id": app.id, "method": params.get("method", "")[:64],
                "code": body["code"], "sub_code": body.get("sub_code", "")[:64],
                "at": clock.now(), "elapsed_ms": int((time.perf_counter() - started) * 1000),
            })
    return body


def refuse(database: Database, failure: GatewayFailure, *, settings: Settings) -> bytes:
    """A signed refusal for a request whose parameters could not even be read."""
    with database.unit_of_work(read_only=True) as db:
        key = directory.platform_key(db, secret=settings.effective_secret_key)
    return envelope.render(key, None, failure.body())
