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

Scoring one mini-app and re-scoring it with a changed metric go through the same function
(`_score_rows`), which is what makes the suggestions' "points gained" exact.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from townsquare.scoring.metrics import METRIC_BY_NAME, METRICS, MetricSpec
from townsquare.scoring.model_config import (
    DEFAULT_CONFIG,
    PILLARS,
    TIERS,
    CapRule,
    ScoringConfig,
)
from townsquare.scoring.results import ScoreResult, TierDecision

__all__ = [
    "DEFAULT_CONFIG", "CapRule", "ScoreResult", "ScoringConfig", "TierDecision",
    "assign_tiers", "score_all",
]

DEFAULT_RATING_PRIOR = 4.0  # when no peer has ratings
DEFAULT_RESPONSE_PRIOR = 600.0  # seconds, when no peer has answered a message


# ------------------------------------------------------------------ columns and adjustment

def _denominators() -> list[str]:
    return sorted({s.denominator for s in METRICS if s.denominator})


INPUT_COLUMNS = tuple(dict.fromkeys(
    [s.name for s in METRICS] + _denominators()
    + ["rating_sum", "fulfilled", "cancelled", "refunds", "complaints_resolved",
       "repeat_buyers", "cities", "days_active"]
))


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


def _score_rows(rows: list[dict] | Columns, ctx: PeerContext, config: ScoringConfig,
                old_goodness: dict[str, np.ndarray]) -> dict[str, Any]:
    """Scores of `rows` against `ctx`, each judged against the OTHER peers.

    `old_goodness[m]` is each row's value as it sits in ctx (NaN if it is not there), which is
    taken out of the comparison so an app is compared with its peers, not with its old self.
    """
    raw = columns(rows)
    count = _length(raw)
    adjusted: dict[str, np.ndarray] = {}
    scores: dict[str, np.ndarray] = {}
    for spec in METRICS:
        n = raw[spec.denominator] if spec.denominator else np.ones(count)
        adj = _adjust(spec, raw[spec.name], n, ctx.priors.get(spec.name, 0.0), config)
        adjusted[spec.name] = adj
        good = _goodness(spec, adj)
        peers = ctx.sorted_goodness[spec.name]
        old = old_goodness[spec.name]
        in_ctx = ~np.isnan(old)
        left = np.searchsorted(peers, good, side="left")
        right = np.searchsorted(peers, good, side="right")
        below = left - (in_ctx & (old < good))
        equal = right - left - (in_ctx & (old == good))
        others = peers.size - in_ctx
        pct = 100.0 * (below + 0.5 * equal + 0.5) / (others + 1)
        scores[spec.name] = np.where(np.isnan(good), np.nan, pct)

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
                    weights[spec.name] / weight_sum * np.nan_to_num(scores[spec.name]), 0.0,
                )
            total = total + part
            contributions[spec.name] = share * part
        # a pillar with nothing observed counts as neutral rather than vanishing
        pillars[pillar] = np.where(weight_sum > 0, total, 50.0)
    overall = np.zeros(count)
    for pillar in PILLARS:
        overall = overall + config.pillar_weights[pillar] / pillar_total * pillars[pillar]

    capped = overall.copy()
    cap_reason: list[tuple[str, str] | None] = [None] * count
    for rule in config.caps:
        spec = METRIC_BY_NAME[rule.metric]
        n = raw[spec.denominator]
        rate = np.clip(np.nan_to_num(raw[rule.metric]), 0.0, 1.0)
        lower = wilson(rate, n, rule.z, upper=False)
        median = ctx.medians[rule.metric]
        limit = max(rule.factor * (0.0 if math.isnan(median) else median), rule.floor)
        hit = (n > 0) & (np.nan_to_num(lower) > limit)
        capped = np.where(hit, np.minimum(capped, rule.cap), capped)
        for i in np.flatnonzero(hit):
            if cap_reason[i] is None:  # the first rule that fires explains the cap
                cap_reason[i] = _cap_text(
                    spec, rule, float(raw[rule.metric][i]), median, limit
                )
    return {"adjusted": adjusted, "scores": scores, "pillars": pillars,
            "contributions": contributions, "overall": capped, "cap": cap_reason}


def _cap_text(spec: MetricSpec, rule: CapRule, value: float, median: float,
              limit: float) -> tuple[str, str]:
    med = 0.0 if math.isnan(median) else median
    return (
        f"{spec.label_en.capitalize()} {value:.1%} is far above the peer median {med:.1%} "
        f"(limit {limit:.1%}): overall capped at {rule.cap:g}.",
        f"{spec.label_zh} {value:.1%} 远高于同类中位数 {med:.1%}（上限 {limit:.1%}），"
        f"总分封顶 {rule.cap:g} 分。",
    )


def goodness_of(rows: list[dict] | Columns, ctx: PeerContext,
                config: ScoringConfig) -> dict[str, np.ndarray]:
    """Each row's comparable value per metric as it sits in `ctx` (rows must be ctx members)."""
    raw = columns(rows)
    out = {}
    for spec in METRICS:
        value = raw[spec.name]
        n = raw[spec.denominator] if spec.denominator else np.ones(_length(raw))
        out[spec.name] = _goodness(
            spec, _adjust(spec, value, n, ctx.priors.get(spec.name, 0.0), config)
        )
    return out


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


