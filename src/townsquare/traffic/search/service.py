"""Search over listed mini-apps: an inverted index in two tables, BM25F ranking, brand pinning.

`search_terms` holds one posting per (term, mini-app, field) with its count; `search_documents`
holds each indexed mini-app's field lengths and a fingerprint of what was indexed. Plain tables
and equality lookups, so SQLite and PostgreSQL behave alike.

`sync_index` runs at the start of every query, so it must cost little when nothing changed. The
database computes each listed mini-app's fingerprint itself (an md5 of the tokenizer version,
name, description, tags, merchant name and certified brand names: PostgreSQL's built-in `md5`
and `string_agg`, Python functions registered on SQLite connections) and compares it with the
stored one, so the usual case is ONE aggregate query answering one row — how many are listed,
how many are stale, how many documents exist, and the average field lengths BM25 needs — with
no text leaving the database. Only stale mini-apps' text is then read and tokenised.

Ranking is BM25F (field-weighted term frequencies, saturated once per term): name > tags >
merchant > description. A query that names a certified brand (the brand's whole name appears in
it) puts that brand merchant's listed mini-apps first, marked official; everything else follows,
so an uncertified look-alike can never take that place.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    LargeBinary,
    String,
    Text,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from townsquare.core.clock import clock
from townsquare.core.database import table_of
from townsquare.core.text import LINE_CONTROL
from townsquare.merchants.models import Brand, BrandStatus, Merchant
from townsquare.miniapps.models import MiniApp
from townsquare.traffic.models import SearchDocument, SearchTerm
from townsquare.traffic.search import tokens

QUERY_MAX = 64  # characters of a query that are looked at
LIMIT_MAX = 200
FIELD_WEIGHTS = {"name": 4.0, "tags": 2.5, "merchant": 2.0, "description": 1.0}
# Length normalisation per field (BM25F's b), mild everywhere: a name is not less about its
# words for being long, and a one-line description must not outweigh a name (the field order
# should hold for ordinary lengths; a full 0.75 lets a short field's boost overturn it).
FIELD_B = {"name": 0.5, "tags": 0.3, "merchant": 0.3, "description": 0.5}
K1 = 1.2  # term-frequency saturation
BRAND_KEY_MIN = 2  # a one-character brand name would be "named" by far too many queries
_CHUNK = 500  # ids per IN (…)
_INDEX_LOCK = 0x5EA4C4  # PostgreSQL advisory lock serialising index writers
_SEP = "\x1f"  # never in a name, tag or description (core.text refuses control characters)

Brands = list[tuple[int, str, int]]  # certified (brand id, name, merchant id)
Postings = dict[str, dict[int, dict[str, int]]]  # term → mini-app id → field → count
Stats = tuple[int, dict[str, float]]  # (documents, average length per field)


@dataclass(frozen=True)
class Hit:
    miniapp_id: int
    score: float
    official: bool


@dataclass(frozen=True)
class BrandMatch:
    name: str
    merchant_id: int
    miniapp_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit] = field(default_factory=list)
    brand: BrandMatch | None = None  # set when the query named a certified brand shown here


def clean_query(text: str) -> str:
    """Control characters removed, trimmed, at most QUERY_MAX characters."""
    return LINE_CONTROL.sub("", text or "").strip()[:QUERY_MAX].strip()


def sync_index(db: Session) -> int:
    """Re-index listed mini-apps whose indexed text changed, drop unlisted ones; how many."""
    return _sync(db)[0]


def query(db: Session, *, text: str, city: str | None = None, limit: int = 50) -> SearchResult:
    """Listed mini-apps matching `text` (serving `city`), a named certified brand's first."""
    text = clean_query(text)
    weights = tokens.query_terms(text)
    if not weights:
        return SearchResult()
    limit = max(1, min(limit, LIMIT_MAX))
    city = (city or "").strip() or None
    _, stats = _sync(db)
    postings = _postings(db, weights)
    named = _named_brand(text, _certified_brands(db))
    mine = set(_listed_of(db, named[1])) if named else set()
    lengths, cities = _details(db, set().union(*postings.values(), mine))
    scores = _bm25(postings, weights, lengths, stats)

    def shown(miniapp_id: int) -> bool:
        served = cities.get(miniapp_id)
        return served is not None and (city is None or not served or city in served)

    official = _ranked(((i, scores.get(i, 0.0)) for i in mine if shown(i)), official=True)
    others = _ranked(
        ((i, s) for i, s in scores.items() if i not in mine and s > 0 and shown(i)),
        official=False,
    )
    hits = (official + others)[:limit]
    pinned = [hit.miniapp_id for hit in hits if hit.official]
    brand = BrandMatch(named[0], named[1], pinned) if named and pinned else None
    return SearchResult(hits=hits, brand=brand)


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


