"""Serving: fill one response's slots on a surface and record what was shown.

`serve` is the hot path behind the home feed, channels, topic pages and search:
1. candidates — feed: listed mini-apps serving the city (no cities = every city); a channel or
   topic: `topics.*_miniapp_ids`; search: `search.query` hits (a certified brand named by the
   query is pinned first, reason organic, flagged `official`);
2. guaranteed — the newest plan's allocations for this segment (surface × city × part of the day ×
   audience), paced: target = planned × the share of this part of the day's time elapsed in the
   plan period, behind = target − delivered; the most behind first (> 0), at most
   `max_guaranteed_slots`, one per mini-app, only mini-apps that are candidates here;
3. sponsored — `bids.sponsored` at `sponsored_positions`;
4. organic — quality (the profile's score; a missing profile counts as new with a neutral prior)
   × relevance (search: BM25 score / best score; feed, channels, topics: category diversity,
   0.85 ^ rank within the category, so a city's best grocer and best clinic both surface);
5. `ranking.compose` with the new-merchant share in every prefix.
Then one bulk INSERT of the EXPOSURE events (one per slot), one UPDATE … delivered + 1 for the
allocations and one for the promises, and `bids.count_impressions`.

Personalisation is deliberately not per resident yet: behaviour events carry a per-mini-app
pseudonymous `sub`, so finding "the categories this resident used" would cost one keyed digest per
candidate and a scan without an index on every request. City and category diversity are cheap.

Caching (`serving_cache`): the listed mini-apps' cards, the configuration and the newest plan's
period are kept in-process, reloaded when a one-query stamp changes or after 30 s. Delivered
counters are never cached.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

from sqlalchemy import Float, bindparam, func, select, update
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.core.database import UTCDateTime
from townsquare.core.errors import ValidationFailed
from townsquare.core.settings import Settings
from townsquare.events.intake import insert_rows, storage_key
from townsquare.events.models import EventType
from townsquare.miniapps import launch
from townsquare.traffic import bids, clicks, ranking, search, surfaces, topics
from townsquare.traffic import serving_cache as cache
from townsquare.traffic.config import DAYPARTS
from townsquare.traffic.models import (
    PlanAllocation,
    Promise,
    PromiseKind,
    PromiseState,
    SlotReason,
)
from townsquare.traffic.serving_cache import (  # noqa: F401  (part of this module's API)
    Card,
    cities,
    clean_city,
    default_city,
    forget_caches,
)

SEARCH_SIZE = 20
MAX_SIZE = 50
REASON_OF_KIND = {
    PromiseKind.TIER_INCENTIVE: SlotReason.GUARANTEED,
    PromiseKind.POINTS: SlotReason.GUARANTEED,
    PromiseKind.COLD_START: SlotReason.COLD_START,
    PromiseKind.CAMPAIGN: SlotReason.CAMPAIGN,
}


@dataclass(frozen=True, slots=True)
class Item:
    """One slot of a response: the mini-app, why it is there, and its signed click URL."""

    position: int
    card: Card
    reason: SlotReason
    is_new: bool
    official: bool
    promise_id: str | None  # the promise's public id, for guaranteed / cold start / campaign
    bid_id: int | None
    price_fen: int | None
    click_url: str

    @property
    def sponsored(self) -> bool:
        return self.reason == SlotReason.SPONSORED


@dataclass(frozen=True)
class Served:
    """A response's slots and the segment they were counted in."""

    request_id: str
    surface: str
    city: str
    daypart: str
    audience: str
    items: list[Item]
    brand: search.BrandMatch | None = None  # search: the certified brand the query named


def _shortlist(ranked: list[ranking.Candidate], exclude: set[int], size: int) -> list:
    """The best `size` candidates and the best `size` new ones: all `compose` can ever use."""
    best = list(_first(ranked, exclude, size, new_only=False))
    new = list(_first(ranked, exclude | {c.miniapp_id for c in best}, size, new_only=True))
    return best + new


def _first(ranked: list[ranking.Candidate], exclude: set[int], n: int, *, new_only: bool):
    found = 0
    for c in ranked:
        if found >= n:
            return
        if c.miniapp_id not in exclude and (c.is_new or not new_only):
            found += 1
            yield c


