"""The score model: pure Python/NumPy, no database. Metrics in, explainable scores out.

How a mini-app is scored (see docs/scoring.md, "Uncertainty, newcomers and sparse markets"):
1. Any data? At least `min_orders` orders or `min_visits` visits on `min_days_active` days (by
   default one of anything since 2026.4), else "insufficient_data" (`note` says what is missing).
2. Peer group: the scored mini-apps of its category — of its category in its city when that
   city has at least `min_city_peers` of them; a category with fewer than `min_category_peers`
   scored mini-apps is pooled with the whole market ("pooled", key "*").
3. Small samples are adjusted before comparing: ratings are a Bayesian average with the peer
   mean, p90 response times are pulled toward the peer median, rates are averaged with
   pseudo-observations at the peers' pooled rate (as many as the peers' spread is worth:
   empirical Bayes) and taken at `rate_confidence_z` (0: the posterior mean); counts are
   compared per day of activity, so a newcomer is not judged on a week's totals.
4. Each metric scores its percentile (0..100, ties share) among the peers' adjusted values;
   pillars are weighted means of their metrics, the overall a weighted mean of the pillars.
5. Caps: a rate confidently far worse than the peers' median caps the overall, whatever volume.
6. The interval: every metric moved to the edges of its own interval and re-ranked; the points
   lost or gained, combined as independent errors, give `score_low` and `score_high`.

Scoring one mini-app and re-scoring it with a changed metric go through the same functions
(`_metric_score`, `_combine`, `_caps`), which is what makes the suggestions' "points gained"
exact. `score_table` scores a whole population as columns; `score_all` gives its ScoreResults.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

import numpy as np
import pyarrow as pa

from townsquare.scoring.model.catalogue import METRIC_BY_NAME, METRICS, PILLARS, MetricSpec
from townsquare.scoring.model.config import DEFAULT_CONFIG, ScoringConfig
from townsquare.scoring.model.inputs import (
    INPUT_COLUMNS,
    Columns,
    columns,
    length,
    sufficient,
    take,
)
from townsquare.scoring.model.peers import (
    Context,
    PeerContext,
    Peers,
    adjust,
    build_context,
    goodness,
    spread,
    wilson,
)
from townsquare.scoring.model.results import ScoreResult, Scores, Source, codes
from townsquare.scoring.model.values import Row

# ------------------------------------------------------------------ scoring


def _metric_score(spec: MetricSpec, raw: Columns, ctx: Context, config: ScoringConfig,
                  old: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(adjusted value, 0..100 percentile score) of one metric for every row, against ctx.

    `old` is each row's value as it sits in ctx (NaN if it is not there), which is taken out
    of the comparison so an app is compared with its peers, not with its old self.
    """
    count = length(raw)
    n = raw[spec.denominator] if spec.denominator else np.ones(count)
    adj = adjust(spec, raw[spec.name], n, ctx.prior(spec.name), config, raw["days_active"],
                 ctx.strength(spec.name))
    return adj, _percentile(spec, goodness(spec, adj), ctx, old)


def _percentile(spec: MetricSpec, good: np.ndarray, ctx: Context,
                old: np.ndarray) -> np.ndarray:
    """0..100 percentile of comparable values among ctx's peers (`old`: see _metric_score)."""
    in_ctx = ~np.isnan(old)
    left, right, size = ctx.search(spec.name, good)
    below = left - (in_ctx & (old < good))
    equal = right - left - (in_ctx & (old == good))
    others = size - in_ctx
    pct = 100.0 * (below + 0.5 * equal + 0.5) / (others + 1)
    return np.where(np.isnan(good), np.nan, pct)


