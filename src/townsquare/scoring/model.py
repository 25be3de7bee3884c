"""The score model: pure Python/NumPy, no database. Metrics in, explainable scores out.

How a mini-app is scored (see docs/scoring.md):
1. Enough data? At least `min_orders` orders or `min_visits` visits, and activity on at least
   `min_days_active` days, else "insufficient_data" (the result's `note` says what is missing).
2. Peer group: the scored mini-apps of its category — of its category in its city when that
   city has at least `min_city_peers` of them.
3. Small samples are adjusted before comparing: ratings are a Bayesian average with the peer
   mean, p90 response times are pulled toward the peer median, and rates are averaged with the
   peers' pooled rate and then replaced by their Wilson bound on the pessimistic side, so few
   observations can never look perfect.
4. Each metric scores its percentile (0..100, ties share) among the peers' adjusted values;
   pillars are weighted means of their metrics, the overall a weighted mean of the pillars.
5. Caps: a rate confidently far worse than the peers' median caps the overall, whatever volume.

Scoring one mini-app and re-scoring it with a changed metric go through the same functions
(`_metric_score`, `_combine`, `_caps`), which is what makes the suggestions' "points gained"
exact. `score_table` scores a whole population as columns; `score_all` gives its ScoreResults.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from townsquare.scoring.metrics import METRIC_BY_NAME, METRICS, MetricSpec
from townsquare.scoring.model_config import (
    DEFAULT_CONFIG,
    PILLARS,
    TIERS,
    CapRule,
    ScoringConfig,
)
from townsquare.scoring.results import ScoreResult, Scores, Source, TierDecision, codes

__all__ = [
    "DEFAULT_CONFIG", "CapRule", "ScoreResult", "ScoringConfig", "TierDecision",
    "assign_tiers", "score_all", "score_table",
]

DEFAULT_RATING_PRIOR = 4.0  # when no peer has ratings
DEFAULT_RESPONSE_PRIOR = 600.0  # seconds, when no peer has answered a message


# ------------------------------------------------------------------ columns and adjustment

def _denominators() -> list[str]:
    return sorted({s.denominator for s in METRICS if s.denominator})


# what the model reads of a metrics row (the other columns are kept as the inputs shown)
INPUT_COLUMNS = tuple(dict.fromkeys([s.name for s in METRICS] + _denominators() + ["days_active"]))


def _column(rows: list[dict], name: str) -> np.ndarray:
    return np.array([r.get(name) for r in rows], dtype=np.float64)  # None → NaN


Columns = dict[str, np.ndarray]


def columns(rows: list[dict] | Columns) -> Columns:
    """The model's input columns as float arrays (rows may already be columns)."""
    if isinstance(rows, dict):
        return rows
    return {name: _column(rows, name) for name in INPUT_COLUMNS}


def _take(cols: Columns, index: list[int]) -> Columns:
    at = np.asarray(index, dtype=np.int64)
    return {name: values[at] for name, values in cols.items()}


def _length(cols: Columns) -> int:
    return len(next(iter(cols.values())))


def wilson(p: np.ndarray, n: np.ndarray, z: float, *, upper: bool) -> np.ndarray:
    """Wilson score bound of a proportion p over n observations (NaN where n == 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z2 = z * z
        denom = 1.0 + z2 / n
        centre = (p + z2 / (2.0 * n)) / denom
        half = z * np.sqrt(np.maximum(p * (1.0 - p) / n + z2 / (4.0 * n * n), 0.0)) / denom
        out = centre + half if upper else centre - half
    return np.where(n > 0, np.clip(out, 0.0, 1.0), np.nan)


def _adjust(spec: MetricSpec, value: np.ndarray, n: np.ndarray, prior: float,
            config: ScoringConfig) -> np.ndarray:
    """The value a metric is compared on (NaN = not applicable: nothing observed)."""
    if spec.denominator is None:
        return np.where(np.isnan(value), 0.0, value)
    value = np.where(n > 0, value, np.nan)
    if spec.kind == "rate":
        # shrink toward the peers' pooled rate with `rate_prior_strength` pseudo-observations,
        # then take the pessimistic Wilson bound: few observations never look perfect, yet a
        # small mini-app is not judged worse than a big one with the same record
        k = config.rate_prior_strength
        value = np.clip(value, 0.0, 1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            shrunk = (value * n + k * prior) / (n + k)
        return wilson(shrunk, n + k, config.rate_confidence_z, upper=not spec.higher_is_better)
    k = config.rating_prior_strength if spec.kind == "mean" else config.response_prior_strength
    with np.errstate(invalid="ignore", divide="ignore"):
        return (value * n + k * prior) / (n + k)


def _goodness(spec: MetricSpec, adjusted: np.ndarray) -> np.ndarray:
    return adjusted if spec.higher_is_better else -adjusted


# ------------------------------------------------------------------ peer groups


@dataclass
class PeerContext:
    """One peer group, frozen: the peers' sorted adjusted values, priors and benchmarks."""

    key: str
    kind: str  # "category" | "category:city"
    size: int
    priors: dict[str, float]
    sorted_goodness: dict[str, np.ndarray]
    medians: dict[str, float]  # raw medians (caps compare against these)
    benchmarks: dict[str, dict[str, float | None]]

    def prior(self, name: str) -> float:
        return self.priors.get(name, 0.0)

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
        return np.asarray(values, dtype=np.float64)[self.group]

    def prior(self, name: str) -> np.ndarray:
        return self._per_row([c.priors.get(name, 0.0) for c in self.contexts])

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


