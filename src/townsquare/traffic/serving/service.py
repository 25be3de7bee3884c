"""Serving: fill one response's slots on a surface and record what was shown.

`serve` is the hot path behind the home feed, channels, topic pages and search:
1. candidates, one function per kind of surface (`CANDIDATES`) — feed: listed mini-apps serving
   the city (no cities = every city); a channel or topic: `topics.*_miniapp_ids`; search:
   `search.query` hits (a certified brand named by the query is pinned first, reason organic,
   flagged `official`);
2. guaranteed — the newest plan's allocations for this segment (surface × city × part of the day ×
   audience), held in memory (`planning.state`), paced: target = planned × the share of this part of
   the day's time elapsed in the plan period, behind = target − delivered (as loaded, plus this
   process's deliveries since); the most behind first (> 0), at most `max_guaranteed_slots`, one
   per mini-app, only mini-apps that are candidates here;
3. sponsored — `bids.pick` over the target's bids (`cache.bid_book`, read at most
   `serving_refresh_ms` ago) at `sponsored_positions`;
4. organic — quality (the profile's score; a missing profile counts as new with a neutral prior)
   × relevance (search: BM25 score / best score; feed, channels, topics: category diversity,
   0.85 ^ rank within the category, so a city's best grocer and best clinic both surface);
5. `ranking.compose` with the new-merchant share in every prefix.
With the "value" ranking (`config.ranking`, the default) steps 2 and 4 use expected good orders
(`serving.value`, docs/traffic.md "A feed that converts"): the allocations behind pace are taken
by worth here × min(1, behind), organic candidates are ordered by relevance × click rate ×
P(order) × P(good), and `compose` places guaranteed and organic items together by that value.
Then the records (`exposure_writer`): one EXPOSURE event per slot, delivered + 1 per served
allocation and promise, one impression per sponsored slot — written in the request's transaction
(`exposure_flush_ms` = 0) or, once the request commits, buffered for the flush thread.

Personalisation is deliberately not per resident yet: behaviour events carry a per-mini-app
pseudonymous `sub`, so finding "the categories this resident used" would cost one keyed digest per
candidate and a scan without an index on every request. City and category diversity are cheap.

Caching (`serving.cache`): the cards, the configuration, the plan and the bids are kept
in-process and re-checked at most every `serving_refresh_ms`; between checks a feed request for a
guest sends no statement at all (on SQLite it takes no lock).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as dtime
from functools import lru_cache, partial
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core import entropy
from townsquare.core.clock import clock
from townsquare.core.database import engine_of
from townsquare.core.errors import ValidationFailed
from townsquare.core.settings import Settings
from townsquare.events.models import EventType
from townsquare.miniapps.shell import launch
from townsquare.traffic import surfaces, topic_views
from townsquare.traffic.config import DAYPARTS
from townsquare.traffic.market import bids, pacing
from townsquare.traffic.models import BidTarget, PromiseKind, SlotReason
from townsquare.traffic.planning.state import Behind
from townsquare.traffic.search import service as search
from townsquare.traffic.serving import cache, clicks, exposure_writer, ranking, value
from townsquare.traffic.serving.cache import (  # noqa: F401  (part of this module's API)
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
    words: tuple[str, ...] = ()  # search: the query as segmented
    matched: tuple[search.Match, ...] = ()  # search: synonyms, categories and topics used
    fields: dict[int, tuple[str, ...]] = field(default_factory=dict)  # search: id → matched


def _shortlist(ranked: list[ranking.Candidate], exclude: set[int], size: int,
               new: list[ranking.Candidate] | None = None) -> list[ranking.Candidate]:
    """The best `size` candidates and the best `size` new ones: all `compose` can ever use.
    `new`: the new candidates of `ranked` in its order, if known (the feed's are cached)."""
    best = _first(ranked, exclude, size)
    taken = exclude | {c.miniapp_id for c in best}
    return best + _first([c for c in ranked if c.is_new] if new is None else new, taken, size)


def _first(ranked: list[ranking.Candidate], exclude: set[int], n: int) -> list:
    found = []
    for c in ranked:
        if c.miniapp_id not in exclude:
            found.append(c)
            if len(found) >= n:
                break
    return found


# -- candidates: one function per kind of surface -------------------------------------------------
@dataclass
class Candidates:
    """Who may fill a response's slots on a surface, and in which organic order."""

    organic: list[ranking.Candidate]
    allowed: dict[int, Card]  # mini-app id -> card: the only mini-apps a guaranteed slot may take
    new: list[ranking.Candidate] | None = None  # the new ones of `organic` in order, if known
    pinned: list[ranking.Fixed] = field(default_factory=list)  # search: the brand named
    official: set[int] = field(default_factory=set)
    keyword: str | None = None  # search: the bid target
    relevance: dict[int, float] | None = None  # search: BM25 score / best score
    # the "value" ranking: each allowed mini-app's expected good orders per look here
    values: dict[int, float] | None = None
    brand: search.BrandMatch | None = None
    found: search.SearchResult | None = None


def _feed_candidates(db: Session, snap: cache.Snapshot, *, surface: str, city: str,
                     query: str | None, refresh: float) -> Candidates:
    organic, allowed, new, values = snap.feed(city)
    return Candidates(organic, allowed, new, values=values)


def _channel_candidates(db: Session, snap: cache.Snapshot, *, surface: str, city: str,
                        query: str | None, refresh: float) -> Candidates:
    found = topic_views.directory(db, refresh_seconds=refresh)
    return _member_candidates(snap, found.channel_ids(found.channel(surface.partition(".")[2]),
                                                      city))


def _topic_candidates(db: Session, snap: cache.Snapshot, *, surface: str, city: str,
                      query: str | None, refresh: float) -> Candidates:
    found = topic_views.directory(db, refresh_seconds=refresh)
    return _member_candidates(snap, found.topic_ids(found.topic(surface.partition(".")[2]), city))


def _member_candidates(snap: cache.Snapshot, ids: Iterable[int]) -> Candidates:
    cards = [snap.cards[i] for i in ids if i in snap.cards]
    ranked = cache.diverse(cards, conversion=snap.conversion)
    values = ({c.miniapp_id: c.quality * c.relevance for c in ranked}
              if snap.conversion is not None else None)
    return Candidates(ranked, {c.id: c for c in cards}, values=values)


def _search_candidates(db: Session, snap: cache.Snapshot, *, surface: str, city: str,
                       query: str | None, refresh: float) -> Candidates | None:
    """The query's hits (None for an empty query: nothing is served); a certified brand the
    query names is pinned first, reason organic, flagged `official`."""
    text = (query or "").strip()
    if not text:
        return None
    result = search.query(db, text=text, city=city, limit=50, cards=snap.cards)
    hits = [h for h in result.hits if h.miniapp_id in snap.cards]
    allowed = {h.miniapp_id: snap.cards[h.miniapp_id] for h in hits}
    pinned: list[ranking.Fixed] = []
    official: set[int] = set()
    for hit in hits:
        if hit.official:
            card = allowed[hit.miniapp_id]
            official.add(card.id)
            pinned.append(ranking.Fixed(card.id, card.merchant_id, SlotReason.ORGANIC,
                                        card.is_new))
    prior = cache.neutral(allowed.values())
    top = max((h.score for h in hits), default=0.0) or 1.0
    convert = snap.conversion

    def worth(card: Card) -> float:
        if convert is not None:  # the "value" ranking: expected good orders per relevant look
            return convert(card)
        return card.quality if card.quality is not None else prior

    relevance = {h.miniapp_id: max(h.score, 0.0) / top for h in hits}
    organic = ranking.organic_order(
        ranking.Candidate(h.miniapp_id, allowed[h.miniapp_id].merchant_id,
                          worth(allowed[h.miniapp_id]), relevance[h.miniapp_id],
                          allowed[h.miniapp_id].is_new)
        for h in hits if not h.official
    )
    values = ({i: relevance[i] * convert(card) for i, card in allowed.items()}
              if convert is not None else None)
    return Candidates(organic, allowed, pinned=pinned, official=official, keyword=text,
                      relevance=relevance, brand=result.brand, found=result, values=values)


# the kind of surface (`feed`, `search`, `channel`, `topic`: before the dot) -> its candidates
CANDIDATES: dict[str, Callable[..., Candidates | None]] = {
    surfaces.FEED: _feed_candidates,
    surfaces.SEARCH: _search_candidates,
    "channel": _channel_candidates,
    "topic": _topic_candidates,
}


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
    return _elapsed_share(starts_at, ends_at, now, part, timezone)


@lru_cache(maxsize=64)  # serving asks once per second of `now` (it drops the microseconds)
def _elapsed_share(starts_at: datetime, ends_at: datetime, now: datetime, part: str,
                   timezone: str) -> float:
    zone = ZoneInfo(timezone)
    whole = _daypart_seconds(starts_at, ends_at, part, zone)
    if whole <= 0:
        return 1.0 if now >= ends_at else 0.0
    return min(1.0, _daypart_seconds(starts_at, min(now, ends_at), part, zone) / whole)


def _guaranteed(snap: cache.Snapshot, *, segment: tuple[str, str, str, str],
                allowed: dict[int, Card], exclude: set[int], now: datetime, timezone: str,
                limit: int, relevance: dict[int, float] | None = None,
                values: dict[int, float] | None = None,
                ) -> list[tuple[ranking.Fixed, int, str]]:
    """(Fixed, allocation id, promise public id) of the allocations most behind their pace.

    With `values` (the "value" ranking: expected good orders per look of each allowed
    mini-app here) the allocations behind their pace are taken by `value.pacing_priority`
    (worth × min(1, impressions behind)), on every surface: the plan's promises are still kept
    (every allocation behind pace stays eligible and the feedback correction hands the slots
    back to whoever falls behind), but a resident is shown the promised mini-apps likely to
    convert here. Else, where the request carries relevance (a search), by relevance × min(1,
    slots behind); else the most behind first."""
    if snap.plan is None or snap.plan_state is None or limit <= 0 or not allowed:
        return []
    _plan_id, starts_at, ends_at = snap.plan
    if not starts_at <= now < ends_at:
        return []
    share = elapsed_share(starts_at=starts_at, ends_at=ends_at, now=now.replace(microsecond=0),
                          part=segment[2], timezone=timezone)
    rows: Iterable[Behind] = snap.plan_state.behind(segment, share=share, now=now)
    if values is not None:
        rows = list(rows)
        worth = {r.allocation.id: value.pacing_priority(
            value=values.get(r.allocation.miniapp_id, 0.0), behind=r.gap)
            for r in rows if r.allocation.miniapp_id in allowed}
        rows = [r for r in rows if r.allocation.id in worth]
        rows.sort(key=lambda r: (-worth[r.allocation.id], r.allocation.id))
    elif relevance:
        rows = [r for r in rows if r.allocation.miniapp_id in allowed]
        rows.sort(key=lambda r: (-relevance.get(r.allocation.miniapp_id, 0.0) * min(1.0, r.gap),
                                 r.allocation.id))
    picked: list[tuple[ranking.Fixed, int, str]] = []
    seen = set(exclude)
    for row in rows:
        a = row.allocation
        card = allowed.get(a.miniapp_id)
        if card is None or card.id in seen:
            continue
        seen.add(card.id)
        fixed = ranking.Fixed(card.id, card.merchant_id, REASON_OF_KIND[a.kind], card.is_new,
                              promise_id=a.promise_id,
                              value=values.get(card.id, 0.0) if values is not None else 0.0)
        picked.append((fixed, a.id, a.promise_public_id))
        if len(picked) >= limit:
            break
    return picked


# -- the request ---------------------------------------------------------------------------------
def from_memory(engine: Engine, *, settings: Settings, surface: str,
                now: datetime | None = None) -> bool:
    """Whether a guest's request on `surface` can be served without the database right now: the
    feed, with write-behind on and the snapshot and the feed's bids checked within the refresh
    interval (channels, topics and search read their candidates from the database)."""
    if surface != surfaces.FEED or settings.exposure_flush_ms <= 0:
        return False
    day = (now or clock.now()).astimezone(ZoneInfo(settings.timezone)).date()
    return cache.fresh(engine, refresh_seconds=settings.serving_refresh_ms / 1000,
                       bids_of=(BidTarget.SURFACE, surface, day)) is not None


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
    cached_only: bool = False,
    visitor: str = "",
) -> Served:
    """Fill a response's slots on `surface` in `city` and record one exposure per slot.

    `cached_only`: use the cached snapshot and bids as they are, checking nothing (the caller
    made sure with `from_memory` that they are fresh, so the request needs no database)."""
    if not surfaces.is_surface(surface):
        raise ValidationFailed("Unknown surface {surface}.", surface=surface[:48])
    now = now or clock.now()
    refresh = math.inf if cached_only else settings.serving_refresh_ms / 1000
    snap = cache.snapshot(db, refresh_seconds=refresh)
    config = snap.config
    size = max(1, min(size or (SEARCH_SIZE if surface == surfaces.SEARCH else config.feed_size),
                      MAX_SIZE))
    part = surfaces.daypart(now, settings.timezone)
    who = surfaces.audience(user is not None)
    request_id = entropy.token_hex(8)
    found = CANDIDATES[surface.partition(".")[0]](db, snap, surface=surface, city=city,
                                                  query=query, refresh=refresh)
    if found is None:  # an empty search
        return Served(request_id, surface, city, part, who, [])
    result = found.found
    served = Served(request_id, surface, city, part, who, [], brand=found.brand,
                    words=result.words if result else (),
                    matched=result.matched if result else (),
                    fields={h.miniapp_id: h.fields for h in result.hits} if result else {})
    pinned, official, allowed = found.pinned, found.official, found.allowed

    taken = {f.miniapp_id for f in pinned}
    guaranteed = _guaranteed(
        snap, segment=(surface, city, part, who), allowed=allowed, exclude=taken, now=now,
        timezone=settings.timezone, limit=config.max_guaranteed_slots,
        relevance=found.relevance, values=found.values,
    )
    taken |= {g.miniapp_id for g, _a, _p in guaranteed}
    positions = [p for p in config.sponsored_positions if p <= size]
    sponsored: list[ranking.Fixed] = []
    target = bids.target_of(surface=surface, keyword=found.keyword) if positions else None
    if target is not None:
        local = now.astimezone(ZoneInfo(settings.timezone))
        book = cache.bid_book(db, kind=target[0], target=target[1], day=local.date(),
                              max_age=refresh)
        for pick in book.picks(city=city, seconds=pacing.seconds_of_day(local), exclude=taken,
                               slots=len(positions), config=config):
            card = snap.cards.get(pick.miniapp_id)
            # a channel or topic page sells its slots to its own members only
            on_page = surface in (surfaces.FEED, surfaces.SEARCH) or pick.miniapp_id in allowed
            if card is not None and card.serves(city) and on_page:
                sponsored.append(ranking.Fixed(card.id, card.merchant_id, SlotReason.SPONSORED,
                                               card.is_new, bid_id=pick.bid_id,
                                               price_fen=pick.price_fen))
    taken |= {s.miniapp_id for s in sponsored}
    slots = ranking.compose(
        size=size, pinned=pinned, guaranteed=[g for g, _a, _p in guaranteed],
        sponsored=sponsored, sponsored_positions=positions,
        organic=_shortlist(found.organic, taken, size, found.new),
        new_share=config.new_merchant_min_share, guaranteed_by_value=found.values is not None,
    )
    promises = {g.promise_id: (allocation, public) for g, allocation, public in guaranteed}
    click_url = clicks.url_maker(settings=settings, surface=surface, city=city, audience=who,
                                 now=now, visitor=visitor)
    items = []
    for position, slot in enumerate(slots, start=1):
        card = snap.cards[slot.miniapp_id]
        reason = SlotReason(slot.reason)
        promise = promises.get(slot.promise_id) if slot.promise_id is not None else None
        url = click_url(miniapp=card.public_id, reason=reason,
                        promise=promise[1] if promise else None, bid_id=slot.bid_id,
                        price_fen=slot.price_fen)
        items.append(Item(position, card, reason, slot.is_new, card.id in official,
                          promise[1] if promise else None, slot.bid_id, slot.price_fen, url))
    served.items.extend(items)
    _record(db, settings=settings, snap=snap, served=served, user=user, now=now,
            allocations=[promises[s.promise_id][0] for s in slots if s.promise_id in promises],
            promise_ids=[s.promise_id for s in slots
                         if s.promise_id is not None and s.promise_id in promises],
            bid_ids=[s.bid_id for s in slots if s.bid_id is not None])
    return served