def _interval(raw: Columns, ctx: Context, config: ScoringConfig, old: dict[str, np.ndarray],
              scores: dict[str, np.ndarray], overall: np.ndarray, capped: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) of every row's overall score: each metric moved to the pessimistic and the
    optimistic edge of its interval (`peers.spread`) and re-ranked among the same peers; the
    points the overall would lose (gain) are combined as independent errors, √Σ points²."""
    count = length(raw)
    down, up = np.zeros(count), np.zeros(count)
    pillar_total = sum(config.pillar_weights.values())
    for pillar in PILLARS:
        specs = [s for s in METRICS if s.pillar == pillar]
        weights = {s.name: np.where(np.isnan(scores[s.name]), 0.0,
                                    config.metric_weights.get(s.name, 0.0)) for s in specs}
        weight_sum = sum(weights.values(), np.zeros(count))
        share = config.pillar_weights[pillar] / pillar_total
        for spec in specs:
            if not config.metric_weights.get(spec.name, 0.0):
                continue
            n = raw[spec.denominator] if spec.denominator else np.ones(count)
            edges = spread(spec, raw[spec.name], n, ctx.prior(spec.name), config,
                           raw["days_active"], ctx.strength(spec.name))
            pcts = [_nan0(_percentile(spec, goodness(spec, e), ctx, old[spec.name]))
                    for e in edges]
            low, high = (pcts[0], pcts[1]) if spec.higher_is_better else (pcts[1], pcts[0])
            with np.errstate(invalid="ignore", divide="ignore"):
                part = np.where(weight_sum > 0, share * weights[spec.name] / weight_sum, 0.0)
            here = _nan0(scores[spec.name])
            down = down + (part * np.maximum(here - low, 0.0)) ** 2
            up = up + (part * np.maximum(high - here, 0.0)) ** 2
    low = np.minimum(np.clip(overall - np.sqrt(down), 0.0, 100.0), capped)
    high = np.clip(overall + np.sqrt(up), 0.0, 100.0)
    # a capped overall stays capped at the top of its interval
    return low, np.where(capped < overall, capped, high)


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
        n = raw[spec.denominator or ""]  # a cap's metric is a rate, with its denominator
        rate = np.clip(_nan0(raw[rule.metric]), 0.0, 1.0)
        lower = wilson(rate, n, rule.z, upper=False)
        hit = (n > 0) & (_nan0(lower) > ctx.limit(rule))
        capped = np.where(hit, np.minimum(capped, rule.cap), capped)
        rule_at = np.where(hit & (rule_at < 0), r, rule_at)
    return capped, rule_at


def _nan0(values: np.ndarray) -> np.ndarray:
    """NaN → 0 (np.nan_to_num, without its per-call overhead; values here are never infinite,
    or are clipped to [0, 1] right after, where both agree)."""
    zeroed: np.ndarray = np.where(np.isnan(values), 0.0, values)
    return zeroed


class RowScores(TypedDict):
    """Rows scored against a peer context: one array element per row."""

    adjusted: dict[str, np.ndarray]  # per metric
    scores: dict[str, np.ndarray]  # per metric, 0..100
    pillars: dict[str, np.ndarray]
    contributions: dict[str, np.ndarray]  # per metric, overall points
    overall: np.ndarray  # after the caps
    cap_rule: np.ndarray  # index in config.caps of the rule that capped the overall, -1
    low: np.ndarray  # the overall's interval (see _interval)
    high: np.ndarray


def _score_rows(rows: Sequence[Row] | Columns, ctx: Context, config: ScoringConfig,
                old_goodness: dict[str, np.ndarray], *, interval: bool = False) -> RowScores:
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
    pillars, contributions, overall = _combine(scores, length(raw), config)
    capped, rule_at = _caps(raw, ctx, config, overall)
    low, high = (_interval(raw, ctx, config, old_goodness, scores, overall, capped)
                 if interval else (capped, capped))
    return {"adjusted": adjusted, "scores": scores, "pillars": pillars,
            "contributions": contributions, "overall": capped, "cap_rule": rule_at,
            "low": low, "high": high}


def goodness_of(rows: Sequence[Row] | Columns, ctx: Context,
                config: ScoringConfig) -> dict[str, np.ndarray]:
    """Each row's comparable value per metric as it sits in `ctx` (rows must be ctx members)."""
    raw = columns(rows)
    return {spec.name: member_goodness(spec, raw, ctx, config) for spec in METRICS}


def member_goodness(spec: MetricSpec, raw: Columns, ctx: Context,
                    config: ScoringConfig) -> np.ndarray:
    n = raw[spec.denominator] if spec.denominator else np.ones(length(raw))
    return goodness(spec, adjust(spec, raw[spec.name], n, ctx.prior(spec.name), config,
                                 raw["days_active"], ctx.strength(spec.name)))


