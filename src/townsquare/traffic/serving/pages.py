"""Resident pages of the surfaces: the home page (`/`: the feed, channels, topics and the hub's
sections), search (`/search`), channel and topic pages, and the click redirect (`/go/<token>`).

Pages take the city from `?city=`; a missing or malformed one falls back to the default city
(a page should not fail over a bad link), unlike the JSON API, which answers 422.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from townsquare.accounts.deps import OptionalUser, optional_user
from townsquare.accounts.models import User
from townsquare.core import entropy, i18n
from townsquare.core.database import Database
from townsquare.core.errors import ValidationFailed
from townsquare.core.settings import Settings
from townsquare.miniapps.shell import hub_view
from townsquare.traffic import surfaces, topic_views
from townsquare.traffic.search import explain
from townsquare.traffic.search import service as search
from townsquare.traffic.serving import clicks, feed_html
from townsquare.traffic.serving import service as serving
from townsquare.web.deps import AppSettings, DbSession, WritingDbSession, get_settings
from townsquare.web.forms import see_other
from townsquare.web.templating import fragment, render, templates

router = APIRouter(include_in_schema=False)
templates.env.globals["feed_grid_html"] = feed_html.grid
templates.env.globals["city_switch_html"] = feed_html.city_switch


def page_city(db: Session, city: str | None) -> str:
    """The request's city for a page: `?city=` if well formed, else the default city."""
    try:
        return serving.clean_city(city) or serving.default_city(db)
    except ValidationFailed:
        return serving.default_city(db)


def _visitor_cookie(request: Request, *, issue: bool) -> str | None:
    """The browser's visitor cookie; on a page (`issue`), a new one for a browser without,
    used for this very response's click links and set on it (`with_visitor_cookie`)."""
    cookie = request.cookies.get(clicks.VISITOR_COOKIE)
    if cookie and clicks.is_visitor_cookie(cookie):
        return cookie
    if not issue:
        return None
    if getattr(request.state, "new_visitor", None) is None:
        request.state.new_visitor = entropy.token_hex(16)
    return str(request.state.new_visitor)


def visitor_of(request: Request, settings: Settings, user: User | None, *,
               issue: bool = False) -> str:
    """Who is asking, for click validity: the user, the visitor cookie, or address and agent."""
    return clicks.visitor_id(
        settings.effective_secret_key, user_public_id=user.public_id if user else None,
        cookie=_visitor_cookie(request, issue=issue),
        address=request.client.host if request.client else "",
        agent=request.headers.get("user-agent", ""))


def with_visitor_cookie(request: Request, response: HTMLResponse) -> HTMLResponse:
    """Give an anonymous browser its random visitor id (so its clicks can be told apart)."""
    new = getattr(request.state, "new_visitor", None)
    if new is not None:
        response.set_cookie(clicks.VISITOR_COOKIE, new, max_age=365 * 86400,
                            httponly=True, samesite="lax", secure=request.url.scheme == "https")
    return response


def surface_context(
    db: Session, *, settings: Settings, user: User | None, surface: str, city: str | None,
    query: str | None = None, visitor: str = "",
) -> dict[str, Any]:
    """What the feed partial needs: the served items, the city and the cities to switch to."""
    where = page_city(db, city)
    served = serving.serve(db, settings=settings, surface=surface, city=where, user=user,
                           query=query, visitor=visitor)
    return {"feed": served, "city": where, "cities": serving.cities(db)}


def _refresh(settings: Settings) -> float:
    return settings.serving_refresh_ms / 1000


def home_context(db: Session, *, settings: Settings, user: User | None,
                 city: str | None, visitor: str = "") -> dict[str, Any]:
    """The home page's feed section, with the channels and topics to browse (cached)."""
    found = topic_views.directory(db, refresh_seconds=_refresh(settings))
    return {
        **surface_context(db, settings=settings, user=user, surface=surfaces.FEED, city=city,
                          visitor=visitor),
        "channels": found.channels, "topics": found.topics,
    }


