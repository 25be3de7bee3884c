"""The in-memory inverted index: flat numpy postings, patched as the serving snapshot changes.

One posting per (term, document): the document's slot, its BM25F impact for the term (field
weighted term frequencies, saturated once) and a bit mask of the fields the term occurs in.
Postings are stored flat and sorted by term, so a term's postings are one slice; a query adds
`weight × idf × impact` into a score array with numpy and picks the top k with `argpartition`:
a term found in 10,000 mini-apps costs tens of microseconds, not 10,000 Python steps.

Documents are the serving snapshot's cards (`patch` diffs them by their indexed text): a changed
or new card gets a new slot whose postings go to a small `delta` map; its old slot is marked dead.
When the delta reaches a tenth of the postings it is merged into the flat arrays (numpy only,
no re-tokenising). Length normalisation uses fixed reference lengths per field instead of the
corpus averages, so an impact never changes once computed.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from townsquare.traffic.search import tokens

FIELDS = ("name", "tags", "merchant", "category", "description")
FIELD_WEIGHTS = {"name": 4.0, "tags": 2.5, "merchant": 2.0, "category": 2.0, "description": 1.0}
# BM25F's b per field, mild everywhere (a name is not less about its words for being long)
FIELD_B = {"name": 0.5, "tags": 0.3, "merchant": 0.3, "category": 0.0, "description": 0.5}
REFERENCE_LENGTH = {"name": 6.0, "tags": 4.0, "merchant": 5.0, "category": 3.0,
                    "description": 20.0}  # tokens: about the demo's and the seed's averages
FIELD_BIT = {name: 1 << i for i, name in enumerate(FIELDS)}
K1 = 1.2
MERGE_SHARE = 0.1  # merge the delta into the flat arrays once it holds this share of postings
PREFIX_MAX = 64  # vocabulary terms a prefix or a single character may expand to

Floats = npt.NDArray[np.float64]


class Doc(Protocol):
    """What the index reads of a listed mini-app (the serving snapshot's `Card`)."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def tags(self) -> tuple[str, ...]: ...
    @property
    def merchant_name(self) -> str: ...
    @property
    def brand(self) -> str | None: ...
    @property
    def merchant_id(self) -> int: ...
    @property
    def category(self) -> str: ...
    @property
    def cities(self) -> tuple[str, ...]: ...
    @property
    def quality(self) -> float | None: ...


def text_key(doc: Doc) -> tuple[object, ...]:
    """What a document's postings depend on (its category by code: names are per index)."""
    return (doc.name, doc.description, doc.tags, doc.merchant_name, doc.brand, doc.category)


@lru_cache(maxsize=4096)
def _shared_terms(text: str) -> list[str]:
    """Tokens of a text many documents share (category names): tokenised once."""
    return tokens.tokenize(text)


def _impacts(parts: dict[str, list[str]]) -> dict[str, tuple[float, int]]:
    """term → (BM25F impact, field mask) for one document's fields."""
    weighted: dict[str, float] = defaultdict(float)
    masks: dict[str, int] = defaultdict(int)
    for name, texts in parts.items():
        tokenize = _shared_terms if name == "category" else tokens.tokenize
        terms = [t for text in texts for t in tokenize(text)]
        norm = 1 - FIELD_B[name] + FIELD_B[name] * max(len(terms), 1) / REFERENCE_LENGTH[name]
        for term in terms:
            weighted[term] += FIELD_WEIGHTS[name] / norm
            masks[term] |= FIELD_BIT[name]
    return {t: (tf * (K1 + 1) / (tf + K1), masks[t]) for t, tf in weighted.items()}


@dataclass(frozen=True)
class Patch:
    """The changes from the index to a set of documents (`Index.diff`)."""

    docs: Mapping[int, Doc]
    gone: list[int]  # mini-app ids no longer listed
    moved: list[tuple[int, tuple[str, ...]]]  # (slot, cities) where only the cities changed
    changed: list[tuple[Doc, dict[str, tuple[float, int]]]]  # new or changed, with impacts
    quality: npt.NDArray[np.float64]  # per document, in `docs` order


@dataclass
class Index:
    """Postings over slots; a slot is one version of one listed mini-app's indexed text."""

    category_names: Mapping[str, tuple[str, ...]]  # code → names (zh, en) indexed as "category"
    source: object = None  # the cards mapping this index reflects
    ids: list[int] = field(default_factory=list)  # slot → mini-app id
    slot_of: dict[int, int] = field(default_factory=dict)  # mini-app id → live slot
    keys: list[tuple[object, ...]] = field(default_factory=list)
    cities: list[tuple[str, ...]] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    tags: list[tuple[str, ...]] = field(default_factory=list)
    alive: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, np.bool_))
    quality: Floats = field(default_factory=lambda: np.zeros(0))
    terms: dict[str, int] = field(default_factory=dict)  # term → first posting in the arrays
    ends: dict[str, int] = field(default_factory=dict)
    slots: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    impact: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, np.float32))
    masks: npt.NDArray[np.uint8] = field(default_factory=lambda: np.zeros(0, np.uint8))
    delta: dict[str, list[tuple[int, float, int]]] = field(default_factory=dict)
    delta_size: int = 0
    city_masks: dict[str, npt.NDArray[np.bool_]] = field(default_factory=dict)
    by_category: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    by_tag: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    by_merchant: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    _id_array: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    _vocabulary: list[str] | None = None
    _bigrams_of: dict[str, list[str]] = field(default_factory=dict)
    _topics: dict[tuple[frozenset[Any], ...], npt.NDArray[np.int64]] = field(
        default_factory=dict)  # a topic's live slots, until the slots change
    _shown: dict[str | None, npt.NDArray[np.bool_]] = field(
        default_factory=dict)  # per city: live slots serving it, until the slots change
    # a query's scratch scores and field masks: zero between queries (a query resets only the
    # slots it touched, so its cost follows its postings, not the catalogue); callers that
    # score hold the index's lock
    scratch_scores: Floats = field(default_factory=lambda: np.zeros(0))
    scratch_masks: npt.NDArray[np.uint8] = field(default_factory=lambda: np.zeros(0, np.uint8))

    @property
    def live(self) -> int:
        return len(self.slot_of)

    # -- building ---------------------------------------------------------------------------
    def _parts(self, doc: Doc) -> dict[str, list[str]]:
        merchant = [doc.merchant_name or ""]
        if doc.brand and tokens.name_key(doc.brand) != tokens.name_key(doc.merchant_name):
            merchant.append(doc.brand)  # a certified brand named otherwise is findable
        return {"name": [doc.name or ""], "tags": list(doc.tags), "merchant": merchant,
                "category": list(self.category_names.get(doc.category, ())),
                "description": [doc.description or ""]}

    def _add_slot(self, doc: Doc) -> int:
        slot = len(self.ids)
        self.ids.append(doc.id)
        self.slot_of[doc.id] = slot
        self.keys.append(text_key(doc))
        self.cities.append(doc.cities)
        self.categories.append(doc.category)
        self.tags.append(doc.tags)
        self.by_category[doc.category].append(slot)
        self.by_merchant[doc.merchant_id].append(slot)
        for tag in doc.tags:
            self.by_tag[tag].append(slot)
        return slot

    def build(self, docs: Iterable[Doc]) -> None:
        """Index every document from scratch (flat arrays, no delta)."""
        term_ids: dict[str, int] = {}
        flat_terms: list[int] = []
        flat_slots: list[int] = []
        flat_impacts: list[float] = []
        flat_masks: list[int] = []
        qualities: list[float] = []
        for doc in docs:
            slot = self._add_slot(doc)
            qualities.append(doc.quality if doc.quality is not None else math.nan)
            for term, (impact, mask) in _impacts(self._parts(doc)).items():
                flat_terms.append(term_ids.setdefault(term, len(term_ids)))
                flat_slots.append(slot)
                flat_impacts.append(impact)
                flat_masks.append(mask)
        self.alive = np.ones(len(self.ids), np.bool_)
        self.quality = np.array(qualities, np.float64)
        names = np.array(list(term_ids), dtype=object)
        self._set_flat(np.array(flat_terms, np.int64), names,
                       np.array(flat_slots, np.int32), np.array(flat_impacts, np.float32),
                       np.array(flat_masks, np.uint8))
        self.prepare()

    def prepare(self) -> None:
        """Make now what the first queries would otherwise make (the id array, each named
        city's mask, the scratch arrays, the vocabulary), so no query after start pays for it."""
        self.id_array()
        for city in sorted({c for cities in self.cities for c in cities})[:64]:
            self.serving(city)
        self.scratch(len(self.ids))
        self.vocabulary()

    def _set_flat(self, term_ids: npt.NDArray[np.int64], names: npt.NDArray[np.object_],
                  slots: npt.NDArray[np.int32], impact: npt.NDArray[np.float32],
                  masks: npt.NDArray[np.uint8]) -> None:
        order = np.argsort(term_ids, kind="stable")
        sorted_ids = term_ids[order]
        self.slots, self.impact, self.masks = slots[order], impact[order], masks[order]
        present = np.unique(sorted_ids)
        starts = np.searchsorted(sorted_ids, present, side="left")
        ends = np.searchsorted(sorted_ids, present, side="right")
        self.terms = dict(zip(names[present].tolist(), starts.tolist(), strict=True))
        self.ends = dict(zip(names[present].tolist(), ends.tolist(), strict=True))
        self.delta, self.delta_size, self._vocabulary = {}, 0, None

    def diff(self, docs: Mapping[int, Doc]) -> Patch:
        """What `patch` must do to bring the index to `docs`: read-only, so it runs while
        queries read the index (only `apply` needs them to wait)."""
        gone = [i for i in self.slot_of if i not in docs]
        moved: list[tuple[int, tuple[str, ...]]] = []
        changed: list[tuple[Doc, dict[str, tuple[float, int]]]] = []
        for doc in docs.values():
            slot = self.slot_of.get(doc.id)
            if slot is not None and self.keys[slot] == text_key(doc):
                if self.cities[slot] != doc.cities:  # served elsewhere now: no new postings
                    moved.append((slot, doc.cities))
                continue
            changed.append((doc, _impacts(self._parts(doc))))
        quality = np.array([d.quality if d.quality is not None else math.nan
                            for d in docs.values()])
        return Patch(docs, gone, moved, changed, quality)

    def patch(self, docs: Mapping[int, Doc]) -> int:
        """Bring the index to `docs` (the listed mini-apps now); how many slots changed."""
        return self.apply(self.diff(docs))

    def apply(self, patch: Patch) -> int:
        """Make the changes `diff` found (the index must not have changed since)."""
        for miniapp_id in patch.gone:
            self.alive[self.slot_of.pop(miniapp_id)] = False
        for slot, cities in patch.moved:
            self.cities[slot] = cities
            for city, served in self.city_masks.items():
                served[slot] = not cities or city in cities
        for doc, impacts in patch.changed:
            old = self.slot_of.get(doc.id)
            if old is not None:
                self.alive[old] = False
            new_slot = self._add_slot(doc)
            for term, (impact, bits) in impacts.items():
                self.delta.setdefault(term, []).append((new_slot, impact, bits))
                self.delta_size += 1
        if patch.changed:
            grow = len(self.ids) - len(self.alive)
            self.alive = np.concatenate([self.alive, np.ones(grow, np.bool_)])
            self.quality = np.concatenate([self.quality, np.full(grow, math.nan)])
            for city, mask in self.city_masks.items():
                extra = [not c or city in c for c in self.cities[len(mask):]]
                self.city_masks[city] = np.concatenate([mask, np.array(extra, np.bool_)])
            self._vocabulary = None
        self.quality[[self.slot_of[i] for i in patch.docs]] = patch.quality
        if self.delta_size > MERGE_SHARE * max(len(self.slots), 1000):
            self._merge()
        self.source = patch.docs
        self._topics, self._shown = {}, {}
        return len(patch.gone) + len(patch.moved) + len(patch.changed)

    def _merge(self) -> None:
        """Fold the delta into the flat arrays and drop dead slots' postings (numpy only)."""
        names = list(self.terms) + [t for t in self.delta if t not in self.terms]
        number = {t: i for i, t in enumerate(names)}
        term_ids = np.empty(len(self.slots), np.int64)
        for term, start in self.terms.items():
            term_ids[start:self.ends[term]] = number[term]
        rows = [(number[t], s, i, m) for t, found in self.delta.items() for s, i, m in found]
        extra = np.array(rows, np.float64).reshape(-1, 4)
        all_ids = np.concatenate([term_ids, extra[:, 0].astype(np.int64)])
        all_slots = np.concatenate([self.slots, extra[:, 1].astype(np.int32)])
        keep = self.alive[all_slots]
        self._set_flat(all_ids[keep], np.array(names, dtype=object), all_slots[keep],
                       np.concatenate([self.impact, extra[:, 2].astype(np.float32)])[keep],
                       np.concatenate([self.masks, extra[:, 3].astype(np.uint8)])[keep])

    # -- reading ----------------------------------------------------------------------------
    def postings(self, term: str) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32],
                                           npt.NDArray[np.uint8]]:
        """(slots, impacts, field masks) of one term, dead slots included."""
        start = self.terms.get(term)
        slots, impact, masks = ((self.slots[start:self.ends[term]],
                                 self.impact[start:self.ends[term]],
                                 self.masks[start:self.ends[term]])
                                if start is not None else (self.slots[:0], self.impact[:0],
                                                           self.masks[:0]))
        extra = self.delta.get(term)
        if extra:
            slots = np.concatenate([slots, np.array([e[0] for e in extra], np.int32)])
            impact = np.concatenate([impact, np.array([e[1] for e in extra], np.float32)])
            masks = np.concatenate([masks, np.array([e[2] for e in extra], np.uint8)])
        return slots, impact, masks

    def id_array(self) -> npt.NDArray[np.int64]:
        """Slot → mini-app id as an array (re-made only when slots were added)."""
        if len(self._id_array) != len(self.ids):
            self._id_array = np.array(self.ids, np.int64)
        return self._id_array

    def idf(self, df: int) -> float:
        return math.log(1 + max(self.live - df + 0.5, 0.5) / (df + 0.5))

    def vocabulary(self) -> list[str]:
        """Every term, sorted (for prefix lookups); rebuilt when new terms arrived."""
        if self._vocabulary is None:
            self._vocabulary = sorted(set(self.terms) | set(self.delta))
            self._bigrams_of = {}
        return self._vocabulary

    def with_prefix(self, prefix: str) -> list[str]:
        """Terms that start with `prefix` (not itself), at most PREFIX_MAX."""
        words = self.vocabulary()
        found: list[str] = []
        at = bisect_left(words, prefix)
        while at < len(words) and words[at].startswith(prefix) and len(found) < PREFIX_MAX:
            if words[at] != prefix:
                found.append(words[at])
            at += 1
        return found

    def containing(self, char: str) -> list[str]:
        """CJK bigrams holding `char` (a one-character query finds it inside words)."""
        words = self.vocabulary()
        if not self._bigrams_of:  # one pass over the vocabulary, then a lookup per character
            grouped: dict[str, list[str]] = defaultdict(list)
            for term in words:
                if len(term) == 2 and tokens.is_cjk(term):
                    grouped[term[0]].append(term)
                    if term[1] != term[0]:
                        grouped[term[1]].append(term)
            self._bigrams_of = dict(grouped)
        return self._bigrams_of.get(char, [])[:PREFIX_MAX]

    def serving(self, city: str | None) -> npt.NDArray[np.bool_]:
        """Live slots serving `city` (no cities = every city); cached per city until the
        slots change."""
        if city is None:
            return self.alive
        shown = self._shown.get(city)
        if shown is not None:
            return shown
        mask = self.city_masks.get(city)
        if mask is None:
            mask = np.array([not c or city in c for c in self.cities], np.bool_)
            if len(self.city_masks) < 256:
                self.city_masks[city] = mask
        shown = mask & self.alive
        if city in self.city_masks:
            self._shown[city] = shown
        return shown

    def scratch(self, size: int) -> tuple[Floats, npt.NDArray[np.uint8]]:
        """The zeroed scratch scores and masks, at least `size` long (grown with the slots)."""
        if len(self.scratch_scores) < size:
            self.scratch_scores = np.zeros(size + size // 8 + 64)
            self.scratch_masks = np.zeros(len(self.scratch_scores), np.uint8)
        return self.scratch_scores, self.scratch_masks

    def in_topic(self, codes: frozenset[str], tags: frozenset[str], approved: frozenset[int],
                 excluded: frozenset[int]) -> npt.NDArray[np.int64]:
        """Live slots of a topic: its categories or tags, plus approved, minus excluded."""
        key = (codes, tags, approved, excluded)
        found = self._topics.get(key)
        if found is None:
            found = self._topics[key] = self._members(codes, tags, approved, excluded)
        return found

    def _members(self, codes: frozenset[str], tags: frozenset[str], approved: frozenset[int],
                 excluded: frozenset[int]) -> npt.NDArray[np.int64]:
        chosen = np.zeros(len(self.ids), np.bool_)
        for code in codes:
            chosen[self.by_category.get(code, [])] = True
        for tag in tags:
            chosen[self.by_tag.get(tag, [])] = True
        for miniapp_id in approved:
            if miniapp_id in self.slot_of:
                chosen[self.slot_of[miniapp_id]] = True
        for miniapp_id in excluded:
            if miniapp_id in self.slot_of:
                chosen[self.slot_of[miniapp_id]] = False
        return np.flatnonzero(chosen & self.alive)