def _candidates(db: Session, snap: cache.Snapshot, *, surface: str, city: str) -> list[Card]:
    kind, _, slug = surface.partition(".")
    if kind == "channel":
        ids = topics.channel_miniapp_ids(db, channel=topics.get_channel(db, slug=slug), city=city)
    else:
        topic = topics.get_topic(db, slug=slug, active_only=True)
        ids = topics.topic_miniapp_ids(db, topic=topic, city=city)
    return [snap.cards[i] for i in ids if i in snap.cards]


# -- pacing ------------------------------------------------------------------------------------
def _daypart_seconds(start: datetime, end: datetime, part: str, zone: ZoneInfo) -> float:
    """Seconds of `part` (a 6-hour local window each day) within [start, end)."""
    if end <= start:
        return 0.0
    hour = DAYPARTS.index(part) * 6
    first, last = start.astimezone(zone), end.astimezone(zone)
    total, day = 0.0, first.date()
    while day <= last.date():
        lo = datetime.combine(day, dtime(hour), zone)
        hi = lo + timedelta(hours=6)
        total += max(0.0, (min(hi, last) - max(lo, first)).total_seconds())
        day += timedelta(days=1)
    return total


def elapsed_share(*, starts_at: datetime, ends_at: datetime, now: datetime, part: str,
                  timezone: str) -> float:
    """The share of the plan period's `part`-of-day time that has passed by `now` (0..1)."""
    zone = ZoneInfo(timezone)
    whole = _daypart_seconds(starts_at, ends_at, part, zone)
    if whole <= 0:
        return 1.0 if now >= ends_at else 0.0
    return min(1.0, _daypart_seconds(starts_at, min(now, ends_at), part, zone) / whole)


_NOW = bindparam("now", type_=UTCDateTime())
_GAP = PlanAllocation.planned * bindparam("share", type_=Float) - PlanAllocation.delivered
# Built once (statement construction costs more than running it): the segment's allocations
# behind their pace, most behind first; the caller drops mini-apps not shown here. The state test
# goes through coalesce() so SQLite cannot pick the promises' (state, ends_at) index and loop over
# every active promise: it walks the segment's allocations and fetches each promise by its key.
_BEHIND = (
    select(PlanAllocation.id, Promise.id.label("promise_id"), Promise.public_id, Promise.kind,
           Promise.miniapp_id, _GAP.label("gap"))
    .join(Promise, Promise.id == PlanAllocation.promise_id)
    .where(PlanAllocation.plan_id == bindparam("plan"),
           PlanAllocation.surface == bindparam("surface"),
           PlanAllocation.city == bindparam("city"), PlanAllocation.daypart == bindparam("part"),
           PlanAllocation.audience == bindparam("who"), _GAP > 0,
           func.coalesce(Promise.state, "") == PromiseState.ACTIVE,
           Promise.delivered < Promise.requested,
           Promise.starts_at <= _NOW, Promise.ends_at > _NOW)
    .order_by(_GAP.desc(), PlanAllocation.id)
)
_BEHIND_AMONG = _BEHIND.where(Promise.miniapp_id.in_(bindparam("among", expanding=True)))
_BEHIND_FIRST = _BEHIND.limit(bindparam("first"))


