"""The web platform every package shares: settings and database on the app, locale and
observability middleware, the error answers, health, metrics and static files.

The routers are included by the composition root, `townsquare.app.create_app`."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from townsquare import __version__
from townsquare.core import entropy, i18n
from townsquare.core.database import TRANSIENT_ERRORS, Database, unavailable
from townsquare.core.errors import AuthenticationRequired, TownsquareError
from townsquare.core.settings import Settings
from townsquare.web.observability import Metrics, ObservabilityMiddleware, configure_logging
from townsquare.web.templating import render

LANG_COOKIE = "ts_lang"
log = structlog.get_logger("townsquare.web")


class OutageLog:
    """Logs a database outage once per burst: the first failure after `quiet` seconds without
    one is logged (with how many were not logged since), the rest of the burst is counted."""

    def __init__(self, quiet: float = 30.0) -> None:
        self.quiet = quiet
        self.last = float("-inf")
        self.suppressed = 0
        self._lock = threading.Lock()

    def failed(self, request: Request, exc: BaseException) -> None:
        now = time.monotonic()
        with self._lock:
            first = now - self.last > self.quiet
            self.last = now
            suppressed = self.suppressed if first else 0
            self.suppressed = 0 if first else self.suppressed + 1
        if first:
            log.warning(
                "database_unavailable",
                path=request.url.path,
                error=f"{type(exc).__name__}: {getattr(exc, 'orig', exc)}"[:300],
                not_logged_before=suppressed,
            )



# The pages' own scripts are files under /static plus two inline ones that carry the request's
# nonce; styles may be inline (SVG charts, htmx's indicator style). Mini-apps are framed from
# this site (/run/…) or from https:// (and http://localhost in development); nobody else may
# frame our pages. /docs and /redoc (Swagger UI from a CDN) keep the other headers only.
CSP = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https:; connect-src 'self'; font-src 'self' data:; "
    "frame-src 'self' https: http://127.0.0.1:* http://localhost:*; frame-ancestors 'self'; "
    "object-src 'none'; base-uri 'self'"
)
_NO_CSP = ("/docs", "/redoc")


class SecurityHeadersMiddleware:
    """Every response: no framing by other sites (X-Frame-Options and frame-ancestors), no
    MIME sniffing, a strict referrer policy, and a Content-Security-Policy with a fresh script
    nonce per request (templates read it as `csp_nonce`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = entropy.token_urlsafe(16)  # no system call per request (core/entropy.py)
        scope.setdefault("state", {})["csp_nonce"] = nonce
        path = scope.get("path", "")
        headers = [
            (b"x-frame-options", b"SAMEORIGIN"),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"strict-origin-when-cross-origin"),
        ]
        if not path.startswith(_NO_CSP):
            headers.append((b"content-security-policy", CSP.format(nonce=nonce).encode()))

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _value in message.get("headers", [])}
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [
                    (name, value) for name, value in headers if name not in present]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class LocaleMiddleware:
    """Chinese unless the request asks for English: `?lang=en` (remembered in a cookie)."""

    def __init__(self, app: ASGIApp, default: str) -> None:
        self.app = app
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        asked = i18n.normalise_locale(request.query_params.get("lang"))
        locale = asked or i18n.normalise_locale(request.cookies.get(LANG_COOKIE)) or self.default
        token = i18n.current_locale.set(locale)

        async def send_with_cookie(message: Message) -> None:
            if asked and message["type"] == "http.response.start":
                cookie = f"{LANG_COOKIE}={asked}; Path=/; Max-Age=31536000; SameSite=Lax"
                message.setdefault("headers", []).append((b"set-cookie", cookie.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_cookie)
        finally:
            i18n.current_locale.reset(token)


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def error_response(
    request: Request, status: int, code: str, message: str, details=None
) -> Response:
    if is_api(request):
        body = {"error": {"code": code, "message": message, "details": details}}
        return JSONResponse(body, status_code=status)
    return render(request, "error.html", status_code=status, message=message, code=code)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(TownsquareError)
    async def domain_error(request: Request, exc: TownsquareError) -> Response:
        if isinstance(exc, AuthenticationRequired) and not is_api(request):
            target = quote(
                str(request.url.path) + ("?" + request.url.query if request.url.query else "")
            )
            return RedirectResponse(f"/login?next={target}", status_code=303)
        details = exc.details if exc.details is not None else (exc.params or None)
        return error_response(request, exc.status, exc.code, exc.render(i18n.gettext), details)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        details = [
            {"field": ".".join(str(p) for p in err["loc"][1:]), "problem": err["msg"]}
            for err in exc.errors()
        ]
        message = i18n.gettext("Some fields are missing or invalid.")
        return error_response(request, 422, "invalid", message, details)

    @app.exception_handler(IntegrityError)
    async def integrity(request: Request, exc: IntegrityError) -> Response:
        message = i18n.gettext("That conflicts with existing data; nothing was changed.")
        return error_response(request, 409, "conflict", message)

    outages = OutageLog()
    app.state.outages = outages

    async def database_unavailable(request: Request, exc: Exception) -> Response:
        if not unavailable(exc):  # a bug or a constraint the code did not expect: still JSON
            log.error("database_error", path=request.url.path, exc_info=exc)
            message = i18n.gettext("Something went wrong on our side; nothing was changed.")
            return error_response(request, 500, "internal", message)
        outages.failed(request, exc)
        request.state.auth_session = None  # the page must not need the database
        message = i18n.gettext(
            "The service is briefly unavailable; nothing was changed. Please try again shortly."
        )
        response = error_response(request, 503, "unavailable", message)
        response.headers["Retry-After"] = str(request.app.state.settings.retry_after_seconds)
        return response

    for error_type in (*TRANSIENT_ERRORS, DBAPIError):
        app.add_exception_handler(error_type, database_unavailable)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = "not_found" if exc.status_code == 404 else "http_error"
        message = i18n.gettext("Page not found.") if exc.status_code == 404 else str(exc.detail)
        return error_response(request, exc.status_code, code, message)


def _warm_routes(app: FastAPI) -> None:
    """Match every route once: FastAPI builds an included router's routes (their dependencies
    and models, seconds for the whole platform) on the first request that reaches them, which
    would be some resident's first search or page after every start."""
    scope: dict[str, Any] = {"type": "http", "path": "/__warm__", "method": "GET",
                             "root_path": "", "headers": [], "query_string": b""}
    for route in app.router.routes:
        route.matches(scope)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    for hook in app.state.startup_hooks:  # what a package warms before the first request
        await run_in_threadpool(hook, app)
    if app.state.settings.warm_up_at_start:
        await run_in_threadpool(_warm_routes, app)
    yield
    for hook in app.state.shutdown_hooks:  # what a package flushes when the server stops
        hook(app)


def build_app(settings: Settings, database: Database | None = None) -> FastAPI:
    """The platform without any package's routes: state, middleware, error answers, health."""
    configure_logging()
    app = FastAPI(
        title="Townsquare",
        version=__version__,
        description="Super-app platform for local life services. JSON API under /api.",
        lifespan=lifespan,
    )
    app.state.startup_hooks = []
    app.state.shutdown_hooks = []
    app.state.settings = settings
    app.state.database = database or Database(
        settings.effective_database_url, lock_timeout_ms=settings.database_lock_timeout_ms
    )
    metrics = Metrics()

    install_error_handlers(app)

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/health", tags=["platform"])
    async def health() -> dict[str, str]:
        """Liveness: the process answers (whatever the database is doing). Answered on the
        event loop: no I/O, so no hand-off to a worker thread (a liveness check should not
        wait for a free thread, and it is the benchmarks' floor: the stack and nothing else)."""
        return {"status": "ok", "version": __version__}

    @app.get("/api/ready", tags=["platform"], responses={503: {"description": "Not ready"}})
    def ready(request: Request) -> Response:
        """Readiness: the database answers a trivial query now (a load balancer sends traffic
        only to ready processes; a 503 here is not a reason to restart the process)."""
        try:
            app.state.database.ping()
        except Exception as exc:  # noqa: BLE001 — any failure means "not ready"
            app.state.outages.failed(request, exc)
            body = {"status": "unavailable", "database": "unreachable", "version": __version__}
            headers = {"Retry-After": str(settings.retry_after_seconds)}
            return JSONResponse(body, status_code=503, headers=headers)
        return JSONResponse({"status": "ready", "database": "ok", "version": __version__})

    static = Path(__file__).resolve().parent / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    app.add_middleware(LocaleMiddleware, default=settings.default_locale)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(ObservabilityMiddleware, metrics=metrics)
    return app