def build_context(rows: list[dict] | Columns, *, key: str, kind: str,
                  config: ScoringConfig) -> PeerContext:
    """The peer context of a group from its members' metric rows (order does not matter)."""
    raw = columns(rows)
    size = _length(raw)
    priors = {
        **{s.name: _pooled_mean(raw[s.name], raw[s.denominator], default=0.0)
           for s in METRICS if s.kind == "rate"},
        "rating_avg": _pooled_mean(raw["rating_avg"], raw["rating_count"]),
        "response_p90_seconds": _median_or(
            raw["response_p90_seconds"][raw["response_count"] > 0], DEFAULT_RESPONSE_PRIOR
        ),
    }
    sorted_goodness: dict[str, np.ndarray] = {}
    medians: dict[str, float] = {}
    benchmarks: dict[str, dict[str, float | None]] = {}
    for spec in METRICS:
        n = raw[spec.denominator] if spec.denominator else np.ones(size)
        adjusted = _adjust(spec, raw[spec.name], n, priors.get(spec.name, 0.0), config)
        good = _goodness(spec, adjusted)
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
    return PeerContext(key, kind, size, priors, sorted_goodness, medians, benchmarks)


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


# ------------------------------------------------------------------ scoring


def _metric_score(spec: MetricSpec, raw: Columns, ctx: Context, config: ScoringConfig,
                  old: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(adjusted value, 0..100 percentile score) of one metric for every row, against ctx.

    `old` is each row's value as it sits in ctx (NaN if it is not there), which is taken out
    of the comparison so an app is compared with its peers, not with its old self.
    """
    count = _length(raw)
    n = raw[spec.denominator] if spec.denominator else np.ones(count)
    adj = _adjust(spec, raw[spec.name], n, ctx.prior(spec.name), config)
    good = _goodness(spec, adj)
    in_ctx = ~np.isnan(old)
    left, right, size = ctx.search(spec.name, good)
    below = left - (in_ctx & (old < good))
    equal = right - left - (in_ctx & (old == good))
    others = size - in_ctx
    pct = 100.0 * (below + 0.5 * equal + 0.5) / (others + 1)
    return adj, np.where(np.isnan(good), np.nan, pct)


def _combine(scores: dict[str, np.ndarray], count: int, config: ScoringConfig
             ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """(pillars, contributions, overall before caps) from the metrics' scores."""
    pillars: dict[str, np.ndarray] = {}
    contributions: dict[str, np.ndarray] = {}
    weights: dict[str, np.ndarray] = {}
    pillar_total = sum(config.pillar_weights.values())
    for pillar in PILLARS:
        specs = [s for s in METRICS if s.pillar == pillar]
        weight_sum = np.zeros(count)
        for spec in specs:
            w = config.metric_weights.get(spec.name, 0.0)
            weights[spec.name] = np.where(np.isnan(scores[spec.name]), 0.0, w)
            weight_sum = weight_sum + weights[spec.name]
        total = np.zeros(count)
        share = config.pillar_weights[pillar] / pillar_total
        for spec in specs:
            with np.errstate(invalid="ignore", divide="ignore"):
                part = np.where(
                    weights[spec.name] > 0,
                    weights[spec.name] / weight_sum * _nan0(scores[spec.name]), 0.0,
                )
            total = total + part
            contributions[spec.name] = share * part
        # a pillar with nothing observed counts as neutral rather than vanishing
        pillars[pillar] = np.where(weight_sum > 0, total, 50.0)
    overall = np.zeros(count)
    for pillar in PILLARS:
        overall = overall + config.pillar_weights[pillar] / pillar_total * pillars[pillar]
    return pillars, contributions, overall


def _caps(raw: Columns, ctx: Context, config: ScoringConfig,
          overall: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(capped overall, index of the first cap rule that fired or -1) for every row."""
    capped = overall.copy()
    rule_at = np.full(overall.shape, -1, dtype=np.int64)
    for r, rule in enumerate(config.caps):
        spec = METRIC_BY_NAME[rule.metric]
        n = raw[spec.denominator]
        rate = np.clip(_nan0(raw[rule.metric]), 0.0, 1.0)
        lower = wilson(rate, n, rule.z, upper=False)
        hit = (n > 0) & (_nan0(lower) > ctx.limit(rule))
        capped = np.where(hit, np.minimum(capped, rule.cap), capped)
        rule_at = np.where(hit & (rule_at < 0), r, rule_at)
    return capped, rule_at


def _nan0(values: np.ndarray) -> np.ndarray:
    """NaN → 0 (np.nan_to_num, without its per-call overhead; values here are never infinite,
    or are clipped to [0, 1] right after, where both agree)."""
    return np.where(np.isnan(values), 0.0, values)


def cap_limit(rule: CapRule, ctx: PeerContext) -> float:
    median = ctx.medians[rule.metric]
    return max(rule.factor * (0.0 if math.isnan(median) else median), rule.floor)


def _score_rows(rows: list[dict] | Columns, ctx: Context, config: ScoringConfig,
                old_goodness: dict[str, np.ndarray]) -> dict[str, Any]:
    """Scores of `rows` against `ctx`, each judged against the OTHER peers (see _metric_score).

    The result's `cap_rule` is the index in config.caps of the rule explaining each row's cap.
    """
    raw = columns(rows)
    adjusted: dict[str, np.ndarray] = {}
    scores: dict[str, np.ndarray] = {}
    for spec in METRICS:
        adjusted[spec.name], scores[spec.name] = _metric_score(
            spec, raw, ctx, config, old_goodness[spec.name]
        )
    pillars, contributions, overall = _combine(scores, _length(raw), config)
    capped, rule_at = _caps(raw, ctx, config, overall)
    return {"adjusted": adjusted, "scores": scores, "pillars": pillars,
            "contributions": contributions, "overall": capped, "cap_rule": rule_at}


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


def goodness_of(rows: list[dict] | Columns, ctx: Context,
                config: ScoringConfig) -> dict[str, np.ndarray]:
    """Each row's comparable value per metric as it sits in `ctx` (rows must be ctx members)."""
    raw = columns(rows)
    return {spec.name: member_goodness(spec, raw, ctx, config) for spec in METRICS}


def member_goodness(spec: MetricSpec, raw: Columns, ctx: Context,
                    config: ScoringConfig) -> np.ndarray:
    n = raw[spec.denominator] if spec.denominator else np.ones(_length(raw))
    return _goodness(spec, _adjust(spec, raw[spec.name], n, ctx.prior(spec.name), config))


def score_against(rows: list[dict], ctx: PeerContext, config: ScoringConfig, *,
                  as_member: dict) -> dict[str, Any]:
    """Re-score metrics rows against a fixed peer context (used by the suggestions).

    Each row is a variant of one mini-app whose measured metrics are `as_member`; that
    mini-app's own place in ctx is taken out of the comparison, so the unchanged row scores
    exactly what `score_all` gave it. Returns the bulk scoring's dict of arrays, one per row.
    """
    old = goodness_of([as_member], ctx, config)
    old = {m: np.repeat(v, len(rows)) for m, v in old.items()}
    return _score_rows(rows, ctx, config, old)


def data_shortfall(row: dict, config: ScoringConfig) -> tuple[str, str] | None:
    """Why `row` cannot be scored yet (English, Chinese), or None when it has enough data."""
    orders, visits = int(row.get("orders") or 0), int(row.get("visits") or 0)
    days = int(row.get("days_active") or 0)
    if orders < config.min_orders and visits < config.min_visits:
        return (
            f"At least {config.min_orders} orders or {config.min_visits} visits in the window "
            f"to be scored (now {orders} orders, {visits} visits).",
            f"统计周期内至少 {config.min_orders} 个订单或 {config.min_visits} 次访问才能获得评分"
            f"（目前 {orders} 个订单、{visits} 次访问）。",
        )
    if days < config.min_days_active:
        return (
            f"Activity on at least {config.min_days_active} days of the window to be scored "
            f"(now {days}): a new mini-app is not ranked on a few days of data.",
            f"统计周期内至少有 {config.min_days_active} 天有经营活动才能获得评分"
            f"（目前 {days} 天）：新上线的小程序不以几天的数据参与排名。",
        )
    return None


def is_sufficient(row: dict, config: ScoringConfig) -> bool:
    return data_shortfall(row, config) is None


def sufficient(cols: Columns, config: ScoringConfig) -> np.ndarray:
    """`is_sufficient` for every row of the columns at once."""

    def whole(name: str) -> np.ndarray:  # int(value or 0)
        return np.trunc(np.nan_to_num(cols[name], nan=0.0))

    too_little = (whole("orders") < config.min_orders) & (whole("visits") < config.min_visits)
    return ~too_little & ~(whole("days_active") < config.min_days_active)


# ------------------------------------------------------------------ the whole population


def score_table(data: pa.Table | list[dict], config: ScoringConfig = DEFAULT_CONFIG) -> Scores:
    """Score every metrics row (one per mini-app) as columns (rows as given; `results()` lists
    them by str(miniapp_id)).

    Peer groups are found with integer codes and each group's context is built once; then all
    scored rows go through the model in one vectorised pass, each against its own group
    (`Peers`), so the cost is NumPy's, not one Python step per app or per group.
    """
    source = Source.of(data, INPUT_COLUMNS, columns)
    n = source.size
    cols = source.cols
    ok = sufficient(cols, config)
    cat_code, cat_values = codes(source.category)
    city_code, city_values = codes(source.city)
    n_city = len(city_values)
    has_city = np.array([bool(c) for c in city_values], dtype=bool)[city_code]
    combo = cat_code.astype(np.int64) * n_city + city_code
    local = ok & has_city
    per_city = np.bincount(combo[local], minlength=len(cat_values) * n_city)
    by_city = local & (per_city[combo] >= config.min_city_peers)
    # group id: the category's code, or len(categories) + the (category, city) combination
    gid = np.where(by_city, len(cat_values) + combo, cat_code)

    contexts: list[PeerContext] = []
    ctx_of: dict[int, int] = {}
    group = np.full(n, -1, dtype=np.int64)
    raw_overall, raw_scores = np.full(n, np.nan), np.full((len(METRICS), n), np.nan)
    adjusted, contributions = np.full((len(METRICS), n), np.nan), np.zeros((len(METRICS), n))
    pillars, cap_rule = np.full((len(PILLARS), n), np.nan), np.full(n, -1, dtype=np.int64)

    def context(g: int) -> int:
        if g not in ctx_of:
            if g < len(cat_values):
                kind, key, pool = "category", cat_values[g], np.flatnonzero(ok & (cat_code == g))
            else:
                cat, city = divmod(g - len(cat_values), n_city)
                kind, key = "category:city", f"{cat_values[cat]}:{city_values[city]}"
                pool = np.flatnonzero(by_city & (combo == g - len(cat_values)))
            contexts.append(build_context(_take(cols, pool), key=key, kind=kind, config=config))
            ctx_of[g] = len(contexts) - 1
        return ctx_of[g]

    # every scored row at once, each against its own group's context
    rows = np.flatnonzero(ok)
    lookup = np.full(int(gid.max()) + 1 if n else 0, -1, dtype=np.int64)
    for g in np.unique(gid[rows]).tolist():
        lookup[g] = context(g)
    group[rows] = lookup[gid[rows]]
    member_cols = _take(cols, rows)
    peers = Peers(contexts, group[rows])
    out = _score_rows(member_cols, peers, config, goodness_of(member_cols, peers, config))
    raw_overall[rows], cap_rule[rows] = out["overall"], out["cap_rule"]
    for m, spec in enumerate(METRICS):
        raw_scores[m, rows] = out["scores"][spec.name]
        adjusted[m, rows] = out["adjusted"][spec.name]
        contributions[m, rows] = out["contributions"][spec.name]
    for p, pillar in enumerate(PILLARS):
        pillars[p, rows] = out["pillars"][pillar]
    # apps without enough data are shown their category's benchmarks, where it has any
    for c in np.unique(cat_code[~ok]):
        if (ok & (cat_code == c)).any():
            group[~ok & (cat_code == c)] = context(int(c))
    return Scores(
        config=config, source=source, cols=cols, scored=ok, category=cat_code, group=group,
        contexts=contexts, raw_overall=raw_overall, raw_scores=raw_scores, cap_rule=cap_rule,
        overall=np.round(raw_overall, 2), pillars=_round_in_place(pillars, 2),
        adjusted=_round_in_place(adjusted, 6), contributions=_round_in_place(contributions, 3),
        metric_scores=np.round(raw_scores, 2),
    )


def _round_in_place(values: np.ndarray, digits: int) -> np.ndarray:
    """np.round(values, digits), which is exactly these three steps, without new arrays."""
    scale = 10.0**digits
    np.multiply(values, scale, out=values)
    np.rint(values, out=values)
    return np.divide(values, scale, out=values)


def score_all(rows: list[dict], config: ScoringConfig = DEFAULT_CONFIG) -> list[ScoreResult]:
    """Score every metrics row (one per mini-app); results are ordered by miniapp_id."""
    return score_table(rows, config).results()


from townsquare.scoring.tiers import assign_tiers  # noqa: E402  (tiers build on the results)

__all__ += ["TIERS"]