def peer_groups(rows: list[dict], config: ScoringConfig) -> dict[int, tuple[str, str]]:
    """Row index → (kind, key) of its peer group, for the rows with enough data."""
    by_city: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        if is_sufficient(row, config) and row.get("city"):
            by_city[(row["category_code"], row["city"])] += 1
    out = {}
    for i, row in enumerate(rows):
        if not is_sufficient(row, config):
            continue
        cat, city = row["category_code"], row.get("city") or ""
        if city and by_city[(cat, city)] >= config.min_city_peers:
            out[i] = ("category:city", f"{cat}:{city}")
        else:
            out[i] = ("category", cat)
    return out


def score_all(rows: list[dict], config: ScoringConfig = DEFAULT_CONFIG) -> list[ScoreResult]:
    """Score every metrics row (one per mini-app); results are ordered by miniapp_id."""
    rows = sorted(rows, key=lambda r: (str(r["miniapp_id"]),))
    assigned = peer_groups(rows, config)
    by_category: dict[str, list[int]] = defaultdict(list)
    by_city: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        if is_sufficient(row, config):
            by_category[row["category_code"]].append(i)
            if row.get("city"):
                by_city[f"{row['category_code']}:{row['city']}"].append(i)
    wanted: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, group in assigned.items():
        wanted[group].append(i)

    cols = columns(rows)  # once: groups take slices
    results: dict[int, ScoreResult] = {}
    category_ctx: dict[str, PeerContext] = {}
    for (kind, key), members in sorted(wanted.items()):
        pool = by_category[key] if kind == "category" else by_city[key]
        ctx = build_context(_take(cols, pool), key=key, kind=kind, config=config)
        if kind == "category":
            category_ctx[key] = ctx
        member_cols = _take(cols, members)
        out = _score_rows(member_cols, ctx, config, goodness_of(member_cols, ctx, config))
        lists = _rounded(out)
        for j, i in enumerate(members):
            results[i] = _result(rows[i], ctx, out["cap"][j], lists, j, config)

    for i, row in enumerate(rows):
        if i in results:
            continue
        cat = row["category_code"]
        if cat not in category_ctx and by_category.get(cat):
            category_ctx[cat] = build_context(
                _take(cols, by_category[cat]), key=cat, kind="category", config=config
            )
        ctx = category_ctx.get(cat)
        note = data_shortfall(row, config) or ("", "")
        results[i] = ScoreResult(
            miniapp_id=row["miniapp_id"], category_code=cat, state="insufficient_data",
            overall=None, pillars={}, metrics=_inputs(row), adjusted={},
            benchmarks=ctx.benchmarks if ctx else {}, contributions={},
            peer_group="category", cap=None, model_version=config.version,
            merchant_id=row.get("merchant_id"), city=row.get("city") or "", peer_key=cat,
            peer_count=ctx.size if ctx else 0, note=note[0], note_zh=note[1],
        )
    return [results[i] for i in range(len(rows))]


_IDS = ("miniapp_id", "merchant_id")


def _inputs(row: dict) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in _IDS}


def _rounded(out: dict[str, Any]) -> dict[str, dict[str, list]]:
    """The bulk scores as rounded Python lists (one per metric), NaN → None."""

    def plain(values: np.ndarray, digits: int) -> list:
        rounded = np.round(values, digits)
        return [None if v != v else v for v in rounded.tolist()]  # v != v: NaN

    return {
        "overall": {"": plain(out["overall"], 2)},
        "pillars": {p: plain(v, 2) for p, v in out["pillars"].items()},
        "adjusted": {m: plain(v, 6) for m, v in out["adjusted"].items()},
        "contributions": {m: plain(v, 3) for m, v in out["contributions"].items()},
        "scores": {m: plain(v, 2) for m, v in out["scores"].items()},
    }


def _result(row: dict, ctx: PeerContext, cap: tuple[str, str] | None,
            lists: dict[str, dict[str, list]], j: int, config: ScoringConfig) -> ScoreResult:
    return ScoreResult(
        miniapp_id=row["miniapp_id"],
        category_code=row["category_code"],
        state="scored",
        overall=lists["overall"][""][j],
        pillars={p: v[j] for p, v in lists["pillars"].items()},
        metrics=_inputs(row),
        adjusted={m: v[j] for m, v in lists["adjusted"].items()},
        benchmarks=ctx.benchmarks,  # shared by the whole peer group
        contributions={m: v[j] for m, v in lists["contributions"].items()},
        peer_group=ctx.kind,
        cap=cap[0] if cap else None,
        cap_zh=cap[1] if cap else None,
        model_version=config.version,
        merchant_id=row.get("merchant_id"),
        city=row.get("city") or "",
        peer_key=ctx.key,
        peer_count=ctx.size,
        metric_scores={m: v[j] for m, v in lists["scores"].items()},
    )


from townsquare.scoring.tiers import assign_tiers  # noqa: E402  (tiers build on the results)

__all__ += ["TIERS"]
