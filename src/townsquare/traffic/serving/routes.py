"""Resident JSON API of the surfaces: the home feed, a channel's and a topic's feed, and search.

Every item says why it is there (`reason`), carries the promise it delivers when guaranteed, is
flagged when sponsored, and links through a signed click URL (`/go/<token>`). Every response
records one exposure per item.

The city is the `city` query parameter; without one, the first city with listed mini-apps (the
demo city's order: 武汉 first). Accounts carry no city yet, so a signed-in resident is no
different here.
"""

from __future__ import annotations

from typing import Annotated

import pydantic_core
import structlog
from fastapi import APIRouter, FastAPI, Path, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from townsquare.accounts.deps import SESSION_COOKIE, optional_user
from townsquare.core import i18n
from townsquare.core.clock import clock
from townsquare.core.database import Database
from townsquare.traffic import surfaces
from townsquare.traffic.market import bids
from townsquare.traffic.models import BidTarget, SlotReason
from townsquare.traffic.search import explain
from townsquare.traffic.serving import cache, exposure_writer
from townsquare.traffic.serving import service as serving
from townsquare.traffic.serving.pages import records_later, visitor_of
from townsquare.web.deps import get_settings
from townsquare.web.openapi import Responses

log = structlog.get_logger("townsquare.traffic.serving")
router = APIRouter(prefix="/api", tags=["traffic: feeds and search"])

City = Annotated[str | None, Query(max_length=32, description="City; default: the first served")]
Slug = Annotated[str, Path(min_length=2, max_length=24, pattern=r"^[a-z][a-z0-9-]{1,23}$")]
ERRORS: Responses = {404: {"description": "No such channel or topic"},
                     422: {"description": "Invalid city or query"}}


class FeedItemOut(BaseModel):
    position: int = Field(description="1 = top")
    miniapp_id: str = Field(description="Mini-app public id (ma_…)")
    name: str
    icon: str
    description: str
    merchant: str = Field(description="The merchant's name")
    certified_brand: str | None = Field(None, description="Certified brand of its merchant")
    official: bool = Field(description="Search: the certified brand the query named")
    reason: SlotReason = Field(description="Why the item is in this slot")
    promise_id: str | None = Field(None, description="The promise a guaranteed slot delivers")
    sponsored: bool = Field(description="A paid slot: show it labelled")
    new_merchant: bool
    click_url: str = Field(description="Open the mini-app through this URL (records the click)")
    matched_fields: list[str] = Field(
        default_factory=list, description="Search: where the query matched this item (name, "
        "tags, merchant, category, description, topic)")


class MatchOut(BaseModel):
    kind: str = Field(description="synonym, category or topic")
    word: str = Field(description="The query word that led to it")
    name: str = Field(description="The synonym, the category's name or the topic's title")
    label: str = Field(description="Said for a reader: 按分类「生鲜买菜」匹配, 同义词：买菜 → 生鲜")


class FeedOut(BaseModel):
    surface: str
    city: str
    daypart: str
    audience: str
    brand: str | None = Field(None, description="Search: the certified brand the query named")
    words: list[str] = Field(default_factory=list, description="Search: the query's words")
    matched: list[MatchOut] = Field(
        default_factory=list, description="Search: synonyms, categories and topics it matched")
    items: list[FeedItemOut]


def feed_json(served: serving.Served) -> bytes:
    """The response body: `FeedOut` as JSON, built directly (validating and dumping a model per
    item cost a fifth of a feed request; `test_feed_json_is_a_valid_feed_out` pins the shape)."""
    body = {
        "surface": served.surface, "city": served.city, "daypart": served.daypart,
        "audience": served.audience, "brand": served.brand.name if served.brand else None,
        "words": list(served.words),
        "matched": [{"kind": m.kind, "word": m.word, "name": m.name, "label": explain.label(m)}
                    for m in served.matched],
        "items": [
            {"position": item.position, "miniapp_id": item.card.public_id,
             "name": item.card.name, "icon": item.card.icon,
             "description": item.card.description, "merchant": item.card.merchant_name,
             "certified_brand": item.card.brand, "official": item.official,
             "reason": item.reason.value, "promise_id": item.promise_id,
             "sponsored": item.sponsored, "new_merchant": item.is_new,
             "click_url": item.click_url,
             "matched_fields": list(served.fields.get(item.card.id, ()))}
            for item in served.items
        ],
    }
    return pydantic_core.to_json(body)  # compact UTF-8, four times faster than json.dumps