def _record(db: Session, *, settings: Settings, snap: cache.Snapshot, served: Served,
            user: User | None, now: datetime, allocations: list[int], promise_ids: list[int],
            bid_ids: list[int]) -> None:
    """One exposure per slot, delivered + 1 per allocation and promise, one impression per ad:
    written now in the request's transaction (`exposure_flush_ms` = 0) or buffered."""
    if not served.items:
        return
    secret = settings.effective_secret_key if user is not None else b""
    batch = exposure_writer.Batch()
    # Time-ordered ids ("exp-<µs>-<random request id>-<position>", never a 64-hex digest like a
    # sender's key): new rows land at the end of the unique index instead of at random pages,
    # so an insert costs the same with a million events as with a thousand.
    prefix = f"exp-{int(now.timestamp() * 1_000_000):014x}-{served.request_id}-"
    for item in served.items:  # a tuple in exposure_writer.EVENT_COLUMNS order
        card = item.card
        batch.events.append((
            f"{prefix}{item.position}", EventType.EXPOSURE, now, now,
            card.id, card.merchant_id, card.category,
            launch.pseudonymous_id(secret, user.public_id, card.public_id)
            if user is not None else "",
            served.city, "", served.surface, item.reason.value, served.audience,
        ))
    batch.allocations.update(allocations)
    batch.promises.update(promise_ids)
    if bid_ids:
        day = now.astimezone(ZoneInfo(settings.timezone)).date()
        batch.impressions.update((bid_id, day) for bid_id in bid_ids)
    # Only a committed response counts: pacing and the buffer hear of it after the commit.
    if settings.exposure_flush_ms <= 0:
        exposure_writer.write(db, batch)
    else:
        writer = exposure_writer.writer_for(engine_of(db),
                                            interval_ms=settings.exposure_flush_ms,
                                            max_rows=settings.exposure_buffer_max,
                                            flush_rows=settings.exposure_flush_rows)
        exposure_writer.on_commit(db, partial(writer.add, batch))
    if snap.plan_state is not None and allocations:
        exposure_writer.on_commit(db, partial(snap.plan_state.deliver, allocations, promise_ids))
