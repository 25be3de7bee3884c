"""Anomaly detectors: pure functions from one mini-app's facts (and its peers') to signals.

Each detector returns a `Signal` with a score in 0..1 where 0.5 is its stated threshold (a
mini-app is flagged for review when any signal reaches 0.5), the figures it judged, and the
evidence an operator checks: the concrete orders, buyers and shared identifiers. Nothing here
touches a database; `facts.py` gathers what the detectors read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import median
from typing import Any

FLAG_AT = 0.5  # a signal at or above this puts the mini-app in the review queue
EVIDENCE_SHOWN = 20  # at most this many evidence items per signal

# thresholds (docs/scoring.md, "Anti-fraud signals")
MIN_RATINGS = 20
MIN_ORDERS = 30
FIVE_STAR_SHARE = 0.8  # ratings vs complaints: this share of 5★ …
TROUBLE_FACTOR = 2.0  # … while complaints + refunds per order are this × the peers' median
TROUBLE_FLOOR = 0.05  # … and at least this rate
UNBACKED_SHARE = 0.3  # ratings by residents who placed no order with the mini-app
UNBACKED_MIN = 10
CLEAN_P = 1e-3  # implausibly clean: P(so few cancellations/refunds/complaints) below this
CLEAN_BEST_FACTOR = 0.5  # … for a rate half the peers' 25th percentile (the best honest)
FAST_REPLY_SECONDS = 15
FAST_REPLY_SHARE = 0.25  # replies under 15 s: a person rarely answers that fast
MIN_RESPONSES = 20
JUMP_Z = 5.0  # sudden jump: robust z of the last week against the weeks before
JUMP_WEEKS = 3  # at least this many earlier weeks of history
STAFF_ORDERS = 3  # self-purchase: orders by staff or buyers linked to staff
STAFF_SHARE = 0.05  # … making up this share of the orders (or 10 orders)
BRUSHER_ORDERS = 3  # brushing: a buyer with this many orders …
BRUSHER_REFUNDED = 0.5  # … of which this share paid and refunded later …
BRUSHERS_MIN = 2  # … and at least this many such buyers
SHARED_BUYERS = 4  # one address / card / phone used by this many distinct buyers
UNREPORTED_MIN = 3  # platform refunds the mini-app did not report


@dataclass(frozen=True)
class Buyer:
    """One buyer of the mini-app in the window, as the platform knows them."""

    key: str  # a user's public id, or the mini-app's sub where the platform has no user
    orders: list[str]  # order references (trade numbers or order ids)
    refunded: list[str] = field(default_factory=list)  # those paid and refunded later
    staff_link: str = ""  # "" | "staff" | "address" | "card" | "phone": how they tie to staff
    other_merchants: int | None = None  # merchants they bought from elsewhere (None: unknown)


@dataclass(frozen=True)
class Shared:
    """An identifier several buyers of the mini-app share."""

    kind: str  # "address" | "card" | "phone"
    masked: str  # shown masked: never the full address, number or phone
    buyers: list[str]


@dataclass
class AppFacts:
    """What the detectors read about one mini-app over the window."""

    miniapp_id: int
    category: str = ""
    orders: int = 0
    cancellations: int = 0
    refunds: int = 0  # refunds counted (the platform's where it saw trades)
    complaints: int = 0
    stars: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)  # ratings with 1..5 stars
    unbacked_ratings: list[str] = field(default_factory=list)  # rating ids without an order
    responses: int = 0
    fast_responses: int = 0
    weekly: dict[str, list[float]] = field(default_factory=dict)  # oldest → newest week
    platform_refunds: list[str] = field(default_factory=list)  # trade refunds the platform saw
    reported_refunds: int = 0  # refund events the mini-app sent itself
    buyers: list[Buyer] = field(default_factory=list)
    shared: list[Shared] = field(default_factory=list)

    @property
    def ratings(self) -> int:
        return sum(self.stars)


@dataclass(frozen=True)
class Signal:
    code: str
    score: float
    figures: dict[str, Any]
    evidence: list[dict[str, Any]]

    @property
    def flagged(self) -> bool:
        return self.score >= FLAG_AT

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "score": round(self.score, 3), "figures": self.figures,
                "evidence": self.evidence[:EVIDENCE_SHOWN]}


@dataclass(frozen=True)
class Peers:
    """Per category: the median trouble rate and the best honest rates (25th percentile)."""

    trouble_median: dict[str, float]
    best_rates: dict[str, dict[str, float]]


def _ratio_score(value: float, threshold: float) -> float:
    """0.5 at the threshold, rising toward 1 (1 at twice the threshold)."""
    if threshold <= 0:
        return 0.0
    return max(0.0, min(1.0, 0.5 * value / threshold))


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    pos = q * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _rates(f: AppFacts) -> dict[str, float]:
    n = max(f.orders, 1)
    return {"cancellations": f.cancellations / n, "refunds": f.refunds / n,
            "complaints": f.complaints / n}


def peers_of(facts: Sequence[AppFacts]) -> Peers:
    """Peer context per category from the mini-apps with enough orders."""
    by: dict[str, list[AppFacts]] = {}
    for f in facts:
        if f.orders >= MIN_ORDERS:
            by.setdefault(f.category, []).append(f)
    trouble, best = {}, {}
    for category, group in by.items():
        trouble[category] = median((g.complaints + g.refunds) / g.orders for g in group)
        rates = [_rates(g) for g in group]
        best[category] = {k: _quantile([r[k] for r in rates], 0.25) for k in rates[0]}
    return Peers(trouble, best)


def ratings_vs_complaints(f: AppFacts, peers: Peers) -> Signal:
    """Many 5★ ratings yet many complaints and refunds: the ratings do not fit the service."""
    five = f.stars[4] / f.ratings if f.ratings else 0.0
    trouble = (f.complaints + f.refunds) / f.orders if f.orders else 0.0
    limit = max(TROUBLE_FACTOR * peers.trouble_median.get(f.category, 0.0), TROUBLE_FLOOR)
    score = 0.0
    if f.ratings >= MIN_RATINGS and f.orders >= MIN_ORDERS and five >= FIVE_STAR_SHARE:
        score = _ratio_score(trouble, limit)
    figures = {"five_star_share": round(five, 3), "ratings": f.ratings,
               "trouble_rate": round(trouble, 4), "trouble_limit": round(limit, 4),
               "complaints": f.complaints, "refunds": f.refunds, "orders": f.orders}
    return Signal("ratings_vs_complaints", score, figures, [])


def unbacked_ratings(f: AppFacts) -> Signal:
    """Ratings from residents who placed no order with the mini-app in the window."""
    n = len(f.unbacked_ratings)
    share = n / f.ratings if f.ratings else 0.0
    score = _ratio_score(share, UNBACKED_SHARE) if n >= UNBACKED_MIN else 0.0
    return Signal("unbacked_ratings", score,
                  {"unbacked": n, "ratings": f.ratings, "share": round(share, 3)},
                  [{"rating": r} for r in f.unbacked_ratings])


def _poisson_cdf(k: int, lam: float) -> float:
    """P(X ≤ k) for X ~ Poisson(lam)."""
    if lam <= 0:
        return 1.0
    term = total = math.exp(-lam)
    for i in range(1, k + 1):
        term *= lam / i
        total += term
    return min(1.0, total)


def implausibly_clean(f: AppFacts, peers: Peers) -> Signal:
    """Far fewer cancellations, refunds and complaints than even the best honest peers have:
    the mini-app is likely not reporting them. The chance of so few, at a rate of half the
    peers' 25th percentile, multiplied over the three."""
    best = peers.best_rates.get(f.category)
    if not best or f.orders < MIN_ORDERS:
        return Signal("implausibly_clean", 0.0, {"orders": f.orders}, [])
    observed = {"cancellations": f.cancellations, "refunds": f.refunds,
                "complaints": f.complaints}
    p = 1.0
    figures: dict[str, Any] = {"orders": f.orders}
    for key, seen in observed.items():
        expected = f.orders * best[key] * CLEAN_BEST_FACTOR
        chance = _poisson_cdf(seen, expected)
        p *= chance
        figures[key] = {"seen": seen, "expected_at_least": round(expected, 1),
                        "chance": float(f"{chance:.3g}")}
    figures["chance"] = float(f"{p:.3g}")
    score = min(1.0, 0.5 * math.log10(max(p, 1e-300)) / math.log10(CLEAN_P))
    return Signal("implausibly_clean", score, figures, [])


