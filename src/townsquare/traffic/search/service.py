"""Search over listed mini-apps: words, synonyms, categories and topics, BM25F, brand pinning.

A query is cut into words (`segment`, jieba); each word is looked up as its character bigrams
(`tokens`), a one-character word as the bigrams that hold it, a Latin word also as the longer
words it begins. Each word's synonyms (`synonyms`) are looked up too, at a lower weight. The
index (`index.Index`, in memory, one per database engine and process) covers each mini-app's
name, tags, merchant (and certified brand), category names and description; a query word that
names an official topic ("买菜") adds the topic's members. Every result says what it matched:
the query's words, the synonyms, categories and topics used (`SearchResult.matched`) and each
hit's fields (`Hit.fields`).

The documents are the serving snapshot's cards (`query(..., cards=snapshot.cards)`): when the
snapshot changes (a listing or delisting within `serving_refresh_ms`, any edit within its
`CACHE_SECONDS`), the index is patched by diffing the cards' indexed text, so a request never
re-reads the catalogue. Without `cards` (tests, tools) the listed mini-apps are read here.

A query that names a certified brand (the brand's whole name appears in it) puts that brand
merchant's listed mini-apps first, marked official; an uncertified look-alike never takes that
place. Ties are broken by quality (the profile's score), then by id: a category query at scale
matches thousands of mini-apps equally, and serving blends quality into the order anyway.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from townsquare.core.database import engine_of
from townsquare.core.text import LINE_CONTROL
from townsquare.merchants.models import Brand, BrandStatus, Category, Merchant
from townsquare.miniapps.models import MiniApp
from townsquare.traffic.models import MembershipState, Topic, TopicMember, TrafficProfile
from townsquare.traffic.search import segment, synonyms, tokens
from townsquare.traffic.search.index import FIELD_BIT, FIELDS, K1, Doc, Index

QUERY_MAX = 64  # characters of a query that are looked at
LIMIT_MAX = 200
UNIQUE_SHARE = 16  # postings under 1/16 of the slots: the touched slots from them, not a scan
WARM_QUERY = "买菜"  # run once at start (`warm`)
BRAND_KEY_MIN = 2  # a one-character brand name would be "named" by far too many queries
PREFIX_WEIGHT = 0.5  # a Latin word found as the start of a longer word counts half
TOPIC_BIT = 1 << len(FIELDS)
TOPIC_WEIGHT = 2.0  # a topic named by the query counts like a category field match
TOPIC_IMPACT = TOPIC_WEIGHT * (K1 + 1) / (TOPIC_WEIGHT + K1)

Brands = list[tuple[int, str, int]]  # certified (brand id, name, merchant id)


@dataclass(frozen=True)
class Hit:
    miniapp_id: int
    score: float
    official: bool
    fields: tuple[str, ...] = ()  # what matched: name, tags, merchant, category, description, topic


@dataclass(frozen=True)
class BrandMatch:
    name: str
    merchant_id: int
    miniapp_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Match:
    """Something the query matched beyond its own words: `kind` synonym, category or topic."""

    kind: str
    word: str  # the query word
    name: str  # the synonym, the category's name or the topic's title (zh)
    name_en: str = ""


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit] = field(default_factory=list)
    brand: BrandMatch | None = None  # set when the query named a certified brand shown here
    words: tuple[str, ...] = ()  # the query as segmented
    matched: tuple[Match, ...] = ()


@dataclass(frozen=True)
class _Topic:
    title_zh: str
    title_en: str
    codes: frozenset[str]
    tags: frozenset[str]
    approved: frozenset[int]
    excluded: frozenset[int]


@dataclass
class _State:
    index: Index
    categories: dict[str, tuple[str, str]]  # code → (zh, en)
    topics: list[_Topic]
    lock: threading.Lock = field(default_factory=threading.Lock)  # held to read or change
    patching: threading.Lock = field(default_factory=threading.Lock)


_states: weakref.WeakKeyDictionary[Engine, _State] = weakref.WeakKeyDictionary()
_states_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Document:
    """A listed mini-app as the index reads it (when no serving cards are given)."""

    id: int
    name: str
    description: str
    tags: tuple[str, ...]
    merchant_name: str
    brand: str | None
    category: str
    cities: tuple[str, ...]
    quality: float | None
    merchant_id: int = 0


def clean_query(text: str) -> str:
    """Control characters removed, trimmed, at most QUERY_MAX characters."""
    return LINE_CONTROL.sub("", text or "").strip()[:QUERY_MAX].strip()


def _strings(values: object) -> tuple[str, ...]:
    return tuple(v for v in values if isinstance(v, str)) if isinstance(values, list) else ()


def documents(db: Session) -> dict[int, Document]:
    """Every listed mini-app's indexed text (what the serving snapshot's cards hold)."""
    certified = select(Brand.merchant_id, Brand.name).where(Brand.status == BrandStatus.CERTIFIED)
    brands = {merchant_id: name for merchant_id, name in db.execute(certified.order_by(Brand.id))}
    stmt = (
        select(MiniApp.id, MiniApp.name, MiniApp.description, MiniApp.tags, Merchant.name,
               MiniApp.merchant_id, Category.code, MiniApp.cities, TrafficProfile.quality)
        .join(Merchant, Merchant.id == MiniApp.merchant_id)
        .join(Category, Category.id == MiniApp.category_id)
        .outerjoin(TrafficProfile, TrafficProfile.miniapp_id == MiniApp.id)
        .where(MiniApp.listed.is_(True)).order_by(MiniApp.id)
    )
    return {
        row[0]: Document(row[0], row[1] or "", row[2] or "", _strings(row[3]), row[4] or "",
                         brands.get(row[5]), row[6], _strings(row[7]), row[8], row[5])
        for row in db.execute(stmt)
    }


def _categories(db: Session) -> dict[str, tuple[str, str]]:
    return {code: (zh, en) for code, zh, en in
            db.execute(select(Category.code, Category.name_zh, Category.name_en))}


def _topics(db: Session) -> list[_Topic]:
    members: dict[int, tuple[set[int], set[int]]] = {}
    for topic_id, miniapp_id, state, decided in db.execute(
        select(TopicMember.topic_id, TopicMember.miniapp_id, TopicMember.state,
               TopicMember.decided_at)
    ):
        approved, excluded = members.setdefault(topic_id, (set(), set()))
        if state == MembershipState.APPROVED:
            approved.add(miniapp_id)
        elif state != MembershipState.APPLIED or decided is not None:
            excluded.add(miniapp_id)  # rejected, removed, or applying again after that
    found = []
    for topic in db.scalars(select(Topic).where(Topic.active.is_(True)).order_by(Topic.id)):
        approved, excluded = members.get(topic.id, (set(), set()))
        found.append(_Topic(topic.title_zh, topic.title_en,
                            frozenset(_strings(topic.category_codes)),
                            frozenset(_strings(topic.tags)), frozenset(approved),
                            frozenset(excluded)))
    return found


def _state(db: Session, cards: Mapping[int, Doc]) -> _State:
    """The engine's index, patched to `cards` if they are not what it reflects."""
    engine = engine_of(db)
    with _states_lock:
        state = _states.get(engine)
    if state is not None and state.index.source is cards:
        return state
    categories, topics = _categories(db), _topics(db)
    names = {code: (zh, en) for code, (zh, en) in categories.items()}
    if state is None or {c: state.index.category_names.get(c) for c in names} != names:
        index = Index(category_names=names)
        index.build(cards.values())
        index.source = cards
        state = _State(index, categories, topics)
        with _states_lock:
            _states[engine] = state
        return state
    with state.patching:  # one patcher at a time; queries wait only while it applies
        if state.index.source is not cards:
            patch = state.index.diff(cards)
            with state.lock:
                state.index.apply(patch)
                state.categories, state.topics = categories, topics
    return state


