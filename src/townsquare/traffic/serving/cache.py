"""The in-process cache behind serving, per database engine: each listed mini-app's card (name,
merchant, certified brand, category, cities, stage, quality), the active configuration, the
newest plan's period and its allocations in memory (`planning.state`), the cities served, the
feed's organic order per city, and each bid target's bids with today's spend.

Freshness is time based: a process re-checks its snapshot at most every `serving_refresh_ms`
(default 1 s; 0 = every request) with one small stamp query (newest plan id, newest config
version, the "catalog" content generation — bumped by each unit of work that changes a mini-app,
merchant, brand or category through the ORM, `core.generations` — and the count of active
promises); a changed stamp, or an age of
`CACHE_SECONDS` (or ten times what the last load took, if more: at 200,000 mini-apps a load takes
seconds), reloads everything — above `INLINE_CARDS` mini-apps in a thread of its own. Between
checks a request reads nothing from the database for the snapshot. So a new plan, configuration,
listing or a cancelled promise is served within the refresh interval (plus the load time above
`INLINE_CARDS`); a profile or listing edited in place without a new plan shows within that age;
bids and their spend are at most one refresh interval old (charging a click is
exact and never cached: `bids.charge_click`).
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

import structlog
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from townsquare.core.database import READ_ONLY, engine_of
from townsquare.core.errors import ValidationFailed
from townsquare.core.generations import ContentGeneration
from townsquare.core.settings import get_settings
from townsquare.merchants.models import Brand, BrandStatus, Category, Merchant
from townsquare.miniapps.models import MiniApp
from townsquare.traffic import config as traffic_config
from townsquare.traffic.config import TrafficConfig
from townsquare.traffic.market import bids
from townsquare.traffic.models import (
    BidTarget,
    Promise,
    PromiseState,
    ServingPlan,
    Stage,
    TrafficConfigVersion,
    TrafficProfile,
)
from townsquare.traffic.planning import state as plan_state
from townsquare.traffic.planning.state import PlanState
from townsquare.traffic.search import service as search
from townsquare.traffic.serving import exposure_writer, ranking, value

log = structlog.get_logger("townsquare.traffic.serving")
CACHE_SECONDS = 30.0
RELOAD_SHARE = 0.1  # an unchanged snapshot is reloaded for edits in place at most this share
#                     of the time: after max(CACHE_SECONDS, load time / RELOAD_SHARE)
INLINE_CARDS = 5_000  # a bigger snapshot is reloaded behind the requests, not in one of them
BID_TARGETS_KEPT = 512  # bid targets (surfaces, search keywords) whose bids are kept per engine
NEUTRAL_QUALITY = 60.0  # the prior of a mini-app without a score (no scored peers either)
DIVERSITY_DECAY = 0.85
CATALOG = "catalog"  # the generation bumped by changes to mini-apps, merchants, brands, categories


@dataclass(frozen=True, slots=True)
class Card:
    """What serving and the pages need of one listed mini-app (cached)."""

    id: int
    public_id: str
    name: str
    icon: str
    description: str
    merchant_id: int
    merchant_name: str
    brand: str | None  # the merchant's certified brand name
    category: str
    cities: tuple[str, ...]
    stage: Stage | None  # None: no profile yet
    quality: float | None
    tier: str | None
    tags: tuple[str, ...] = ()  # what search indexes besides the text above
    impressions: int = 0  # the profile's recent window: what the click rate is estimated from
    clicks: int = 0

    @property
    def is_new(self) -> bool:
        return self.stage in (None, Stage.NEW)

    def serves(self, city: str) -> bool:
        return not self.cities or city in self.cities


class Feed(NamedTuple):
    """A city's feed candidates: organic order, cards by id, and the new ones in that order;
    with the "value" ranking also each card's expected good orders per look (else empty)."""

    ranked: list[ranking.Candidate]
    cards: dict[int, Card]
    new: list[ranking.Candidate]
    values: dict[int, float] | None = None


