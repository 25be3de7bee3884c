"""The score model, suggestions and tiers as they were before vectorisation (frozen copy).

The oracle of test_vectorised.py: the columnar implementation must give exactly what this
row-by-row one gives. Do not change it to make a test pass.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from townsquare.scoring.model.catalogue import METRIC_BY_NAME, METRICS, PILLARS, TIERS, MetricSpec
from townsquare.scoring.model.config import DEFAULT_CONFIG, CapRule, ScoringConfig
from townsquare.scoring.model.results import ScoreResult, TierDecision

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




# ------------------------------------------------------------- suggestions (old suggestions.py)

@dataclass
class Suggestion:
    metric: str
    label_en: str
    label_zh: str
    current: float
    median: float
    top_quartile: float | None
    points: float
    text_en: str
    text_zh: str

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))


def suggest_all(results: list[ScoreResult], config: ScoringConfig) -> dict[Any, list[Suggestion]]:
    """`suggest` for every scored result at once (one re-scoring call per peer group)."""
    groups: dict[str, list[ScoreResult]] = {}
    for result in results:
        if result.state == "scored":
            groups.setdefault(result.peer_key, []).append(result)
    out: dict[Any, list[Suggestion]] = {}
    for members in groups.values():
        ctx = _context(members[0], results, config)
        plans = [(r, _behind(r, ctx, config)) for r in members]
        base = columns([r.metrics for r in members])
        # variant v is member owner[v] with metric changed[v] set to value[v] ("" = unchanged)
        owner: list[int] = []
        changed: list[str] = []
        value: list[float] = []
        for i, (_, behind) in enumerate(plans):
            owner.append(i)
            changed.append("")
            value.append(0.0)
            for spec, _, median in behind:
                owner.append(i)
                changed.append(spec.name)
                value.append(median)
        old = goodness_of(_take(base, owner), ctx, config)
        variants = _take(base, owner)
        names, values = np.array(changed), np.array(value)
        for spec in METRICS:
            mask = names == spec.name
            if mask.any():
                variants[spec.name] = np.where(mask, values, variants[spec.name])
        overall = _score_rows(variants, ctx, config, old)["overall"]
        at = 0
        for result, behind in plans:
            out[result.miniapp_id] = _advice(behind, overall[at:at + len(behind) + 1], ctx)
            at += len(behind) + 1
    return out


def _behind(result: ScoreResult, ctx: PeerContext,
            config: ScoringConfig) -> list[tuple[MetricSpec, float, float]]:
    """(spec, current, median) for each judged metric where `result` is worse than the median."""
    behind = []
    for spec in METRICS:
        if config.metric_weights.get(spec.name, 0) <= 0 and not _capping(spec, config):
            continue
        current = result.metrics.get(spec.name)
        median = ctx.benchmarks[spec.name]["median"]
        if current is None or median is None:
            continue
        if spec.denominator and not result.metrics.get(spec.denominator):
            continue  # nothing observed: nothing to catch up on
        if current < median if spec.higher_is_better else current > median:
            behind.append((spec, float(current), float(median)))
    return behind


def _advice(behind: list[tuple[MetricSpec, float, float]], overall: Any,
            ctx: PeerContext) -> list[Suggestion]:
    """Suggestions from re-scored overalls: overall[0] unchanged, overall[k] the k-th variant."""
    out: list[Suggestion] = []
    for k, (spec, current, median) in enumerate(behind, start=1):
        points = round(float(overall[k]) - float(overall[0]), 2)
        if points > 0:
            top = ctx.benchmarks[spec.name]["top_quartile"]
            out.append(_suggestion(spec, current, median, top, points))
    out.sort(key=lambda s: (-s.points, s.metric))
    return out


def _capping(spec: MetricSpec, config: ScoringConfig) -> bool:
    return any(rule.metric == spec.name for rule in config.caps)


_CACHE: dict = {}


def _context(result: ScoreResult, peers: list[ScoreResult], config: ScoringConfig) -> PeerContext:
    """The peer context `result` was scored against, rebuilt from the peers' inputs.

    Cached per peers list, so suggesting for a whole category builds each group once.
    """
    key = (id(peers), result.peer_key, id(config))
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is peers:
        return hit[1]
    cat, _, city = result.peer_key.partition(":")
    members = [
        {**p.metrics, "miniapp_id": p.miniapp_id}
        for p in peers
        if p.state == "scored" and p.category_code == cat
        and (result.peer_group == "category" or p.city == city)
        and is_sufficient(p.metrics, config)
    ]
    if all(p.miniapp_id != result.miniapp_id for p in peers):
        members.append({**result.metrics, "miniapp_id": result.miniapp_id})
    members.sort(key=lambda m: str(m["miniapp_id"]))
    ctx = build_context(members, key=result.peer_key, kind=result.peer_group, config=config)
    if len(_CACHE) > 256:
        _CACHE.clear()
    _CACHE[key] = (peers, ctx)
    return ctx


# ------------------------------------------------------------------ words


def _value(spec: MetricSpec, value: float, zh: bool = False) -> str:
    if spec.unit == "%":
        return f"{value:.1%}"
    if spec.unit == "fen":
        return f"¥{value / 100:,.0f}"
    if spec.unit == "★":
        return f"{value:.2f}★"
    if spec.unit == "s":
        if value >= 120:
            return f"{value / 60:.0f} 分钟" if zh else f"{value / 60:.0f} min"
        return f"{value:.0f} 秒" if zh else f"{value:.0f} s"
    if spec.kind == "mean" or (not math.isclose(value, round(value))):
        return f"{value:,.1f}"
    return f"{value:,.0f}"


def _suggestion(spec: MetricSpec, current: float, median: float, top: float | None,
                points: float) -> Suggestion:
    up = spec.higher_is_better
    top_en = f" (top quartile: {_value(spec, top)})" if top is not None else ""
    top_zh = f"（前 25% 为 {_value(spec, top, True)}）" if top is not None else ""
    verb_en = "Raise" if up else "Bring down"
    verb_zh = "提升" if up else "降低"
    text_en = (
        f"{verb_en} your {spec.label_en} from {_value(spec, current)} to the category median "
        f"of {_value(spec, median)}{top_en}: about +{points:.1f} points overall."
    )
    text_zh = (
        f"把{spec.label_zh}从 {_value(spec, current, True)} {verb_zh}到同类中位数 "
        f"{_value(spec, median, True)}{top_zh}，预计总分 +{points:.1f}。"
    )
    return Suggestion(
        metric=spec.name, label_en=spec.label_en, label_zh=spec.label_zh, current=current,
        median=median, top_quartile=top, points=points, text_en=text_en, text_zh=text_zh,
    )


# ------------------------------------------------------------------ tiers (old tiers.py)


def assign_tiers(results: list[ScoreResult], config: ScoringConfig) -> dict[Any, Any]:
    """miniapp_id → TierDecision for every result (unscored ones get tier None)."""
    by_category: dict[str, list[ScoreResult]] = defaultdict(list)
    for result in results:
        if result.state == "scored":
            by_category[result.category_code].append(result)
    decisions: dict[Any, Any] = {}  # miniapp_id → TierDecision
    for members in by_category.values():
        members.sort(key=lambda r: (-r.overall, str(r.miniapp_id)))
        size = len(members)
        rank = 0
        for position, result in enumerate(members, start=1):
            if position == 1 or result.overall != members[position - 2].overall:
                rank = position  # ties share the better rank
            percentile = round(100.0 * (size - rank + 0.5) / size, 2)
            tier = next(t for t in TIERS if not _unmet(t, result, percentile, config))
            above = TIERS[TIERS.index(tier) - 1] if tier != TIERS[0] else None
            decisions[result.miniapp_id] = TierDecision(
                miniapp_id=result.miniapp_id, tier=tier, rank=rank, percentile=percentile,
                category_size=size, next_tier=above,
                unmet=_unmet(above, result, percentile, config) if above else [],
            )
    for result in results:
        if result.state != "scored":
            decisions[result.miniapp_id] = TierDecision(
                miniapp_id=result.miniapp_id, tier=None, rank=None, percentile=None,
                category_size=len(by_category.get(result.category_code, [])), next_tier=None,
                unmet=[_data_requirement(result, config)],
            )
    return decisions


def _unmet(tier: str, result: ScoreResult, percentile: float,
           config: ScoringConfig) -> list[dict[str, str]]:
    """What `result` lacks for `tier` (empty when it qualifies)."""
    missing: list[dict[str, str]] = []
    floor = config.tier_percentiles.get(tier, 0.0)
    if percentile < floor:
        top, now = _fmt(100 - floor), _fmt(100 - percentile)
        missing.append({
            "code": "percentile",
            "en": f"Rank in the top {top}% of your category (now top {now}%).",
            "zh": f"排名进入同类前 {top}%（目前为前 {now}%）。",
        })
    min_orders = config.tier_min_orders.get(tier)
    orders = int(result.metrics.get("orders") or 0)
    if min_orders and orders < min_orders:
        missing.append({
            "code": "min_orders",
            "en": f"At least {min_orders:g} orders in the window (now {orders}).",
            "zh": f"统计周期内至少 {min_orders:g} 个订单（目前 {orders} 个）。",
        })
    min_quality = config.tier_min_quality.get(tier)
    quality = result.pillars.get("quality", 0.0)
    if min_quality and quality < min_quality:
        missing.append({
            "code": "min_quality",
            "en": f"A quality score of at least {min_quality:g} (now {quality:.1f}).",
            "zh": f"服务质量分至少 {min_quality:g} 分（目前 {quality:.1f} 分）。",
        })
    if tier in config.tier_no_cap and result.cap:
        missing.append({
            "code": "no_cap",
            "en": f"No quality cap: {result.cap}",
            "zh": f"不触发质量上限：{result.cap_zh or result.cap}",
        })
    return missing


def _data_requirement(result: ScoreResult, config: ScoringConfig) -> dict[str, str]:
    en, zh = data_shortfall(result.metrics, config) or (result.note or "", result.note_zh or "")
    return {"code": "data", "en": en, "zh": zh}


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value - round(value)) < 0.05 else f"{value:.1f}"