# -- ranking ----------------------------------------------------------------------------------
def _postings(db: Session, weights: dict[str, float]) -> Postings:
    found: Postings = defaultdict(lambda: defaultdict(dict))
    stmt = select(SearchTerm.term, SearchTerm.miniapp_id, SearchTerm.field, SearchTerm.count)
    for term, miniapp_id, field_name, count in db.execute(
        stmt.where(SearchTerm.term.in_(sorted(weights)))
    ):
        if field_name in FIELD_WEIGHTS:
            found[term][miniapp_id][field_name] = count
    return found


def _details(
    db: Session, ids: set[int]
) -> tuple[dict[int, dict[str, Any]], dict[int, tuple[str, ...]]]:
    """Field lengths and cities of those of `ids` that are listed and indexed."""
    lengths: dict[int, dict[str, Any]] = {}
    cities: dict[int, tuple[str, ...]] = {}
    ordered = sorted(ids)
    for start in range(0, len(ordered), _CHUNK):
        stmt = (
            select(SearchDocument.miniapp_id, SearchDocument.lengths, MiniApp.cities)
            .join(MiniApp, MiniApp.id == SearchDocument.miniapp_id)
            .where(SearchDocument.miniapp_id.in_(ordered[start : start + _CHUNK]),
                   MiniApp.listed.is_(True))
        )
        for miniapp_id, doc_lengths, served in db.execute(stmt):
            lengths[miniapp_id] = doc_lengths if isinstance(doc_lengths, dict) else {}
            cities[miniapp_id] = _strings(served)
    return lengths, cities


def _bm25(postings: Postings, weights: dict[str, float], lengths: dict[int, dict[str, Any]],
          stats: Stats) -> dict[int, float]:
    """BM25F score of every listed mini-app holding at least one query term."""
    total, average = stats
    scores: dict[int, float] = defaultdict(float)
    for term in sorted(postings):  # a fixed order, so equal inputs sum to equal floats
        matched = {i: f for i, f in postings[term].items() if i in lengths}
        df = len(matched)
        idf = math.log(1 + max(total - df + 0.5, 0.5) / (df + 0.5))
        for miniapp_id in sorted(matched):
            own = lengths[miniapp_id]
            tf = sum(
                FIELD_WEIGHTS[f] * matched[miniapp_id][f]
                / (1 - FIELD_B[f] + FIELD_B[f] * max(int(own.get(f) or 0), 1) / average[f])
                for f in FIELD_WEIGHTS if f in matched[miniapp_id]
            )
            scores[miniapp_id] += weights[term] * idf * tf * (K1 + 1) / (tf + K1)
    return dict(scores)


def _ranked(scored: Iterable[tuple[int, float]], *, official: bool) -> list[Hit]:
    """Best first; equal scores by mini-app id (rounded, so float noise never reorders)."""
    rows = sorted(((round(s, 9), i) for i, s in scored), key=lambda r: (-r[0], r[1]))
    return [Hit(miniapp_id=i, score=s, official=official) for s, i in rows]


# -- indexing ---------------------------------------------------------------------------------
def _strings(values: object) -> tuple[str, ...]:
    """The strings of a JSON list column (anything else in it is ignored)."""
    return tuple(v for v in values if isinstance(v, str)) if isinstance(values, list) else ()