@dataclass
class Snapshot:
    """What serving reads without asking the database, as of `stamp`."""

    stamp: tuple[Any, ...]
    loaded: float  # monotonic seconds
    config: TrafficConfig
    cards: dict[int, Card]
    plan: tuple[int, datetime, datetime] | None
    plan_state: PlanState | None = None
    # per city: organic candidates in rank order, the cards serving it, the new candidates
    feeds: dict[str, Feed] = field(default_factory=dict)
    cities: list[str] = field(default_factory=list)
    checked: float = 0.0  # when the stamp was last compared (monotonic seconds)
    reload_due: bool = False  # a flush committed while the plan was read: reload at next check
    reloading: bool = False  # a reload behind the requests is under way (`_reload_behind`)
    load_seconds: float = 0.0  # how long loading it took
    conversion: Conversion | None = field(default=None, init=False)  # the "value" ranking's

    @property
    def max_age(self) -> float:
        """Seconds after which it is reloaded even with an unchanged stamp (edits in place)."""
        return max(CACHE_SECONDS, self.load_seconds / RELOAD_SHARE)
    lock: threading.Lock = field(default_factory=threading.Lock)  # one checker at a time

    def __post_init__(self) -> None:
        self.conversion = (Conversion(self.cards.values(), self.config)
                           if self.config.ranking == "value" else None)
        named = {c for card in self.cards.values() for c in card.cities}
        settings = get_settings()
        order = list(dict.fromkeys((settings.default_city, *settings.city_order)))
        self.cities = [c for c in order if c in named] + sorted(named - set(order))
        self.checked = self.loaded

    def feed(self, city: str) -> Feed:
        """The city's organic order, cards and new candidates; kept only for cities some
        mini-app names, so requests naming made-up cities cannot grow the cache."""
        found = self.feeds.get(city)
        if found is None:
            cards = [c for c in self.cards.values() if c.serves(city)]
            ranked = diverse(cards, conversion=self.conversion)
            values = ({c.miniapp_id: c.quality * c.relevance for c in ranked}
                      if self.conversion is not None else None)
            found = Feed(ranked, {c.id: c for c in cards}, [c for c in ranked if c.is_new],
                         values)
            if city in self.cities:
                self.feeds[city] = found
        return found


_snapshots: weakref.WeakKeyDictionary[Engine, Snapshot] = weakref.WeakKeyDictionary()
_bids: weakref.WeakKeyDictionary[Engine, OrderedDict[tuple[Any, ...], BidBook]] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()
monotonic = time.monotonic  # tests replace it to move time


def forget_caches() -> None:
    """Drop every cached snapshot and bid list (tests, after changing rows in place)."""
    with _lock:
        _snapshots.clear()
        _bids.clear()


_STAMP = select(
    select(ServingPlan.id).order_by(ServingPlan.id.desc()).limit(1).scalar_subquery(),
    select(func.max(TrafficConfigVersion.version)).scalar_subquery(),
    select(ContentGeneration.generation).where(ContentGeneration.name == CATALOG)
    .scalar_subquery(),
    select(func.count(Promise.id)).where(Promise.state == PromiseState.ACTIVE).scalar_subquery(),
)  # built once: (newest plan id as planning.active_plan, config version, the catalogue's
#    generation (a primary-key read, not a count of the listed), active promises)


def _stamp(db: Session) -> tuple[Any, ...]:
    """What tells a snapshot is stale, in one indexed round trip."""
    return tuple(db.execute(_STAMP).one())


def _load_cards(db: Session) -> dict[int, Card]:
    certified = select(Brand.merchant_id, Brand.name).where(Brand.status == BrandStatus.CERTIFIED)
    brands = {merchant_id: name for merchant_id, name in db.execute(certified)}
    stmt = (
        select(
            MiniApp.id, MiniApp.public_id, MiniApp.name, MiniApp.icon, MiniApp.description,
            MiniApp.merchant_id, Merchant.name.label("merchant_name"),
            Category.code.label("category"), MiniApp.cities, TrafficProfile.stage,
            TrafficProfile.quality, TrafficProfile.tier, MiniApp.tags,
            TrafficProfile.impressions, TrafficProfile.clicks,
        )
        .join(Merchant, Merchant.id == MiniApp.merchant_id)
        .join(Category, Category.id == MiniApp.category_id)
        .outerjoin(TrafficProfile, TrafficProfile.miniapp_id == MiniApp.id)
        .where(MiniApp.listed.is_(True))
    )
    return {
        row.id: Card(
            row.id, row.public_id, row.name, row.icon, row.description, row.merchant_id,
            row.merchant_name, brands.get(row.merchant_id), row.category,
            tuple(c for c in (row.cities or []) if isinstance(c, str)), row.stage, row.quality,
            row.tier, tuple(t for t in (row.tags or []) if isinstance(t, str)),
            row.impressions or 0, row.clicks or 0,
        )
        for row in db.execute(stmt)
    }


