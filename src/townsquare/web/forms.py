"""Helpers for HTML form handlers: show a rejected form again without keeping any of its changes."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from townsquare.core import i18n
from townsquare.core.errors import TownsquareError, ValidationFailed
from townsquare.core.text import is_local_path
from townsquare.web.templating import render


def rejected(
    request: Request, db: Session, template: str, exc: TownsquareError, **context: Any
) -> HTMLResponse:
    """Roll back whatever the failed attempt touched, then show the form with the message."""
    db.rollback()
    return render(
        request, template, status_code=exc.status, error=exc.render(i18n.gettext), **context
    )


def attempt(
    request: Request, db: Session, action: Callable[[], object], *, template: str,
    context: Callable[[], dict[str, Any]], done_url: str, **extra: Any,
) -> Response:
    """Run a form's action: redirect to `done_url`, or on a domain error roll back and show the
    form again, its page rebuilt (`context()`) from what is really stored."""
    try:
        action()
    except TownsquareError as exc:
        db.rollback()
        return rejected(request, db, template, exc, **context(), **extra)
    return see_other(done_url)


def whole_number(value: str, *, field: str) -> int:
    """A whole number typed into a form field (ASCII or full-width digits, an optional minus);
    anything else is refused with a message for that field, so the form can show it beside it."""
    text = (value or "").strip().replace("\u2212", "-").replace("\uff0d", "-")
    text = text.translate({ord("０") + i: ord("0") + i for i in range(10)})
    if not re.fullmatch(r"-?\d{1,9}", text):
        raise ValidationFailed("Enter a whole number.", field=field)
    return int(text)


def field_problems(exc: TownsquareError) -> dict[str, str]:
    """The message of a refused form keyed by the field it is about (`field=` on the error)."""
    field = exc.params.get("field")
    return {str(field): exc.render(i18n.gettext)} if field else {}


def flashes(request: Request, done: dict[str, str]) -> list[tuple[str, str]]:
    """The confirmation a form's redirect asked for (`?ok=<key>`), from the page's own msgids."""
    key = request.query_params.get("ok", "")
    return [("ok", i18n.gettext(done[key]))] if key in done else []


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths, as a browser will read them (no open redirects)."""
    if not target or not is_local_path(target, max_length=2000):
        return default
    return target


def same_origin(request: Request) -> bool:
    """A form post comes from our own pages: a cross-site Origin (or, without one, Referer) or
    `Sec-Fetch-Site: cross-site` is refused. Forms posted before there is a session (log in,
    sign up) have no CSRF token to carry; this is their check against login CSRF."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return False
    own = f"{request.url.scheme}://{request.url.netloc}"
    origin = request.headers.get("origin")
    if origin is not None:
        return origin == own
    referer = request.headers.get("referer")
    if referer:
        parts = urlsplit(referer)
        return f"{parts.scheme}://{parts.netloc}" == own
    return True  # no browser signal at all: not a browser's cross-site post


def cross_site(request: Request) -> HTMLResponse:
    return render(request, "error.html", status_code=403, code="cross_site",
                  message=i18n.gettext("This form was sent from another site."))


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)