def fake_fast_replies(f: AppFacts) -> Signal:
    """Message replies faster than a person types: replies sent by a script."""
    share = f.fast_responses / f.responses if f.responses else 0.0
    score = _ratio_score(share, FAST_REPLY_SHARE) if f.responses >= MIN_RESPONSES else 0.0
    return Signal("fake_fast_replies", score,
                  {"responses": f.responses, "under_seconds": FAST_REPLY_SECONDS,
                   "fast": f.fast_responses, "share": round(share, 3)}, [])


# series where a rise is the suspicious direction, and the smallest rise that matters
JUMP_SERIES = {"orders": 0.0, "ratings": 0.0, "mean_rating": 0.5, "five_star_share": 0.2,
               "fast_reply_share": 0.2}


def sudden_jumps(f: AppFacts) -> Signal:
    """A metric moving far beyond its own history: the last week's value against the weeks
    before (robust z from the median and the median absolute deviation, with a floor: √median
    for counts, the smallest rise that matters for rates)."""
    worst = 0.0
    evidence: list[dict[str, Any]] = []
    for name, min_rise in JUMP_SERIES.items():
        series = f.weekly.get(name) or []
        if len(series) < JUMP_WEEKS + 1:
            continue
        *before, last = series
        mid = median(before)
        mad = 1.4826 * median(abs(v - mid) for v in before)
        counts = min_rise == 0.0
        spread = max(mad, math.sqrt(max(mid, 1.0)) if counts else min_rise / 2)
        z = (last - mid) / spread
        rise = last - mid
        if counts and last < 2 * max(mid, 1.0):
            continue  # a count must at least double
        if not counts and rise < min_rise:
            continue
        score = min(1.0, 0.5 * z / JUMP_Z) if z > 0 else 0.0
        if score > 0:
            evidence.append({"metric": name, "before": [round(v, 3) for v in before],
                             "last_week": round(last, 3), "z": round(z, 1)})
        worst = max(worst, score)
    evidence.sort(key=lambda e: -float(e["z"]))
    return Signal("sudden_jumps", worst, {"jumps": len(evidence)}, evidence)