def _load(db: Session, engine: Engine, stamp: tuple[Any, ...]) -> Snapshot:
    started = monotonic()
    plan, state, due = None, None, False
    if stamp[0] is not None:
        row = db.execute(
            select(ServingPlan.starts_at, ServingPlan.ends_at).where(ServingPlan.id == stamp[0])
        ).one()
        plan = (stamp[0], row.starts_at, row.ends_at)
        # Deliveries not yet in the database stay counted; a flush that commits while the plan
        # is read may or may not be in what was read, so the plan is read again at next check.
        writer = exposure_writer.current(engine)
        allocations, promises, generation = (
            writer.unflushed() if writer is not None else (None, None, 0))
        state = plan_state.load(db, plan_id=stamp[0], allocations_since=allocations,
                                promises_since=promises)
        due = writer is not None and writer.generation != generation
    config, cards = traffic_config.active(db), _load_cards(db)
    fresh = Snapshot(stamp, monotonic(), config, cards, plan, state)  # (loaded after the cards)
    fresh.reload_due = due
    fresh.load_seconds = fresh.loaded - started
    return fresh


def warm_index(db: Session, snap: Snapshot) -> None:
    """Patch (or build) the search index to the snapshot's cards; the time it took counts as
    part of the snapshot's load, so a reload's share of the time stays RELOAD_SHARE."""
    started = monotonic()
    search.warm(db, snap.cards)
    snap.load_seconds += monotonic() - started


def _reload_behind(engine: Engine, current: Snapshot) -> None:
    """Load a new snapshot (and patch the search index to its cards) in a thread of its own;
    requests keep the current one meanwhile. At most one such reload per snapshot at a time."""
    if current.reloading:
        return
    current.reloading = True

    def run() -> None:
        try:
            with Session(engine.execution_options(**{READ_ONLY: True})) as db:
                fresh = _load(db, engine, _stamp(db))
                warm_index(db, fresh)
            with _lock:
                if _snapshots.get(engine) is current:
                    _snapshots[engine] = fresh
        except Exception as exc:  # noqa: BLE001 - the next check tries again
            log.warning("snapshot_reload_failed", error=type(exc).__name__)
        finally:
            current.reloading = False

    threading.Thread(target=run, name="serving-snapshot", daemon=True).start()


def snapshot(db: Session, *, refresh_seconds: float = 0.0) -> Snapshot:
    """The cached snapshot of this database: its stamp is re-checked when it was last checked
    `refresh_seconds` ago or more; it is reloaded when the stamp changed or after
    `CACHE_SECONDS`. While one thread checks, the others serve the current snapshot. A snapshot
    of more than `INLINE_CARDS` mini-apps is reloaded in a thread of its own (seconds at
    200,000), the current one served until then: no request pays for the reload."""
    engine = engine_of(db)
    now = monotonic()
    current = _snapshots.get(engine)
    if current is not None:
        if refresh_seconds == math.inf or (now - current.checked < refresh_seconds
                                           and now - current.loaded < current.max_age):
            return current  # (inf: as it is, whatever its age)
        if not current.lock.acquire(blocking=False):
            return current  # another request is checking it right now
        try:
            stamp = _stamp(db)
            if (stamp == current.stamp and not current.reload_due
                    and now - current.loaded < current.max_age):
                current.checked = now
                return current
            if len(current.cards) > INLINE_CARDS:
                current.checked = now  # served as it is until the new one is loaded
                _reload_behind(engine, current)
                return current
            fresh = _load(db, engine, stamp)
        finally:
            current.lock.release()
    else:  # the first request (several at once may each load: none waits for another)
        fresh = _load(db, engine, _stamp(db))
    with _lock:
        _snapshots[engine] = fresh
    return fresh


class BidBook:
    """A bid target's bids as read at `loaded`, and the auctions already run on them: within
    one second, requests with the same city, slots and excluded bidders get the same picks."""

    MEMO = 256

    def __init__(self, rows: list[bids.BidRow], loaded: float) -> None:
        self.rows, self.loaded = rows, loaded
        self.reloading = threading.Lock()  # one request re-reads a stale book; others use it
        self.bidders = frozenset(r.miniapp_id for r in rows)
        self._memo: dict[tuple[Any, ...], list[bids.SponsoredPick]] = {}
        self._config: TrafficConfig | None = None

    def picks(self, *, city: str, seconds: float, exclude: set[int], slots: int,
              config: TrafficConfig) -> list[bids.SponsoredPick]:
        """`bids.pick` over these rows, memoised per second of the day."""
        if not self.rows:
            return []
        key = (city, int(seconds), slots, frozenset(exclude & self.bidders))
        if config is not self._config or len(self._memo) >= self.MEMO:
            self._memo, self._config = {}, config
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = bids.pick(self.rows, city=city, seconds=seconds,
                                                exclude=exclude, slots=slots, config=config)
        return found