def warm(db: Session, cards: Mapping[int, Doc] | None = None) -> int:
    """Load jieba and build this engine's index now (at start); how many mini-apps it holds.
    One query is run on it too, so the first resident's query finds its statements compiled."""
    segment.warm()
    cards = documents(db) if cards is None else cards
    live = _state(db, cards).index.live
    query(db, text=WARM_QUERY, cards=cards)
    return live


def ready(engine: Engine) -> int | None:
    """How many mini-apps this engine's index holds, or None if it is not built yet."""
    with _states_lock:
        state = _states.get(engine)
    return state.index.live if state is not None else None


def forget() -> None:
    """Drop every engine's index (tests)."""
    with _states_lock:
        _states.clear()


# -- the query --------------------------------------------------------------------------------
class _Lookup:
    """The terms one query looks up, with weights, and what it matched beyond its words."""

    def __init__(self, state: _State) -> None:
        self.state, self.index = state, state.index
        self.terms: dict[str, float] = {}
        self.matched: list[Match] = []
        self.topics: list[tuple[_Topic, float]] = []

    def add_text(self, text: str, weight: float) -> bool:
        """Look `text` up at `weight`; whether any of its terms is in the index."""
        found = False
        for is_cjk, run in tokens.runs(text):
            if is_cjk and len(run) == 1:
                exact, near = [run], self.index.containing(run)
            elif is_cjk:
                exact, near = [run[i:i + 2] for i in range(len(run) - 1)], []
            else:
                exact, near = [run], self.index.with_prefix(run) if len(run) >= 2 else []
            for term, w in [(t, weight) for t in exact] + [(t, weight * PREFIX_WEIGHT)
                                                            for t in near]:
                if self.index.postings(term)[0].size:
                    found = True
                    self.terms[term] = max(self.terms.get(term, 0.0), w)
        return found

    def add_names(self, word: str, weight: float) -> None:
        """Categories and topics the word names (both ways: 买菜 ⊂ 生鲜买菜, 买菜 ⊃ 菜)."""
        key = _key(word)
        if len(key) < 2:
            return
        for code, (zh, en) in self.state.categories.items():
            if any(_names(key, n) for n in (zh, en)) and self.index.by_category.get(code):
                self.matched.append(Match("category", word, zh, en))
        for topic in self.state.topics:
            if any(_names(key, n) for n in (topic.title_zh, topic.title_en)):
                self.matched.append(Match("topic", word, topic.title_zh, topic.title_en))
                self.topics.append((topic, weight))


