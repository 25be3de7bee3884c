"""Jinja2 environment shared by every package's pages: translations, formatting, CSRF token."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, FileSystemLoader
from markupsafe import Markup
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm.exc import DetachedInstanceError

from townsquare.core import i18n
from townsquare.web import charts, icons

_ROOT = Path(__file__).resolve().parent.parent
# Every package's templates/ folder, so `miniapps/queue.html` names a file in miniapps/templates.
_loader = ChoiceLoader(
    [FileSystemLoader(str(_ROOT / "web" / "templates"))]
    + [FileSystemLoader(str(path.parent)) for path in sorted(_ROOT.glob("*/templates/*/"))]
)

templates = Jinja2Templates(directory=str(_ROOT / "web" / "templates"))
templates.env.loader = _loader
# Templates are read once per process: checking each one's modification time costs a system
# call per template per request (`townsquare serve --reload` restarts on a changed template).
templates.env.auto_reload = False
templates.env.add_extension("jinja2.ext.i18n")
templates.env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
templates.env.globals["_"] = i18n.gettext
templates.env.filters["money"] = i18n.format_money
templates.env.globals["icon_svg"] = icons.svg
templates.env.globals["service_icon"] = icons.service_svg
templates.env.globals["category_icon"] = icons.category_icon
templates.env.globals["section_icon"] = icons.section_icon
templates.env.globals["charts"] = charts
templates.env.globals["icon_datalist"] = lambda: Markup(
    '<datalist id="icon-names">'
    + "".join(f'<option value="{name}">' for name in sorted(icons.used_icons()))
    + "</datalist>"
)


def _code_points(text: str) -> str:
    """A name with every non-ASCII or invisible character spelled out (U+200B …), so an
    operator sees what a look-alike is made of."""
    return "".join(ch if " " < ch < "\x7f" else f"U+{ord(ch):04X} " for ch in text or "")


templates.env.filters["code_points"] = _code_points


@dataclass(frozen=True)
class Tab:
    """One tab of the residents' phone tab bar (base.html): its label (an English msgid), link,
    icon (a bundled Lucide name, web/icons.py) and the paths it stands for."""

    label: str
    href: str
    icon: str
    prefixes: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()  # paths under href that another tab stands for

    def is_current(self, path: str) -> bool:
        if self.href == "/":
            return path == "/"
        if any(path == p or path.startswith(p + "/") for p in self.excludes):
            return False
        return any(path == p or path.startswith(p + "/") for p in (self.href, *self.prefixes))


# The phone tab bar, in order. Only sections that exist get a tab (no dead tabs). Orders
# (订单) leads to the resident's orders, with the shops they were placed in.
TABS: list[Tab] = [
    Tab(i18n.N_("Home"), "/", "house"),
    Tab(i18n.N_("Messages"), "/inbox", "message-circle"),
    Tab(i18n.N_("Orders"), "/me/orders", "receipt", prefixes=("/shop",)),
    Tab(i18n.N_("Me"), "/me", "user", excludes=("/me/orders",)),
]
templates.env.globals["tabs"] = lambda: TABS


def lang_href(request: Request, lang: str) -> str:
    """The language switch: this page with its query kept and `lang` set. A page that answers
    a POST (a refused form) switches on the page the form was on: a GET of the POST's address
    would find nothing."""
    if request.method == "GET":
        path, query = request.url.path, request.url.query
    else:
        referer = urlsplit(request.headers.get("referer", ""))
        same_site = referer.netloc == request.url.netloc and referer.path.startswith("/")
        path, query = (referer.path, referer.query) if same_site else ("/", "")
    kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "lang"]
    return path + "?" + urlencode([*kept, ("lang", lang)])


templates.env.globals["lang_href"] = lang_href


def _page_auth(request: Request) -> Any:
    """The request's login, reloaded when a failed request's rollback has detached it (error pages
    are rendered after the request's session is closed)."""
    auth = getattr(request.state, "auth_session", None)
    if auth is None:
        return None
    try:
        auth.user.has_role("resident")
        return auth
    except DetachedInstanceError:
        with request.app.state.database.sessions() as db:
            auth = db.get(type(auth), sa_inspect(auth).identity[0])
            if auth is not None:
                auth.user.has_role("resident")  # load the user and roles before closing
        request.state.auth_session = auth
        return auth


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    settings = request.app.state.settings
    auth = _page_auth(request)
    base = {
        "locale": i18n.current_locale.get(),
        "user": auth.user if auth else None,
        "csrf_token": auth.csrf_token if auth else "",
        "csp_nonce": getattr(request.state, "csp_nonce", ""),
        "fmt_dt": lambda dt, fmt="medium": i18n.format_datetime(dt, settings.timezone, fmt),
    }
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code)


_fragments: dict[tuple[str, str], tuple[object, Markup]] = {}


def fragment(name: str, *, source: object, **context: Any) -> Markup:
    """The template `name` rendered once per `source` and language, then reused: for the part of
    a page that depends on nothing but a cached snapshot (`source`, compared by identity) and
    the language, such as the hub's sections on the home page. A new snapshot renders anew."""
    locale = i18n.current_locale.get()
    key = (name, locale)
    found = _fragments.get(key)
    if found is not None and found[0] is source:
        return found[1]
    html = Markup(templates.env.get_template(name).render(locale=locale, **context))
    _fragments[key] = (source, html)
    return html