def records_later(settings: Settings) -> bool:
    """Whether serving buffers its exposures (write-behind) rather than writing them in the
    request: then a page that serves only reads, and its unit of work is a read-only one (on
    SQLite it never takes the write lock)."""
    return settings.exposure_flush_ms > 0


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, city: str = "") -> HTMLResponse:
    """The home page in one worker thread: declared as the usual sync dependencies (DbSession,
    OptionalUser, AppSettings), each would be a thread hop of its own (a third of the page's
    CPU under load)."""
    return await run_in_threadpool(_home, request, city)


def _home(request: Request, city: str) -> HTMLResponse:
    settings = get_settings(request)
    database: Database = request.app.state.database
    with database.unit_of_work(read_only=records_later(settings)) as db:
        user = optional_user(request, db)
        feed = home_context(db, settings=settings, user=user, city=city,
                            visitor=visitor_of(request, settings, user, issue=True))
        sections = hub_view.public_hub(db, refresh_seconds=_refresh(settings))
        hub_sections = fragment("traffic/hub_sections.html", source=sections, sections=sections)
        response = render(request, "traffic/home.html", hub_sections=hub_sections, **feed)
    return with_visitor_cookie(request, response)


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request, db: DbSession, user: OptionalUser, settings: AppSettings, q: str = "",
    city: str = "",
) -> HTMLResponse:
    q = q.strip()[: search.QUERY_MAX]
    # ranked search (serving.serve): brand pin, guaranteed and sponsored slots, exposures
    context = surface_context(
        db, settings=settings, user=user, surface="search", city=city, query=q,
        visitor=visitor_of(request, settings, user, issue=True),
    )
    return with_visitor_cookie(request, render(request, "traffic/search.html", q=q,
                                               match_label=explain.label,
                                               field_labels=explain.fields, **context))


@router.get("/channels/{slug}", response_class=HTMLResponse)
def channel_page(request: Request, slug: str, db: DbSession, settings: AppSettings,
                 user: OptionalUser, city: str = "") -> HTMLResponse:
    channel = topic_views.directory(db, refresh_seconds=_refresh(settings)).channel(slug)
    locale = i18n.current_locale.get()
    context = surface_context(db, settings=settings, user=user,
                              surface=surfaces.channel(channel.slug), city=city,
                              visitor=visitor_of(request, settings, user, issue=True))
    return with_visitor_cookie(request, render(
        request, "traffic/surface_page.html", title=channel.title(locale), description="",
        base=f"/channels/{channel.slug}", kind="channel", **context))


@router.get("/topics/{slug}", response_class=HTMLResponse)
def topic_page(request: Request, slug: str, db: DbSession, settings: AppSettings,
               user: OptionalUser, city: str = "") -> HTMLResponse:
    topic = topic_views.directory(db, refresh_seconds=_refresh(settings)).topic(slug)
    locale = i18n.current_locale.get()
    context = surface_context(db, settings=settings, user=user,
                              surface=surfaces.topic(topic.slug), city=city,
                              visitor=visitor_of(request, settings, user, issue=True))
    return with_visitor_cookie(request, render(
        request, "traffic/surface_page.html", title=topic.title(locale),
        description=topic.description(locale), base=f"/topics/{topic.slug}", kind="topic",
        **context))


@router.get("/go/{token}")
def go(request: Request, token: str, db: WritingDbSession, settings: AppSettings,
       user: OptionalUser) -> Response:
    """Follow a served item's click URL: record the click (once) and open the mini-app."""
    try:
        click, _new = clicks.follow(
            db, settings=settings, token=token, user=user,
            visitor=visitor_of(request, settings, user),
            client=clicks.client_id(settings.effective_secret_key,
                                    request.client.host if request.client else ""))
    except ValidationFailed as exc:
        db.rollback()
        return render(request, "error.html", status_code=400, code="invalid_click",
                      message=exc.render(i18n.gettext))
    return see_other(f"/apps/{click.miniapp}")