def _guaranteed(db: Session, snap: cache.Snapshot, *, segment: tuple[str, str, str, str],
                allowed: dict[int, Card], exclude: set[int], now: datetime, timezone: str,
                limit: int, feed: bool, relevance: dict[int, float] | None = None,
                ) -> list[tuple[ranking.Fixed, int, str]]:
    """(Fixed, allocation id, promise public id) of the allocations most behind their pace.

    Where the request carries relevance (a search), the behind allocations are taken by
    relevance × min(1, slots behind): the plan's promises are still kept, but a resident is
    shown the promised mini-apps that answer the query (the evaluation in docs/traffic.md:
    conversion 21 → 32 orders per 1000 impressions at the same delivery)."""
    if snap.plan is None or limit <= 0 or not allowed:
        return []
    plan_id, starts_at, ends_at = snap.plan
    if not starts_at <= now < ends_at:
        return []
    surface, city, part, who = segment
    share = elapsed_share(starts_at=starts_at, ends_at=ends_at, now=now, part=part,
                          timezone=timezone)
    params = {"plan": plan_id, "surface": surface, "city": city, "part": part, "who": who,
              "share": share, "now": now}
    if feed:  # every allocation of a feed segment is for a mini-app of that city
        rows = db.execute(_BEHIND_FIRST, {**params, "first": 4 * limit + len(exclude) + 8})
    else:  # a channel, topic or search shows only its members: ask about those alone
        rows = db.execute(_BEHIND_AMONG, {**params, "among": list(allowed)}).all()
        if relevance:
            rows.sort(key=lambda r: (-relevance.get(r.miniapp_id, 0.0) * min(1.0, r.gap), r.id))
    picked: list[tuple[ranking.Fixed, int, str]] = []
    seen = set(exclude)
    for row in rows:
        card = allowed.get(row.miniapp_id)
        if card is None or card.id in seen:
            continue
        seen.add(card.id)
        fixed = ranking.Fixed(card.id, card.merchant_id, REASON_OF_KIND[row.kind], card.is_new,
                              promise_id=row.promise_id)
        picked.append((fixed, row.id, row.public_id))
        if len(picked) >= limit:
            break
    return picked


# -- the request ---------------------------------------------------------------------------------
def serve(
    db: Session,
    *,
    settings: Settings,
    surface: str,
    city: str,
    user: User | None,
    query: str | None = None,
    size: int | None = None,
    now: datetime | None = None,
) -> Served:
    """Fill a response's slots on `surface` in `city` and record one exposure per slot."""
    if not surfaces.is_surface(surface):
        raise ValidationFailed("Unknown surface {surface}.", surface=surface[:48])
    now = now or clock.now()
    snap = cache.snapshot(db)
    config = snap.config
    size = max(1, min(size or (SEARCH_SIZE if surface == surfaces.SEARCH else config.feed_size),
                      MAX_SIZE))
    part = surfaces.daypart(now, settings.timezone)
    who = surfaces.audience(user is not None)
    request_id = secrets.token_hex(8)
    served = Served(request_id, surface, city, part, who, [])

    pinned: list[ranking.Fixed] = []
    official: set[int] = set()
    keyword = None
    if surface == surfaces.SEARCH:
        text = (query or "").strip()
        if not text:
            return served
        result = search.query(db, text=text, city=city, limit=50)
        served = Served(request_id, surface, city, part, who, [], brand=result.brand)
        hits = [h for h in result.hits if h.miniapp_id in snap.cards]
        allowed = {h.miniapp_id: snap.cards[h.miniapp_id] for h in hits}
        for hit in hits:
            if hit.official:
                card = allowed[hit.miniapp_id]
                official.add(card.id)
                pinned.append(ranking.Fixed(card.id, card.merchant_id, SlotReason.ORGANIC,
                                            card.is_new))
        prior = cache.neutral(allowed.values())
        top = max((h.score for h in hits), default=0.0) or 1.0
        organic = ranking.organic_order(
            ranking.Candidate(h.miniapp_id, allowed[h.miniapp_id].merchant_id,
                              q if (q := allowed[h.miniapp_id].quality) is not None else prior,
                              max(h.score, 0.0) / top, allowed[h.miniapp_id].is_new)
            for h in hits if not h.official
        )
        keyword = text
        relevance = {h.miniapp_id: max(h.score, 0.0) / top for h in hits}
    else:
        relevance = None
        if surface == surfaces.FEED:
            ranked, allowed = snap.feed(city)
        else:
            cards = _candidates(db, snap, surface=surface, city=city)
            ranked = cache.diverse(cards)
            allowed = {c.id: c for c in cards}
        organic = ranked

    taken = {f.miniapp_id for f in pinned}
    guaranteed = _guaranteed(
        db, snap, segment=(surface, city, part, who), allowed=allowed, exclude=taken, now=now,
        timezone=settings.timezone, limit=config.max_guaranteed_slots,
        feed=surface == surfaces.FEED, relevance=relevance,
    )
    taken |= {g.miniapp_id for g, _a, _p in guaranteed}
    positions = [p for p in config.sponsored_positions if p <= size]
    sponsored: list[ranking.Fixed] = []
    if positions:
        for pick in bids.sponsored(db, surface=surface, keyword=keyword, city=city, now=now,
                                   exclude=set(taken), slots=len(positions), config=config,
                                   timezone=settings.timezone):
            card = snap.cards.get(pick.miniapp_id)
            if card is not None and card.serves(city):
                sponsored.append(ranking.Fixed(card.id, card.merchant_id, SlotReason.SPONSORED,
                                               card.is_new, bid_id=pick.bid_id,
                                               price_fen=pick.price_fen))
    taken |= {s.miniapp_id for s in sponsored}
    slots = ranking.compose(
        size=size, pinned=pinned, guaranteed=[g for g, _a, _p in guaranteed],
        sponsored=sponsored, sponsored_positions=positions,
        organic=_shortlist(organic, taken, size), new_share=config.new_merchant_min_share,
    )
    promises = {g.promise_id: (allocation, public) for g, allocation, public in guaranteed}
    items = []
    for position, slot in enumerate(slots, start=1):
        card = snap.cards[slot.miniapp_id]
        reason = SlotReason(slot.reason)
        promise = promises.get(slot.promise_id) if slot.promise_id is not None else None
        url = clicks.click_url(
            settings=settings, miniapp=card.public_id, surface=surface, reason=reason,
            promise=promise[1] if promise else None, bid_id=slot.bid_id,
            price_fen=slot.price_fen, city=city, audience=who, now=now,
        )
        items.append(Item(position, card, reason, slot.is_new, card.id in official,
                          promise[1] if promise else None, slot.bid_id, slot.price_fen, url))
    served.items.extend(items)
    _record(db, settings=settings, served=served, user=user, now=now,
            allocations=[promises[s.promise_id][0] for s in slots if s.promise_id in promises],
            promise_ids=[s.promise_id for s in slots if s.promise_id in promises],
            bid_ids=[s.bid_id for s in slots if s.bid_id is not None])
    return served


