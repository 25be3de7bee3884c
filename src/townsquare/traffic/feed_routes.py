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

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core.settings import Settings
from townsquare.traffic import serving, surfaces
from townsquare.traffic.models import SlotReason
from townsquare.web.deps import AppSettings, DbSession, OptionalUser

router = APIRouter(prefix="/api", tags=["traffic: feeds and search"])

City = Annotated[str | None, Query(max_length=32, description="City; default: the first served")]
Slug = Annotated[str, Path(min_length=2, max_length=24, pattern=r"^[a-z][a-z0-9-]{1,23}$")]
ERRORS = {404: {"description": "No such channel or topic"},
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


class FeedOut(BaseModel):
    surface: str
    city: str
    daypart: str
    audience: str
    brand: str | None = Field(None, description="Search: the certified brand the query named")
    items: list[FeedItemOut]


def feed_out(served: serving.Served) -> FeedOut:
    return FeedOut(
        surface=served.surface, city=served.city, daypart=served.daypart,
        audience=served.audience, brand=served.brand.name if served.brand else None,
        items=[
            FeedItemOut(
                position=item.position, miniapp_id=item.card.public_id, name=item.card.name,
                icon=item.card.icon, description=item.card.description,
                merchant=item.card.merchant_name, certified_brand=item.card.brand,
                official=item.official, reason=item.reason, promise_id=item.promise_id,
                sponsored=item.sponsored, new_merchant=item.is_new, click_url=item.click_url,
            )
            for item in served.items
        ],
    )


def _serve(db: Session, settings: Settings, user: User | None, surface: str, city: str | None,
           query: str | None = None) -> FeedOut:
    where = serving.clean_city(city) or serving.default_city(db)
    return feed_out(serving.serve(db, settings=settings, surface=surface, city=where, user=user,
                                  query=query))


@router.get("/feed", response_model=FeedOut, responses=ERRORS)
def home_feed(db: DbSession, settings: AppSettings, user: OptionalUser,
              city: City = None) -> FeedOut:
    """The home feed: services recommended in this city, with the reason for each slot."""
    return _serve(db, settings, user, surfaces.FEED, city)


@router.get("/channels/{slug}/feed", response_model=FeedOut, responses=ERRORS)
def channel_feed(slug: Slug, db: DbSession, settings: AppSettings, user: OptionalUser,
                 city: City = None) -> FeedOut:
    """A channel's services in this city."""
    return _serve(db, settings, user, surfaces.channel(slug), city)


@router.get("/topics/{slug}/feed", response_model=FeedOut, responses=ERRORS)
def topic_feed(slug: Slug, db: DbSession, settings: AppSettings, user: OptionalUser,
               city: City = None) -> FeedOut:
    """An official topic page's services in this city."""
    return _serve(db, settings, user, surfaces.topic(slug), city)


@router.get("/search", response_model=FeedOut, responses=ERRORS)
def search(db: DbSession, settings: AppSettings, user: OptionalUser,
           q: Annotated[str, Query(max_length=64, description="What to look for")] = "",
           city: City = None) -> FeedOut:
    """Search services; a certified brand the query names comes first (`official`)."""
    return _serve(db, settings, user, surfaces.SEARCH, city, q)
