"""A reference external mini-app backend, served by the platform at /sample-miniapp/ for demos
and tests. It behaves like an outside web app: it never reads the shell's session or database
tables; it trusts only the launch context it verifies and the profile a one-time code buys.

- The launch context (`ts_launch`) is verified with the published key set, exactly what
  GET /api/launch/keys serves, against the mini-app's own id (`app`, from its configured URL).
- A one-time code (`ts_code`) is exchanged with the mini-app's client secret. A real backend
  POSTs to /api/oauth/token; this one calls the same service in-process, because a server
  calling itself over HTTP would tie up a worker (and there is no server under the test client).

Demo mini-apps that point here, e.g. `http://127.0.0.1:8000/sample-miniapp/?app=ma_x`, should
be created with `client_secret_digest=sample_client_secret_digest(secret, public_id)` so that
the exchange succeeds.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from townsquare.core import i18n
from townsquare.core.clock import clock
from townsquare.core.errors import TownsquareError
from townsquare.core.security import sign_hmac, token_digest
from townsquare.core.text import well_formed
from townsquare.miniapps.shell import consent, launch
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.templating import render

router = APIRouter(prefix="/sample-miniapp", include_in_schema=False)
TEMPLATE = "miniapps/shell_sample_backend.html"


def sample_client_secret(secret: bytes, app_public_id: str) -> str:
    """The client secret of a demo mini-app served by this backend (derived, never stored)."""
    return sign_hmac(secret, "sample-miniapp-client", app_public_id.encode())


def sample_client_secret_digest(secret: bytes, app_public_id: str) -> str:
    """What MiniApp.client_secret_digest must hold for this backend's code exchange to work."""
    return token_digest(sample_client_secret(secret, app_public_id))


def _fetch_public_keys(secret: bytes) -> dict:
    # Stands in for `GET /api/launch/keys` (same function behind that route), then parsing it.
    return launch.keys_from_text(launch.published_keys(secret))


@router.get("/", response_class=HTMLResponse)
def sample_page(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    app: str = "",
    ts_launch: str = "",
    ts_code: str = "",
) -> HTMLResponse:
    secret = settings.effective_secret_key
    app = app if well_formed(app, "ma") else ""
    try:
        context = launch.verify(
            ts_launch, _fetch_public_keys(secret), app=app, now=clock.now().timestamp(),
            max_age=settings.launch_context_ttl_seconds,
        )
    except launch.TokenInvalid:
        return render(
            request, TEMPLATE, status_code=401, app=app, launch=None,
            problem=i18n.gettext("Launch context invalid or expired"),
        )
    profile: dict[str, Any] | None = None
    exchange_error = ""
    if ts_code:
        try:
            profile = consent.exchange(
                db, settings=settings, client_id=app,
                client_secret=sample_client_secret(secret, app), code=ts_code[:128],
            )
        except consent.InvalidClient:
            exchange_error = i18n.gettext(
                "This mini-app was not registered with the sample backend's client secret."
            )
        except TownsquareError as exc:
            exchange_error = exc.render(i18n.gettext)
        if profile is not None and profile["sub"] != context.sub:
            profile, exchange_error = None, i18n.gettext("The code belongs to another user.")
    token = i18n.current_locale.set(i18n.normalise_locale(context.locale) or i18n.DEFAULT_LOCALE)
    try:
        return render(
            request, TEMPLATE, app=app, launch=context, profile=profile,
            exchange_error=exchange_error, problem="",
        )
    finally:
        i18n.current_locale.reset(token)