_ALLOCATION_DELIVERED = (
    update(PlanAllocation.__table__)
    .where(PlanAllocation.__table__.c.id.in_(bindparam("ids", expanding=True)))
    .values(delivered=PlanAllocation.__table__.c.delivered + 1)
)
_PROMISE_DELIVERED = (
    update(Promise.__table__)
    .where(Promise.__table__.c.id.in_(bindparam("ids", expanding=True)))
    .values(delivered=Promise.__table__.c.delivered + 1)
)


def _record(db: Session, *, settings: Settings, served: Served, user: User | None,
            now: datetime, allocations: list[int], promise_ids: list[int | None],
            bid_ids: list[int]) -> None:
    """One exposure per slot (one INSERT), delivered + 1 (one UPDATE per table), bid counts."""
    if not served.items:
        return
    secret = settings.effective_secret_key if user is not None else b""
    rows = []
    for item in served.items:
        card = item.card
        rows.append({
            "event_id": storage_key(card.public_id, f"exp:{served.request_id}:{item.position}"),
            "type": EventType.EXPOSURE, "occurred_at": now, "received_at": now,
            "miniapp_id": card.id, "merchant_id": card.merchant_id,
            "category_code": card.category,
            "user_sub": launch.pseudonymous_id(secret, user.public_id, card.public_id)
            if user is not None else "",
            "city": served.city, "community": "", "surface": served.surface,
            "slot_reason": item.reason.value, "audience": served.audience,
            "order_id": None, "amount_fen": None, "duration_seconds": None,
            "cancelled_by": None, "complaint_category": None, "resolution": None,
            "rating": None, "response_seconds": None,
        })
    insert_rows(db, rows)
    if allocations:
        db.execute(_ALLOCATION_DELIVERED, {"ids": allocations})
        db.execute(_PROMISE_DELIVERED, {"ids": [p for p in promise_ids if p is not None]})
    if bid_ids:
        bids.count_impressions(db, bid_ids=bid_ids, now=now, timezone=settings.timezone)