class _SortedNames:
    """SQLite aggregate: names sorted and joined (PostgreSQL: string_agg … ORDER BY)."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def step(self, name: str | None) -> None:
        if name is not None:
            self.names.append(name)

    def finalize(self) -> str | None:
        return _SEP.join(sorted(self.names)) if self.names else None


def _md5(value: bytes | None) -> str | None:
    return None if value is None else hashlib.md5(value, usedforsecurity=False).hexdigest()


def _prepare(db: Session) -> bool:
    """Give SQLite the two functions PostgreSQL has built in; True on PostgreSQL."""
    if db.get_bind().dialect.name == "postgresql":
        return True
    raw = db.connection().connection.driver_connection
    raw.create_function("md5", 1, _md5, deterministic=True)  # type: ignore[union-attr]
    raw.create_aggregate("ts_sorted_names", 1, _SortedNames)  # type: ignore[union-attr]
    return False


def _brand_names(postgresql: bool) -> Any:
    """SQL: the mini-app's merchant's certified brand names, sorted and joined (or NULL)."""
    if postgresql:
        joined = func.string_agg(Brand.name, aggregate_order_by(literal(_SEP, String), Brand.name))
    else:
        joined = func.ts_sorted_names(Brand.name)
    stmt = select(joined).where(Brand.merchant_id == Merchant.id,
                                Brand.status == BrandStatus.CERTIFIED)
    return stmt.scalar_subquery()


def _fingerprint(postgresql: bool) -> Any:
    """SQL: the fingerprint of what a listed mini-app (joined with its merchant) would index."""
    sep = literal(_SEP, String)
    indexed = (
        literal(str(tokens.VERSION), String) + sep + MiniApp.name + sep + MiniApp.description
        + sep + cast(MiniApp.tags, Text) + sep + Merchant.name + sep
        + func.coalesce(_brand_names(postgresql), "")
    )
    # SQLite hands the Python md5 the UTF-8 bytes as they are, saving a decode and an encode
    return func.md5(indexed if postgresql else cast(indexed, LargeBinary))


def _check(db: Session, postgresql: bool) -> tuple[int, int, int, Stats]:
    """(listed, stale, documents, stats) in one aggregate query; stats hold when nothing is."""
    docs = SearchDocument.__table__.alias("all_docs")
    stale = case((SearchDocument.fingerprint == _fingerprint(postgresql), 0), else_=1)
    averages = [func.avg(SearchDocument.lengths[f].as_float()) for f in FIELD_WEIGHTS]
    stmt = (
        select(func.count(), func.coalesce(func.sum(stale), 0),
               select(func.count()).select_from(docs).scalar_subquery(), *averages)
        .select_from(MiniApp)
        .join(Merchant, Merchant.id == MiniApp.merchant_id)
        .outerjoin(SearchDocument, SearchDocument.miniapp_id == MiniApp.id)
        .where(MiniApp.listed.is_(True))
    )
    listed, stale_count, documents, *means = db.execute(stmt).one()
    stats = (listed, {f: max(1.0, float(m or 0)) for f, m in zip(FIELD_WEIGHTS, means,
                                                                  strict=True)})
    return listed, int(stale_count), documents, stats


def _sync(db: Session) -> tuple[int, Stats]:
    """(mini-apps re-indexed or dropped, stats for ranking)."""
    postgresql = _prepare(db)
    listed, stale, documents, stats = _check(db, postgresql)
    if not stale and documents == listed:
        return 0, stats
    if postgresql:
        # One writer at a time; whoever waited re-reads, and usually finds the work done.
        # (SQLite transactions already hold the write lock from BEGIN IMMEDIATE.)
        db.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _INDEX_LOCK})
    fingerprint = _fingerprint(postgresql)
    stale_ids = list(db.scalars(
        select(MiniApp.id)
        .join(Merchant, Merchant.id == MiniApp.merchant_id)
        .outerjoin(SearchDocument, SearchDocument.miniapp_id == MiniApp.id)
        .where(MiniApp.listed.is_(True),
               (SearchDocument.fingerprint.is_(None)) | (SearchDocument.fingerprint != fingerprint))
    ))
    listed_doc = select(MiniApp.id).where(
        MiniApp.id == SearchDocument.miniapp_id, MiniApp.listed.is_(True)
    )
    dropped = list(db.scalars(select(SearchDocument.miniapp_id).where(~exists(listed_doc))))
    if not stale_ids and not dropped:  # another writer did it while we waited for the lock
        return 0, _check(db, postgresql)[3]
    _write(db, stale_ids, dropped, postgresql)
    return len(stale_ids) + len(dropped), _check(db, postgresql)[3]


def _fields(name: str, description: str, tags: object, merchant: str,
            brands: Iterable[str]) -> dict[str, list[str]]:
    """The indexed text of one mini-app, per field (each tag and name tokenised on its own)."""
    merchant_key = tokens.name_key(merchant)
    extra = sorted({b for b in brands if b and tokens.name_key(b) != merchant_key})
    return {
        "name": [name or ""],
        "tags": list(_strings(tags)),
        "merchant": [merchant or "", *extra],  # a certified brand named otherwise is findable
        "description": [description or ""],
    }


def _write(db: Session, stale: list[int], dropped: list[int], postgresql: bool) -> None:
    ids = stale + dropped
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        db.execute(delete(SearchTerm).where(SearchTerm.miniapp_id.in_(chunk)))
        db.execute(delete(SearchDocument).where(SearchDocument.miniapp_id.in_(chunk)))
    now = clock.now()
    for start in range(0, len(stale), _CHUNK):
        # text, brand names and fingerprint read by one statement, so they always agree
        stmt = (
            select(MiniApp.id, MiniApp.name, MiniApp.description, MiniApp.tags, Merchant.name,
                   _brand_names(postgresql), _fingerprint(postgresql))
            .join(Merchant, Merchant.id == MiniApp.merchant_id)
            .where(MiniApp.id.in_(stale[start : start + _CHUNK]))
        )
        postings: list[dict[str, Any]] = []
        documents: list[dict[str, Any]] = []
        for miniapp_id, name, description, tags, merchant, brands, fingerprint in db.execute(stmt):
            fields = _fields(name, description, tags, merchant, (brands or "").split(_SEP))
            for field_name, parts in fields.items():
                counts: dict[str, int] = defaultdict(int)
                for part in parts:
                    for term in tokens.index_terms(part):
                        counts[term] += 1
                postings.extend(
                    {"term": t, "miniapp_id": miniapp_id, "field": field_name, "count": c}
                    for t, c in sorted(counts.items())
                )
            lengths = {f: sum(len(tokens.tokenize(p)) for p in ps) for f, ps in fields.items()}
            documents.append({"miniapp_id": miniapp_id, "lengths": lengths, "indexed_at": now,
                              "fingerprint": fingerprint})
        # Core inserts (executemany): no ORM bookkeeping for what may be many thousand rows
        if documents:
            db.execute(insert(table_of(SearchDocument)), documents)
        if postings:
            db.execute(insert(table_of(SearchTerm)), postings)
