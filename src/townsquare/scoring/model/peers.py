"""Peer groups: the values a metric is compared on (small samples adjusted toward the peers),
one group's frozen context (`PeerContext`) or many at once (`Peers`), and the caps' limits."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from townsquare.scoring.model.catalogue import METRIC_BY_NAME, METRICS, MetricSpec
from townsquare.scoring.model.config import CapRule, ScoringConfig
from townsquare.scoring.model.inputs import Columns, columns, length
from townsquare.scoring.model.values import Row

DEFAULT_RATING_PRIOR = 4.0  # when no peer has ratings
DEFAULT_RESPONSE_PRIOR = 600.0  # seconds, when no peer has answered a message
# the observations every mini-app can have (orders, ratings, buyers, messages): a metric over
# one of these with nothing observed yet stands at the peers' prior (`unobserved_at_prior`)
EVERY_APP_HAS = frozenset({"orders", "rating_count", "unique_buyers", "response_count"})


def wilson(p: np.ndarray, n: np.ndarray, z: float, *, upper: bool) -> np.ndarray:
    """Wilson score bound of a proportion p over n observations (NaN where n == 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z2 = z * z
        denom = 1.0 + z2 / n
        centre = (p + z2 / (2.0 * n)) / denom
        half = z * np.sqrt(np.maximum(p * (1.0 - p) / n + z2 / (4.0 * n * n), 0.0)) / denom
        out = centre + half if upper else centre - half
    return np.where(n > 0, np.clip(out, 0.0, 1.0), np.nan)


def adjust(spec: MetricSpec, value: np.ndarray, n: np.ndarray, prior: float | np.ndarray,
           config: ScoringConfig, days: np.ndarray | None = None,
           strength: float | np.ndarray | None = None) -> np.ndarray:
    """The value a metric is compared on (NaN = not applicable: nothing observed).

    `days` (the rows' days of activity) turns a count into a count per active day when the
    config says so (`counts_per_active_day`); `strength` is a rate's prior strength in
    pseudo-observations (default `config.rate_prior_strength`; see `rate_strength`)."""
    if spec.denominator is None:
        total: np.ndarray = np.where(np.isnan(value), 0.0, value)
        return per_active_day(total, days, config)
    observed = n > 0
    if config.unobserved_at_prior and spec.denominator in EVERY_APP_HAS:
        # nothing observed yet of what every mini-app has: the prior, not "not applicable"
        value = np.where(observed, value, prior)
        observed = np.ones(observed.shape, dtype=bool)
    value = np.where(observed, value, np.nan)
    if spec.kind == "rate":
        # shrink toward the peers' pooled rate with `rate_prior_strength` pseudo-observations,
        # then take the pessimistic Wilson bound: few observations never look perfect, yet a
        # small mini-app is not judged worse than a big one with the same record
        k = config.rate_prior_strength if strength is None else strength
        value = np.clip(value, 0.0, 1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            shrunk = (value * n + k * prior) / (n + k)
        return wilson(shrunk, n + k, config.rate_confidence_z, upper=not spec.higher_is_better)
    k = config.rating_prior_strength if spec.kind == "mean" else config.response_prior_strength
    with np.errstate(invalid="ignore", divide="ignore"):
        mean: np.ndarray = (value * n + k * prior) / (n + k)
    return mean


def per_active_day(total: np.ndarray, days: np.ndarray | None,
                   config: ScoringConfig) -> np.ndarray:
    """A count as compared: per day of activity (at least one) when the config says so."""
    if not config.counts_per_active_day or days is None:
        return total
    rate: np.ndarray = total / np.maximum(np.where(np.isnan(days), 0.0, days), 1.0)
    return rate


def spread(spec: MetricSpec, value: np.ndarray, n: np.ndarray, prior: float | np.ndarray,
           config: ScoringConfig, days: np.ndarray | None = None,
           strength: float | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) edges of the interval of the value a metric is compared on, at
    `config.interval_z`: a rate's posterior (its observations plus the prior's pseudo-
    observations, Wilson), a rating's mean ± z × 1★ / √(ratings + prior), a count ± z × √count
    (Poisson), a p90 time ± z × its value / √(responses + prior). NaN where not applicable."""
    z = config.interval_z
    with np.errstate(invalid="ignore", divide="ignore"):
        if spec.denominator is None:
            total = np.where(np.isnan(value), 0.0, value)
            if spec.kind == "mean":  # an average per day of a count (dau): Poisson on days
                half = z * np.sqrt(np.maximum(total, 0.0) / np.maximum(_nan0(days), 1.0))
            else:
                half = z * np.sqrt(np.maximum(total, 0.0))
            return (per_active_day(np.maximum(total - half, 0.0), days, config),
                    per_active_day(total + half, days, config))
        value = np.where(n > 0, value, np.nan)
        if spec.kind == "rate":
            k = config.rate_prior_strength if strength is None else strength
            shrunk = (np.clip(value, 0.0, 1.0) * n + k * prior) / (n + k)
            return wilson(shrunk, n + k, z, upper=False), wilson(shrunk, n + k, z, upper=True)
        k = config.rating_prior_strength if spec.kind == "mean" else config.response_prior_strength
        mean = (value * n + k * prior) / (n + k)
        scale = 1.0 if spec.kind == "mean" else np.abs(mean)
        half = z * scale / np.sqrt(n + k)
        return mean - half, mean + half


def _nan0(values: np.ndarray | None) -> np.ndarray:
    if values is None:
        return np.ones(1)
    zeroed: np.ndarray = np.where(np.isnan(values), 0.0, values)
    return zeroed


def rate_strength(rate: np.ndarray, n: np.ndarray, prior: float, config: ScoringConfig) -> float:
    """A rate's prior strength in a peer group (pseudo-observations at the pooled rate).

    Empirical Bayes (beta-binomial, method of moments) when `config.empirical_rate_prior`:
    the peers' true rates vary by var_between = var(observed rates) − mean(p(1−p)/n), and a
    Beta prior with that variance is worth k = p(1−p)/var_between − 1 observations. k is kept
    between `rate_prior_min` and `rate_prior_strength`: where the peers differ a lot, a few
    observations already say much; where they hardly differ, k stays at the fixed strength.
    """
    k_max = config.rate_prior_strength
    if not config.empirical_rate_prior:
        return k_max
    mask = (n > 0) & ~np.isnan(rate)
    if mask.sum() < 3 or not 0.0 < prior < 1.0:
        return k_max
    r, m = np.clip(rate[mask], 0.0, 1.0), n[mask]
    pq = prior * (1.0 - prior)
    between = float(np.var(r)) - float(np.mean(pq / m))
    if between <= 0.0:
        return k_max
    k = pq / between - 1.0
    return float(min(max(k, config.rate_prior_min), k_max))


def goodness(spec: MetricSpec, adjusted: np.ndarray) -> np.ndarray:
    return adjusted if spec.higher_is_better else -adjusted


@dataclass
class PeerContext:
    """One peer group, frozen: the peers' sorted adjusted values, priors and benchmarks."""

    key: str
    kind: str  # "category" | "category:city" | "pooled" (small categories: the whole market)
    size: int
    priors: dict[str, float]
    sorted_goodness: dict[str, np.ndarray]
    medians: dict[str, float]  # raw medians (caps compare against these)
    benchmarks: dict[str, dict[str, float | None]]
    strengths: dict[str, float] = field(default_factory=dict)  # rates' (`rate_strength`)

    def prior(self, name: str) -> float:
        return self.priors.get(name, 0.0)

    def strength(self, name: str) -> float | None:
        return self.strengths.get(name)

    def search(self, name: str, good: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """(peers below, peers below or equal, peers) for each comparable value."""
        peers = self.sorted_goodness[name]
        left = np.searchsorted(peers, good, side="left")
        return left, np.searchsorted(peers, good, side="right"), peers.size

    def limit(self, rule: CapRule) -> float:
        return cap_limit(rule, self)


class Peers:
    """Many peer contexts at once: row i is judged against contexts[group[i]].

    Offers PeerContext's prior/search/limit with one value per row, so a whole population is
    scored in one vectorised pass (the arithmetic per element is the same as group by group).
    """

    def __init__(self, contexts: list[PeerContext], group: np.ndarray) -> None:
        self.contexts, self.group = contexts, group
        order = np.argsort(group, kind="stable")
        cuts = np.flatnonzero(np.diff(group[order])) + 1
        self.parts = [(int(group[rows[0]]), rows) for rows in np.split(order, cuts) if rows.size]

    def _per_row(self, values: list[float]) -> np.ndarray:
        per_row: np.ndarray = np.asarray(values, dtype=np.float64)[self.group]
        return per_row

    def prior(self, name: str) -> np.ndarray:
        return self._per_row([c.priors.get(name, 0.0) for c in self.contexts])

    def strength(self, name: str) -> np.ndarray | None:
        if not self.contexts or any(name not in c.strengths for c in self.contexts):
            return None
        return self._per_row([c.strengths[name] for c in self.contexts])

    def search(self, name: str, good: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        left = np.zeros(len(good), dtype=np.int64)
        right = np.zeros(len(good), dtype=np.int64)
        for g, rows in self.parts:
            peers = self.contexts[g].sorted_goodness[name]
            left[rows] = np.searchsorted(peers, good[rows], side="left")
            right[rows] = np.searchsorted(peers, good[rows], side="right")
        sizes = np.array([c.sorted_goodness[name].size for c in self.contexts], dtype=np.int64)
        return left, right, sizes[self.group]

    def limit(self, rule: CapRule) -> np.ndarray:
        return self._per_row([cap_limit(rule, c) for c in self.contexts])

    def subset(self, rows: np.ndarray) -> Peers:
        return Peers(self.contexts, self.group[rows])


Context = PeerContext | Peers


def build_context(rows: Sequence[Row] | Columns, *, key: str, kind: str,
                  config: ScoringConfig) -> PeerContext:
    """The peer context of a group from its members' metric rows (order does not matter)."""
    raw = columns(rows)
    size = length(raw)
    priors = {
        **{s.name: _pooled_mean(raw[s.name], raw[s.denominator or ""], default=0.0)
           for s in METRICS if s.kind == "rate"},  # a rate always has its denominator
        "rating_avg": _pooled_mean(raw["rating_avg"], raw["rating_count"]),
        "response_p90_seconds": _median_or(
            raw["response_p90_seconds"][raw["response_count"] > 0], DEFAULT_RESPONSE_PRIOR
        ),
    }
    strengths = {s.name: rate_strength(raw[s.name], raw[s.denominator or ""],
                                       priors[s.name], config)
                 for s in METRICS if s.kind == "rate"}
    sorted_goodness: dict[str, np.ndarray] = {}
    medians: dict[str, float] = {}
    benchmarks: dict[str, dict[str, float | None]] = {}
    for spec in METRICS:
        n = raw[spec.denominator] if spec.denominator else np.ones(size)
        adjusted = adjust(spec, raw[spec.name], n, priors.get(spec.name, 0.0), config,
                          raw["days_active"], strengths.get(spec.name))
        good = goodness(spec, adjusted)
        sorted_goodness[spec.name] = np.sort(good[~np.isnan(good)])
        observed = raw[spec.name][(n > 0) & ~np.isnan(raw[spec.name])]
        if spec.denominator is None:
            observed = np.where(np.isnan(raw[spec.name]), 0.0, raw[spec.name])
        if observed.size:
            p25, median, p75 = (float(v) for v in np.percentile(observed, [25, 50, 75]))
        else:
            p25 = median = p75 = math.nan
        medians[spec.name] = median
        benchmarks[spec.name] = {
            "median": _none(median), "p25": _none(p25), "p75": _none(p75),
            "top_quartile": _none(p75 if spec.higher_is_better else p25),
            "prior": _none(priors.get(spec.name, math.nan)),
            "peers": int(observed.size),
        }
    return PeerContext(key, kind, size, priors, sorted_goodness, medians, benchmarks, strengths)


def _pooled_mean(mean: np.ndarray, count: np.ndarray,
                 default: float = DEFAULT_RATING_PRIOR) -> float:
    """All the peers' observations averaged together; fsum makes it independent of row order."""
    mask = (count > 0) & ~np.isnan(mean)
    n = math.fsum(count[mask].tolist())
    total = math.fsum((np.clip(mean[mask], 0.0, None) * count[mask]).tolist())
    return total / n if n > 0 else default


def _median_or(values: np.ndarray, default: float) -> float:
    values = values[~np.isnan(values)]
    return float(np.median(values)) if values.size else default


def _none(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def cap_limit(rule: CapRule, ctx: PeerContext) -> float:
    median = ctx.medians[rule.metric]
    return max(rule.factor * (0.0 if math.isnan(median) else median), rule.floor)


def cap_text(rule: CapRule, value: float, ctx: PeerContext) -> tuple[str, str]:
    """Why the overall was capped (English, Chinese)."""
    spec = METRIC_BY_NAME[rule.metric]
    median, limit = ctx.medians[rule.metric], cap_limit(rule, ctx)
    med = 0.0 if math.isnan(median) else median
    return (
        f"{spec.label_en.capitalize()} {value:.1%} is far above the peer median {med:.1%} "
        f"(limit {limit:.1%}): overall capped at {rule.cap:g}.",
        f"{spec.label_zh} {value:.1%} 远高于同类中位数 {med:.1%}（上限 {limit:.1%}），"
        f"总分封顶 {rule.cap:g} 分。",
    )