def self_purchase(f: AppFacts) -> Signal:
    """Orders by the merchant's own staff, or by buyers who share an address, a payment card or
    a phone with its staff."""
    linked = [b for b in f.buyers if b.staff_link]
    n = sum(len(b.orders) for b in linked)
    share = n / f.orders if f.orders else 0.0
    score = 0.0
    if n >= STAFF_ORDERS:
        score = max(_ratio_score(share, STAFF_SHARE), _ratio_score(n, 10))
    evidence = [{"buyer": b.key, "link": b.staff_link, "orders": b.orders[:10],
                 "refunded": b.refunded[:10]}
                for b in sorted(linked, key=lambda b: -len(b.orders))]
    return Signal("self_purchase", score,
                  {"orders": n, "buyers": len(linked), "share": round(share, 3)}, evidence)


def brushing(f: AppFacts) -> Signal:
    """Buyers who keep ordering and getting refunded (paid, then refunded later), buying from no
    other merchant: orders placed to be counted, not to be served. Only buyers the platform
    knows (a user behind the trade or the issued sub) are judged."""
    ring = [b for b in f.buyers
            if len(b.orders) >= BRUSHER_ORDERS
            and len(b.refunded) / len(b.orders) >= BRUSHER_REFUNDED
            and b.other_merchants == 0]  # known to the platform, buying nowhere else
    n = sum(len(b.orders) for b in ring)
    share = n / f.orders if f.orders else 0.0
    score = 0.0
    if len(ring) >= BRUSHERS_MIN:
        score = max(_ratio_score(len(ring), 2 * BRUSHERS_MIN), _ratio_score(share, 0.1))
    evidence = [{"buyer": b.key, "orders": b.orders[:10], "refunded": b.refunded[:10],
                 "other_merchants": b.other_merchants}
                for b in sorted(ring, key=lambda b: -len(b.orders))]
    return Signal("brushing", score, {"buyers": len(ring), "orders": n,
                                      "share": round(share, 3)}, evidence)


def shared_identifiers(f: AppFacts) -> Signal:
    """One delivery address, payment card or phone behind many different buyers."""
    hits = [s for s in f.shared if len(s.buyers) >= SHARED_BUYERS]
    most = max((len(s.buyers) for s in hits), default=0)
    score = _ratio_score(most, 2 * SHARED_BUYERS) if hits else 0.0
    score = max(score, FLAG_AT) if hits else 0.0
    evidence = [{"kind": s.kind, "masked": s.masked, "buyers": s.buyers[:10],
                 "count": len(s.buyers)} for s in sorted(hits, key=lambda s: -len(s.buyers))]
    return Signal("shared_identifiers", score, {"identifiers": len(hits), "most_buyers": most},
                  evidence)


def unreported_refunds(f: AppFacts) -> Signal:
    """Refunds the platform made on the mini-app's trades that the mini-app did not report."""
    missing = len(f.platform_refunds) - f.reported_refunds
    score = 0.0
    # a mini-app that reports orders or refunds at all should report these too
    if (f.reported_refunds or f.orders) and missing >= UNREPORTED_MIN:
        score = _ratio_score(missing / max(len(f.platform_refunds), 1), 0.5)
    return Signal("unreported_refunds", score,
                  {"platform_refunds": len(f.platform_refunds),
                   "reported": f.reported_refunds, "missing": max(missing, 0)},
                  [{"trade": t} for t in f.platform_refunds] if score else [])


def detect(f: AppFacts, peers: Peers) -> list[Signal]:
    """Every detector on one mini-app, strongest first."""
    signals = [
        ratings_vs_complaints(f, peers), unbacked_ratings(f), implausibly_clean(f, peers),
        fake_fast_replies(f), sudden_jumps(f), self_purchase(f), brushing(f),
        shared_identifiers(f), unreported_refunds(f),
    ]
    return sorted(signals, key=lambda s: -s.score)


def anomaly_score(signals: Sequence[Signal]) -> float:
    """The mini-app's anomaly score: its strongest signal."""
    return max((s.score for s in signals), default=0.0)