def _serve(request: Request, surface: str, city: str | None, query: str | None = None, *,
           cached_only: bool = False) -> Response:
    """One request: its unit of work (committed before the response leaves, as `DbSession`),
    its user (as `OptionalUser`), the served slots and the JSON."""
    settings = get_settings(request)
    database: Database = request.app.state.database
    with database.unit_of_work(read_only=records_later(settings)) as db:
        user = optional_user(request, db)
        where = serving.clean_city(city) or serving.default_city(db)
        served = serving.serve(db, settings=settings, surface=surface, city=where, user=user,
                               query=query, cached_only=cached_only,
                               visitor=visitor_of(request, settings, user))
        body = feed_json(served)
    return Response(body, media_type="application/json")


def _guest(request: Request) -> bool:
    """No credentials at all: finding the (absent) user needs no database."""
    return ("authorization" not in request.headers
            and SESSION_COOKIE not in request.cookies)


async def _answer(request: Request, surface: str, city: str | None,
                  query: str | None = None) -> Response:
    """A guest's feed that memory can answer (`serving.from_memory`: nearly every one between
    the once-a-second checks) is served right here on the event loop: a few hundred µs of CPU
    and no I/O, cheaper than a hand-off to a worker thread. Anything that may read the database
    goes to a worker thread, whole: declared as the usual sync dependencies (DbSession,
    AppSettings, OptionalUser), each would be a thread hop of its own."""
    settings = get_settings(request)
    if _guest(request) and serving.from_memory(request.app.state.database.engine,
                                               settings=settings, surface=surface):
        return _serve(request, surface, city, query, cached_only=True)
    return await run_in_threadpool(_serve, request, surface, city, query)


def on_startup(app: FastAPI) -> None:
    """Load the serving snapshot and build the search index (and jieba) before the first
    request, so no resident waits for them; a database not ready yet is left to the first
    request (which builds them then), never a failed start."""
    if not app.state.settings.warm_up_at_start:
        return
    try:
        with app.state.database.unit_of_work(read_only=True) as db:
            snap = cache.snapshot(db)
            cache.warm_index(db, snap)
            i18n.catalogue("zh_CN")  # the translations parsed before the first request
            # the bids statement compiled before the first search or feed needs it
            bids.bid_rows(db, kind=BidTarget.KEYWORD, target="", day=clock.now().date())
    except Exception as exc:  # noqa: BLE001 - e.g. tables not created yet: warm up later
        log.warning("warm_up_skipped", error=type(exc).__name__)


def on_shutdown(app: FastAPI) -> None:
    """Write the exposures this process still buffers (called by the app's lifespan)."""
    exposure_writer.close(app.state.database.engine)


@router.get("/feed", response_model=FeedOut, responses=ERRORS)
async def home_feed(request: Request, city: City = None) -> Response:
    """The home feed: services recommended in this city, with the reason for each slot."""
    return await _answer(request, surfaces.FEED, city)


@router.get("/channels/{slug}/feed", response_model=FeedOut, responses=ERRORS)
async def channel_feed(request: Request, slug: Slug, city: City = None) -> Response:
    """A channel's services in this city."""
    return await _answer(request, surfaces.channel(slug), city)


@router.get("/topics/{slug}/feed", response_model=FeedOut, responses=ERRORS)
async def topic_feed(request: Request, slug: Slug, city: City = None) -> Response:
    """An official topic page's services in this city."""
    return await _answer(request, surfaces.topic(slug), city)


@router.get("/search", response_model=FeedOut, responses=ERRORS)
async def search(request: Request,
                 q: Annotated[str, Query(max_length=64, description="What to look for")] = "",
                 city: City = None) -> Response:
    """Search services; a certified brand the query names comes first (`official`)."""
    return await _answer(request, surfaces.SEARCH, city, q)