def score_against(rows: Sequence[Row], ctx: PeerContext, config: ScoringConfig, *,
                  as_member: Row) -> RowScores:
    """Re-score metrics rows against a fixed peer context (used by the suggestions).

    Each row is a variant of one mini-app whose measured metrics are `as_member`; that
    mini-app's own place in ctx is taken out of the comparison, so the unchanged row scores
    exactly what `score_all` gave it. Returns the bulk scoring's dict of arrays, one per row.
    """
    old = goodness_of([as_member], ctx, config)
    old = {m: np.repeat(v, len(rows)) for m, v in old.items()}
    return _score_rows(rows, ctx, config, old)


# ------------------------------------------------------------------ the whole population


def score_table(data: pa.Table | Sequence[Row], config: ScoringConfig = DEFAULT_CONFIG) -> Scores:
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
    # a category with too few scored mini-apps is pooled with the whole market
    per_category = np.bincount(cat_code[ok], minlength=len(cat_values))
    pooled = per_category[cat_code] < config.min_category_peers
    local = ok & has_city & ~pooled
    per_city = np.bincount(combo[local], minlength=len(cat_values) * n_city)
    by_city = local & (per_city[combo] >= config.min_city_peers)
    # group id: the category's code, or len(categories) + the (category, city) combination,
    # or the pooled group after all of those
    pool_id = len(cat_values) * (n_city + 1)
    gid = np.where(by_city, len(cat_values) + combo, np.where(pooled, pool_id, cat_code))

    contexts: list[PeerContext] = []
    ctx_of: dict[int, int] = {}
    group = np.full(n, -1, dtype=np.int64)
    raw_overall, raw_scores = np.full(n, np.nan), np.full((len(METRICS), n), np.nan)
    adjusted, contributions = np.full((len(METRICS), n), np.nan), np.zeros((len(METRICS), n))
    pillars, cap_rule = np.full((len(PILLARS), n), np.nan), np.full(n, -1, dtype=np.int64)
    low, high = np.full(n, np.nan), np.full(n, np.nan)

    def context(g: int) -> int:
        if g not in ctx_of:
            if g == pool_id:
                kind, key, pool = "pooled", "*", np.flatnonzero(ok)
            elif g < len(cat_values):
                kind, key, pool = "category", cat_values[g], np.flatnonzero(ok & (cat_code == g))
            else:
                cat, city = divmod(g - len(cat_values), n_city)
                kind, key = "category:city", f"{cat_values[cat]}:{city_values[city]}"
                pool = np.flatnonzero(by_city & (combo == g - len(cat_values)))
            contexts.append(build_context(take(cols, pool), key=key, kind=kind, config=config))
            ctx_of[g] = len(contexts) - 1
        return ctx_of[g]

    # every scored row at once, each against its own group's context
    rows = np.flatnonzero(ok)
    lookup = np.full(int(gid.max()) + 1 if n else 0, -1, dtype=np.int64)
    for g in np.unique(gid[rows]).tolist():
        lookup[g] = context(g)
    group[rows] = lookup[gid[rows]]
    member_cols = take(cols, rows)
    peers = Peers(contexts, group[rows])
    out = _score_rows(member_cols, peers, config, goodness_of(member_cols, peers, config),
                      interval=True)
    raw_overall[rows], cap_rule[rows] = out["overall"], out["cap_rule"]
    low[rows], high[rows] = out["low"], out["high"]
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
        low=np.round(low, 2), high=np.round(high, 2),
    )


def _round_in_place(values: np.ndarray, digits: int) -> np.ndarray:
    """np.round(values, digits), which is exactly these three steps, without new arrays."""
    scale = 10.0**digits
    np.multiply(values, scale, out=values)
    np.rint(values, out=values)
    rounded: np.ndarray = np.divide(values, scale, out=values)
    return rounded


def score_all(rows: Sequence[Row], config: ScoringConfig = DEFAULT_CONFIG) -> list[ScoreResult]:
    """Score every metrics row (one per mini-app); results are ordered by miniapp_id."""
    return score_table(rows, config).results()