@lru_cache(maxsize=4096)
def _key(name: str) -> str:
    return tokens.name_key(name)


def _names(key: str, name: str) -> bool:
    other = _key(name)
    return len(other) >= 2 and (key in other or other in key)


def query(db: Session, *, text: str, city: str | None = None, limit: int = 50,
          cards: Mapping[int, Doc] | None = None) -> SearchResult:
    """Listed mini-apps matching `text` (serving `city`), a named certified brand's first.
    `cards`: the serving snapshot's cards (else the listed mini-apps are read now)."""
    text = clean_query(text)
    words = segment.words(text) if text else ()
    if not words:
        return SearchResult()
    limit = max(1, min(limit, LIMIT_MAX))
    city = (city or "").strip() or None
    state = _state(db, documents(db) if cards is None else cards)
    named = _named_brand(text, _certified_brands(db))
    with state.lock:
        mine = [state.index.ids[s] for s in state.index.by_merchant.get(named[1], [])
                if state.index.alive[s]] if named else []
        lookup = _Lookup(state)
        for word in words:
            lookup.add_text(word, 1.0)
            lookup.add_names(word, 1.0)
            for other in synonyms.of(word):
                if lookup.add_text(other, synonyms.WEIGHT):
                    lookup.matched.append(Match("synonym", word, other))
                lookup.add_names(other, synonyms.WEIGHT)
        hits = _ranked(state.index, lookup, city, limit, mine)
    pinned = [hit.miniapp_id for hit in hits if hit.official]
    brand = BrandMatch(named[0], named[1], pinned) if named and pinned else None
    seen: dict[tuple[str, str], Match] = {}  # a category found by a word and a synonym: once
    for match in lookup.matched:
        seen.setdefault((match.kind, match.name if match.kind != "synonym"
                         else f"{match.word}→{match.name}"), match)
    return SearchResult(hits=hits, brand=brand, words=words, matched=tuple(seen.values()))