def fresh(engine: Engine, *, refresh_seconds: float,
          bids_of: tuple[BidTarget, str, date] | None = None) -> Snapshot | None:
    """The snapshot if a request can be served from memory alone right now: checked less than
    `refresh_seconds` ago (and the bids of `bids_of` read as recently); else None."""
    now = monotonic()
    current = _snapshots.get(engine)
    if current is None or not (now - current.checked < refresh_seconds
                               and now - current.loaded < current.max_age):
        return None
    if bids_of is not None and current.config.sponsored_positions:
        books = _bids.get(engine)
        book = books.get(bids_of) if books is not None else None
        if book is None or not now - book.loaded < refresh_seconds:
            return None
    return current


def bid_book(db: Session, *, kind: BidTarget, target: str, day: date,
             max_age: float) -> BidBook:
    """A bid target's active bids with `day`'s spend, read at most `max_age` seconds ago."""
    engine = engine_of(db)
    key = (kind, target, day)
    now = monotonic()
    with _lock:
        cache = _bids.get(engine)
        if cache is None:
            cache = _bids[engine] = OrderedDict()
        found = cache.get(key)
    if found is not None and (now - found.loaded < max_age
                              or not found.reloading.acquire(blocking=False)):
        return found  # fresh, or another request is re-reading it: stale by a moment at most
    try:
        book = BidBook(bids.bid_rows(db, kind=kind, target=target, day=day), now)
    except BaseException:
        if found is not None:
            found.reloading.release()  # let the next request try again
        raise
    with _lock:
        cache[key] = book
        cache.move_to_end(key)
        while len(cache) > BID_TARGETS_KEPT:  # search keywords are unbounded: keep the recent
            cache.popitem(last=False)
    return book


def cities(db: Session) -> list[str]:
    """Cities some listed mini-app names: the default city and `city_order` first (settings)."""
    return list(snapshot(db, refresh_seconds=math.inf).cities)


def default_city(db: Session) -> str:
    """Where to serve when the request names no city: the first city with listed mini-apps, or
    the `default_city` setting while none names a city."""
    found = cities(db)
    return found[0] if found else get_settings().default_city


def clean_city(value: str | None) -> str | None:
    """A city name from a request (None if absent); at most 32 characters, no control ones."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) > 32 or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValidationFailed("A city name is at most {n} characters of plain text.", n=32,
                               field="city")
    return value


# -- candidates and relevance ------------------------------------------------------------------
def neutral(cards: Iterable[Card]) -> float:
    """The prior quality of an unscored mini-app: the mean of its scored peers here."""
    scored = [c.quality for c in cards if c.quality is not None]
    return sum(scored) / len(scored) if scored else NEUTRAL_QUALITY


class Conversion:
    """Each card's expected good orders per relevant look (`value.per_look` at relevance 1): its
    click rate shrunk towards the catalogue's (`ranking_prior_impressions` pseudo-impressions),
    × P(order) × P(good) of its score (a card without a score takes its peers' mean)."""

    def __init__(self, cards: Iterable[Card], config: TrafficConfig) -> None:
        cards = list(cards)
        self.prior_quality = neutral(cards)
        self.prior_click = value.prior_click_rate((c.impressions, c.clicks) for c in cards)
        self.strength = config.ranking_prior_impressions
        self._memo: dict[int, float] = {}

    def __call__(self, card: Card) -> float:
        found = self._memo.get(card.id)
        if found is None:
            score = min(100.0, max(0.0, card.quality if card.quality is not None
                                   else self.prior_quality))
            click = value.click_rate(impressions=card.impressions, clicks=card.clicks,
                                     prior=self.prior_click, strength=self.strength)
            found = self._memo[card.id] = value.per_look(relevance=1.0, click=click,
                                                         score=score)
        return found


def diverse(cards: list[Card], *,
            conversion: Conversion | None = None) -> list[ranking.Candidate]:
    """Candidates ordered by quality, relevance decaying with rank inside each category; with a
    `conversion` (the "value" ranking) each candidate's quality is its expected good orders per
    relevant look instead of its score, so the order is by expected good orders."""
    prior = neutral(cards)
    quality = {c.id: c.quality if c.quality is not None else prior for c in cards}
    rank_in: dict[str, int] = defaultdict(int)
    out = []
    for card in sorted(cards, key=lambda c: (-quality[c.id], c.id)):
        relevance = DIVERSITY_DECAY ** rank_in[card.category]
        rank_in[card.category] += 1
        worth = conversion(card) if conversion is not None else quality[card.id]
        out.append(ranking.Candidate(card.id, card.merchant_id, worth, relevance, card.is_new))
    return ranking.organic_order(out)
