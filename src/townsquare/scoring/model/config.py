"""The score model's configuration: weights and thresholds an operator edits, versioned as JSON.

Kept apart from the model so that reading the knobs does not mean reading the maths. Numeric
settings are plain numbers or flat {name: number} maps so the operator page can edit them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from townsquare.scoring.model.catalogue import METRIC_BY_NAME, METRICS, PILLARS, TIERS
from townsquare.scoring.model.values import JSONObject


@dataclass(frozen=True)
class CapRule:
    """Caps the overall score when a lower-is-better rate is confidently far above the peers'.

    Triggers when the rate's lower confidence bound exceeds max(factor × peer median, floor),
    so a big mini-app cannot outweigh a severe problem with volume, and one unlucky complaint
    on a small one does not trigger it.
    """

    metric: str = "complaint_rate"
    factor: float = 3.0
    floor: float = 0.02
    cap: float = 59.0
    z: float = 1.28  # confidence of the lower bound (kept apart from rate_confidence_z)


def _pillar_weights() -> dict[str, float]:
    return {"volume": 0.2, "scale": 0.15, "quality": 0.65}


def _metric_weights() -> dict[str, float]:
    return {
        "orders": 0.45, "gmv_fen": 0.3, "visits": 0.25,
        "dau_avg": 0.4, "unique_buyers": 0.35, "communities": 0.25,
        "fulfillment_rate": 0.2, "cancellation_rate": 0.1, "refund_rate": 0.1,
        "complaint_rate": 0.15, "complaint_resolved_share": 0.05, "rating_avg": 0.2,
        "repurchase_rate": 0.1, "response_p90_seconds": 0.1,
        "accept_on_time_rate": 0.05, "ready_on_time_rate": 0.05,
        "delivery_on_time_rate": 0.05, "incident_rate": 0.03,
    }


@dataclass(frozen=True)
class ScoringConfig:
    """Every weight and threshold of the score model; `version` is recorded with each score."""

    version: str = "2026.4"
    pillar_weights: dict[str, float] = field(default_factory=_pillar_weights)
    metric_weights: dict[str, float] = field(default_factory=_metric_weights)
    # enough data to be scored: at least this many orders OR this many visits in the window,
    # and activity on at least this many distinct days. Since 2026.4 a mini-app is scored as
    # soon as the platform observed anything, with the uncertainty of its score stated
    # (`score_low`..`score_high`); the old hard gate was 10 orders or 50 visits on 14 days
    min_orders: int = 1
    min_visits: int = 1
    min_days_active: int = 1
    # count metrics (volume, scale) are compared per day of activity, so a newcomer with a
    # week of data is not judged on a quarter of an established app's totals
    counts_per_active_day: bool = True
    # the score interval: each metric moved to the edges of its interval at this z (1.28: 80%)
    # and the metrics' effects combined as independent errors
    interval_z: float = 1.28
    # pooling: a category with fewer than this many scored mini-apps (all cities) is compared
    # against, and shrunk toward, the whole market instead (0: never pool)
    min_category_peers: int = 10
    # tiers in a category with at most this many scored mini-apps go by absolute scores
    # (`tier_scores`), not by percentile: a rank among a handful says little (0: never)
    absolute_tiers_upto: int = 10
    # shrinkage: ratings are averaged with this many pseudo-ratings at the peer mean; p90
    # response times with this many pseudo-responses at the peer median; rates are judged by
    # the Wilson bound at this z (lower bound when higher is better, upper bound otherwise)
    rating_prior_strength: float = 20.0
    response_prior_strength: float = 5.0
    rate_confidence_z: float = 0.0  # 0: the posterior mean (since 2026.4; the interval says
    # how sure it is); before, 0.8: the pessimistic bound
    # rates are first averaged with this many pseudo-observations at the peers' pooled rate;
    # with `empirical_rate_prior`, with as many as the spread of the peers' rates is worth
    # (empirical Bayes, between `rate_prior_min` and `rate_prior_strength`)
    rate_prior_strength: float = 20.0
    empirical_rate_prior: bool = True
    # a rate or mean over orders, ratings, buyers or messages with nothing observed yet counts
    # at the peers' prior (a neutral place) instead of dropping out of its pillar, so a pillar
    # of few observations is not carried by one noisy metric
    unobserved_at_prior: bool = True
    rate_prior_min: float = 2.0
    # a category is judged per city where it has at least this many scored mini-apps there
    min_city_peers: int = 20  # (5 before 2026.4: city groups of five were mostly noise)
    caps: tuple[CapRule, ...] = (CapRule(),)
    # tiers by percentile within the category (a mini-app at percentile p gets the best tier
    # whose minimum it reaches and whose requirements it meets; D is the floor)
    tier_percentiles: dict[str, float] = field(
        default_factory=lambda: {"S": 90.0, "A": 70.0, "B": 40.0, "C": 15.0}
    )
    tier_scores: dict[str, float] = field(
        default_factory=lambda: {"S": 80.0, "A": 65.0, "B": 45.0, "C": 30.0}
    )
    tier_min_orders: dict[str, float] = field(default_factory=lambda: {"S": 100, "A": 30})
    tier_min_quality: dict[str, float] = field(default_factory=lambda: {"S": 70.0, "A": 55.0})
    tier_no_cap: tuple[str, ...] = ("S", "A")
    # trust and reaction (docs/scoring.md, "Trust"): recent days weigh more in the quality
    # rates and the mean rating, halving every `recent_half_life_days` of age (0: every day of
    # the window alike); a mini-app's own rating that nothing the platform observed could
    # corroborate weighs `self_report_weight`; `spike_min_events` platform-observed complaints
    # and refunds in the last `spike_hours`, at least `spike_factor` times the mini-app's usual
    # rate, re-score it between cycles (scoring/interim.py)
    recent_half_life_days: float = 14.0
    self_report_weight: float = 0.25
    spike_hours: float = 24.0
    spike_min_events: int = 3
    spike_factor: float = 3.0

    def __post_init__(self) -> None:
        _validate(self)

    def to_json(self) -> JSONObject:
        """Plain JSON (the form stored in a config version)."""
        out: JSONObject = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "caps":
                value = [dict(vars(rule)) for rule in value]
            elif isinstance(value, dict):
                value = dict(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> ScoringConfig:
        """Build from JSON; raises ValueError/TypeError on unknown keys or bad values."""
        if not isinstance(data, dict):
            raise TypeError("a scoring configuration is a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(unknown)}")
        kwargs: dict[str, Any] = dict(data)  # checked by the fields' own validation
        if "caps" in kwargs:
            rules = kwargs["caps"]
            if not isinstance(rules, list | tuple):
                raise TypeError("caps is a list")
            kwargs["caps"] = tuple(
                rule if isinstance(rule, CapRule) else CapRule(**rule) for rule in rules
            )
        if "tier_no_cap" in kwargs:
            kwargs["tier_no_cap"] = tuple(kwargs["tier_no_cap"])
        for key in ("pillar_weights", "metric_weights", "tier_percentiles", "tier_scores",
                    "tier_min_orders", "tier_min_quality"):
            if key in kwargs and not isinstance(kwargs[key], dict):
                raise TypeError(f"{key} is an object")
        return cls(**kwargs)


def _number(value: object, what: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{what} must be a number")
    if not low <= value <= high:
        raise ValueError(f"{what} must be between {low:g} and {high:g}")
    return float(value)


def _validate(c: ScoringConfig) -> None:
    if not isinstance(c.version, str) or not 1 <= len(c.version) <= 32:
        raise ValueError("version is 1 to 32 characters")
    if set(c.pillar_weights) != set(PILLARS):
        raise ValueError("pillar_weights needs volume, scale and quality")
    for name, w in c.pillar_weights.items():
        _number(w, f"pillar weight {name}", 0, 1000)
    if sum(c.pillar_weights.values()) <= 0:
        raise ValueError("at least one pillar weight must be positive")
    unknown = set(c.metric_weights) - set(METRIC_BY_NAME)
    if unknown:
        raise ValueError(f"unknown metrics: {', '.join(sorted(unknown))}")
    for name, w in c.metric_weights.items():
        _number(w, f"metric weight {name}", 0, 1000)
    for pillar in PILLARS:
        total = sum(c.metric_weights.get(s.name, 0) for s in METRICS if s.pillar == pillar)
        if c.pillar_weights[pillar] > 0 and total <= 0:
            raise ValueError(f"pillar {pillar} has weight but none of its metrics has")
    _number(c.min_orders, "min_orders", 0, 1e9)
    _number(c.min_visits, "min_visits", 0, 1e9)
    _number(c.min_days_active, "min_days_active", 0, 366)
    _number(c.rating_prior_strength, "rating_prior_strength", 0, 1e6)
    _number(c.response_prior_strength, "response_prior_strength", 0, 1e6)
    _number(c.rate_confidence_z, "rate_confidence_z", 0, 5)
    _number(c.rate_prior_strength, "rate_prior_strength", 0, 1e6)
    _number(c.rate_prior_min, "rate_prior_min", 0, 1e6)
    if not isinstance(c.empirical_rate_prior, bool):
        raise ValueError("empirical_rate_prior is true or false")
    if not isinstance(c.unobserved_at_prior, bool):
        raise ValueError("unobserved_at_prior is true or false")
    _number(c.min_city_peers, "min_city_peers", 1, 1e9)
    if not isinstance(c.counts_per_active_day, bool):
        raise ValueError("counts_per_active_day is true or false")
    _number(c.interval_z, "interval_z", 0, 5)
    _number(c.min_category_peers, "min_category_peers", 0, 1e9)
    _number(c.absolute_tiers_upto, "absolute_tiers_upto", 0, 1e9)
    for rule in c.caps:
        spec = METRIC_BY_NAME.get(rule.metric)
        if spec is None or spec.kind != "rate" or spec.higher_is_better:
            raise ValueError(f"a cap needs a lower-is-better rate, not {rule.metric!r}")
        _number(rule.factor, "cap factor", 0, 1000)
        _number(rule.floor, "cap floor", 0, 1)
        _number(rule.cap, "cap", 0, 100)
        _number(rule.z, "cap z", 0, 5)
    if set(c.tier_percentiles) != set(TIERS[:-1]):
        raise ValueError("tier_percentiles needs S, A, B and C")
    previous = 101.0
    for tier in TIERS[:-1]:
        value = _number(c.tier_percentiles[tier], f"percentile of tier {tier}", 0, 100)
        if value >= previous:
            raise ValueError("tier percentiles must decrease from S to C")
        previous = value
    if set(c.tier_scores) != set(TIERS[:-1]):
        raise ValueError("tier_scores needs S, A, B and C")
    previous = 101.0
    for tier in TIERS[:-1]:
        value = _number(c.tier_scores[tier], f"score of tier {tier}", 0, 100)
        if value >= previous:
            raise ValueError("tier scores must decrease from S to C")
        previous = value
    for key, mapping, high in (("tier_min_orders", c.tier_min_orders, 1e9),
                               ("tier_min_quality", c.tier_min_quality, 100)):
        for tier, value in mapping.items():
            if tier not in TIERS:
                raise ValueError(f"{key}: unknown tier {tier!r}")
            _number(value, f"{key}.{tier}", 0, high)
    if not set(c.tier_no_cap) <= set(TIERS):
        raise ValueError("tier_no_cap lists unknown tiers")
    _number(c.recent_half_life_days, "recent_half_life_days", 0, 3650)
    _number(c.self_report_weight, "self_report_weight", 0, 1)
    _number(c.spike_hours, "spike_hours", 1, 24 * 28)
    _number(c.spike_min_events, "spike_min_events", 1, 1e6)
    _number(c.spike_factor, "spike_factor", 1, 1000)


DEFAULT_CONFIG = ScoringConfig()

# the rules before 2026.4 (hard data gate, totals, no pooling, percentile tiers everywhere):
# what the frozen reference model of the tests implements, and a baseline for the benchmarks
LEGACY_RULES: dict[str, Any] = {
    "min_orders": 10, "min_visits": 50, "min_days_active": 14, "counts_per_active_day": False,
    "min_category_peers": 0, "rate_confidence_z": 0.8, "min_city_peers": 5,
    "absolute_tiers_upto": 0, "empirical_rate_prior": False, "unobserved_at_prior": False,
}