def _ranked(index: Index, lookup: _Lookup, city: str | None, limit: int,
            official: list[int]) -> list[Hit]:
    """The best `limit` hits: the named brand's first, then by score, quality and id.

    Scores add up in the index's scratch arrays (the caller holds the index's lock), and only
    the slots in the query's postings and topics are looked at and reset afterwards: a query
    costs what it matches, not what the catalogue holds."""
    scores, masks = index.scratch(len(index.ids))
    touched: list[np.ndarray] = []
    for term in sorted(lookup.terms):  # a fixed order, so equal inputs sum to equal floats
        slots, impact, fields = index.postings(term)
        scores[slots] += lookup.terms[term] * index.idf(len(slots)) * impact
        masks[slots] |= fields
        touched.append(slots)
    for topic, weight in lookup.topics:
        members = index.in_topic(topic.codes, topic.tags, topic.approved, topic.excluded)
        if members.size:
            scores[members] += weight * index.idf(len(members)) * TOPIC_IMPACT
            masks[members] |= TOPIC_BIT
            touched.append(members)
    candidates = _touched(touched, masks, len(index.ids))
    try:
        return _best(index, scores, masks, candidates, city, limit, official)
    finally:
        scores[candidates] = 0.0
        masks[candidates] = 0


def _touched(touched: list[np.ndarray], masks: np.ndarray, size: int) -> np.ndarray:
    """The slots a query touched, in slot order: from its postings when they are few, else by
    one scan of the masks (every posting and topic member sets a bit; a byte per slot)."""
    if not touched:
        return np.zeros(0, np.int64)
    if sum(len(t) for t in touched) * UNIQUE_SHARE < size:
        return np.unique(np.concatenate(touched).astype(np.int64))
    return np.flatnonzero(masks[:size])


def _best(index: Index, scores: np.ndarray, masks: np.ndarray, candidates: np.ndarray,
          city: str | None, limit: int, official: list[int]) -> list[Hit]:
    shown = index.serving(city)
    pinned = [index.slot_of[i] for i in official if i in index.slot_of]
    pinned = [s for s in pinned if shown[s]]
    found = candidates[shown[candidates] & (scores[candidates] > 0)]
    if pinned:
        found = found[~np.isin(found, pinned)]
    rounded = np.round(scores[found], 9)
    if found.size > limit:  # the limit best, ties at the cut included, then ordered exactly
        cut = np.partition(rounded, found.size - limit)[found.size - limit]
        found, rounded = found[rounded >= cut], rounded[rounded >= cut]
    order: list[tuple[int, float, bool]] = []
    for group, score, is_official in (
        (np.array(pinned, np.int64), np.round(scores[pinned], 9), True),
        (found, rounded, False),
    ):
        quality = np.nan_to_num(index.quality[group], nan=-1.0)
        best = np.lexsort((index.id_array()[group], -quality, -score))[:limit - len(order)]
        order += [(int(group[at]), float(score[at]), is_official) for at in best]
    return [Hit(index.ids[s], score, is_official, _fields(int(masks[s])))
            for s, score, is_official in order]


def _fields(mask: int) -> tuple[str, ...]:
    named = [name for name in FIELDS if mask & FIELD_BIT[name]]
    return (*named, "topic") if mask & TOPIC_BIT else tuple(named)


def brand_named_in(db: Session, *, text: str) -> BrandMatch | None:
    """The certified brand whose whole name the text contains, with its listed mini-apps."""
    named = _named_brand(clean_query(text), _certified_brands(db))
    return BrandMatch(named[0], named[1], _listed_of(db, named[1])) if named else None


# -- brand ------------------------------------------------------------------------------------
def _certified_brands(db: Session) -> Brands:
    stmt = select(Brand.id, Brand.name, Brand.merchant_id).where(
        Brand.status == BrandStatus.CERTIFIED
    )
    return [(row[0], row[1], row[2]) for row in db.execute(stmt.order_by(Brand.id))]


def _named_brand(text: str, brands: Brands) -> tuple[str, int] | None:
    """(name, merchant id) of the certified brand named in `text`: the longest, then first."""
    key = tokens.name_key(text)
    best: tuple[int, int, int, str, int] | None = None  # (-length, position, id, name, merchant)
    for brand_id, name, merchant_id in brands:
        length = len(tokens.name_key(name).replace(" ", ""))
        position = tokens.find_name(key, name) if length >= BRAND_KEY_MIN else -1
        if position >= 0:
            candidate = (-length, position, brand_id, name, merchant_id)
            best = candidate if best is None or candidate < best else best
    return (best[3], best[4]) if best else None


def _listed_of(db: Session, merchant_id: int) -> list[int]:
    stmt = select(MiniApp.id).where(MiniApp.merchant_id == merchant_id, MiniApp.listed.is_(True))
    return list(db.scalars(stmt.order_by(MiniApp.id)))
