"""The in-process cache behind serving: each listed mini-app's card (name, merchant, certified
brand, category, cities, stage, quality), the active configuration and the newest plan's period,
per database engine, plus the cities served and the feed's organic order per city.

Every request reads one small stamp (newest plan id, newest config version, count of listed
mini-apps); a change of stamp, or `CACHE_SECONDS`, reloads. Profiles are refreshed by each planning
run, which also makes a new plan, so they are never staler than the plan in use. A profile or a
listing edited in place without a new plan shows within `CACHE_SECONDS`.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from townsquare.core.errors import ValidationFailed
from townsquare.merchants.models import Brand, BrandStatus, Category, Merchant
from townsquare.miniapps.models import MiniApp
from townsquare.simulation.city_data import CITIES
from townsquare.traffic import config as traffic_config
from townsquare.traffic import ranking
from townsquare.traffic.config import TrafficConfig
from townsquare.traffic.models import (
    ServingPlan,
    Stage,
    TrafficConfigVersion,
    TrafficProfile,
)

CACHE_SECONDS = 30.0
NEUTRAL_QUALITY = 60.0  # the prior of a mini-app without a score (no scored peers either)
DIVERSITY_DECAY = 0.85


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

    @property
    def is_new(self) -> bool:
        return self.stage in (None, Stage.NEW)

    def serves(self, city: str) -> bool:
        return not self.cities or city in self.cities


@dataclass
class Snapshot:
    """What serving reads without asking the database, as of `stamp`."""

    stamp: tuple[Any, ...]
    loaded: float
    config: TrafficConfig
    cards: dict[int, Card]
    plan: tuple[int, datetime, datetime] | None
    # per city: organic candidates in rank order, and the cards serving it
    feeds: dict[str, tuple[list[ranking.Candidate], dict[int, Card]]] = field(
        default_factory=dict
    )
    cities: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        named = {c for card in self.cards.values() for c in card.cities}
        self.cities = [c for c in CITIES if c in named] + sorted(named - set(CITIES))

    def feed(self, city: str) -> tuple[list[ranking.Candidate], dict[int, Card]]:
        """The city's organic order and cards; kept only for cities some mini-app names, so
        requests naming made-up cities cannot grow the cache."""
        found = self.feeds.get(city)
        if found is None:
            cards = [c for c in self.cards.values() if c.serves(city)]
            found = (diverse(cards), {c.id: c for c in cards})
            if city in self.cities:
                self.feeds[city] = found
        return found


_snapshots: weakref.WeakKeyDictionary[Engine, Snapshot] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def forget_caches() -> None:
    """Drop every cached snapshot (tests, after changing listings or profiles in place)."""
    with _lock:
        _snapshots.clear()


_STAMP = select(
    select(ServingPlan.id).order_by(ServingPlan.id.desc()).limit(1).scalar_subquery(),
    select(func.max(TrafficConfigVersion.version)).scalar_subquery(),
    select(func.count(MiniApp.id)).where(MiniApp.listed.is_(True)).scalar_subquery(),
)  # built once: (newest plan id as planning.active_plan, newest config version, listed apps)


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
            TrafficProfile.quality, TrafficProfile.tier,
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
            row.tier,
        )
        for row in db.execute(stmt)
    }


def snapshot(db: Session) -> Snapshot:
    """The cached snapshot of this database, reloaded if its stamp changed or it is too old."""
    engine = db.get_bind().engine
    stamp = _stamp(db)
    with _lock:
        current = _snapshots.get(engine)
    if current is not None and current.stamp == stamp and (
        time.monotonic() - current.loaded < CACHE_SECONDS
    ):
        return current
    plan = None
    if stamp[0] is not None:
        row = db.execute(
            select(ServingPlan.starts_at, ServingPlan.ends_at).where(ServingPlan.id == stamp[0])
        ).one()
        plan = (stamp[0], row.starts_at, row.ends_at)
    fresh = Snapshot(stamp, time.monotonic(), traffic_config.active(db), _load_cards(db), plan)
    with _lock:
        _snapshots[engine] = fresh
    return fresh


def cities(db: Session) -> list[str]:
    """Cities some listed mini-app names, the demo city's list order first."""
    return list(snapshot(db).cities)


def default_city(db: Session) -> str:
    """Where to serve when the request names no city: the first city with listed mini-apps."""
    found = cities(db)
    return found[0] if found else CITIES[0]


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


def diverse(cards: list[Card]) -> list[ranking.Candidate]:
    """Candidates ordered by quality, relevance decaying with rank inside each category."""
    prior = neutral(cards)
    quality = {c.id: c.quality if c.quality is not None else prior for c in cards}
    rank_in: dict[str, int] = defaultdict(int)
    out = []
    for card in sorted(cards, key=lambda c: (-quality[c.id], c.id)):
        relevance = DIVERSITY_DECAY ** rank_in[card.category]
        rank_in[card.category] += 1
        out.append(ranking.Candidate(card.id, card.merchant_id, quality[card.id], relevance,
                                     card.is_new))
    return ranking.organic_order(out)
