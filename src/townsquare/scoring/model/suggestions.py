"""Suggestions: where a mini-app falls behind its peers, and what catching up is worth.

For every metric worse than the peer median, the mini-app is re-scored by the model itself with
that one metric set to the median (same peers, same benchmarks); the difference in overall score
is the points it would gain. Suggestions come sorted by points, largest first.

`advise` does it for a whole population as columns (per metric, one vectorised re-scoring of
every mini-app behind its peers' median); `suggest` for one mini-app.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from townsquare.scoring.model.catalogue import METRICS, MetricSpec
from townsquare.scoring.model.config import ScoringConfig
from townsquare.scoring.model.inputs import columns, is_sufficient
from townsquare.scoring.model.peers import PeerContext, Peers, build_context
from townsquare.scoring.model.results import ScoreResult, Scores, Source, py_round
from townsquare.scoring.model.score import (
    _caps,
    _combine,
    _metric_score,
    _score_rows,
    goodness_of,
    member_goodness,
    score_against,
)
from townsquare.scoring.model.values import JSONObject, MiniAppKey


@dataclass
class Suggestion:
    metric: str
    label_en: str
    label_zh: str
    current: float
    median: float
    top_quartile: float | None
    points: float  # overall points gained by reaching the median
    text_en: str
    text_zh: str

    def to_json(self) -> JSONObject:
        return dict(vars(self))


def suggest(result: ScoreResult, *, peers: list[ScoreResult],
            config: ScoringConfig) -> list[Suggestion]:
    """Prioritised suggestions for `result`; `peers` may be its whole category (it is filtered)."""
    if result.state != "scored":
        return []
    ctx = _context(result, peers, config)
    behind = _behind(result, ctx, config)
    if not behind:
        return []
    # one call re-scores the unchanged row and every "this metric at the median" variant
    variants = [result.metrics] + [{**result.metrics, spec.name: median}
                                   for spec, _, median in behind]
    overall = score_against(variants, ctx, config, as_member=result.metrics)["overall"]
    return _advice(behind, overall, ctx)


@dataclass
class Advice:
    """Every suggestion of a population as a long table: by row, then by priority."""

    row: np.ndarray  # the row (of the Scores) it is for
    metric: np.ndarray  # index into METRICS
    current: np.ndarray
    median: np.ndarray
    top_quartile: np.ndarray  # NaN: none
    points: np.ndarray  # overall points gained by reaching the median (rounded, > 0)

    def suggestions(self, ids: Sequence[MiniAppKey],
                    scored: np.ndarray) -> dict[MiniAppKey, list[Suggestion]]:
        """miniapp_id → its Suggestions (an empty list for a scored app with none)."""
        scored_rows = np.flatnonzero(scored).tolist()
        out: dict[MiniAppKey, list[Suggestion]] = {ids[i]: [] for i in scored_rows}
        columns = zip(self.row.tolist(), self.metric.tolist(), self.current.tolist(),
                      self.median.tolist(), self.top_quartile.tolist(), self.points.tolist(),
                      strict=True)
        for row, m, current, median, top, points in columns:
            out[ids[row]].append(
                _suggestion(METRICS[m], current, median, None if top != top else top, points)
            )
        return out


def advise(scores: Scores) -> Advice:
    """The suggestions of every scored row: for each judged metric, the rows behind their peer
    median are re-scored at once, with the model, with that metric at the median."""
    config, cols = scores.config, scores.cols
    rows = np.flatnonzero(scores.scored)
    peers = Peers(scores.contexts, scores.group[rows])
    parts: list[tuple[np.ndarray, ...]] = []
    for m, spec in enumerate(METRICS):
        if config.metric_weights.get(spec.name, 0) <= 0 and not _capping(spec, config):
            continue
        bench = [ctx.benchmarks[spec.name] for ctx in scores.contexts]
        median = _per_row(peers, [b["median"] for b in bench])  # NaN: no median
        current = cols[spec.name][rows]
        observed = ~np.isnan(current)
        if spec.denominator:  # nothing observed: nothing to catch up on
            n = cols[spec.denominator][rows]
            observed &= (n != 0) & ~np.isnan(n)
        with np.errstate(invalid="ignore"):
            behind = observed & (current < median if spec.higher_is_better else current > median)
        at = np.flatnonzero(behind)
        if not at.size:
            continue
        owners = rows[at]
        overall = rescore(scores, owners, peers.subset(at), spec, median[at])
        parts.append((
            owners, np.full(at.size, m), current[at], median[at],
            _per_row(peers, [b["top_quartile"] for b in bench])[at],
            py_round(overall - scores.raw_overall[owners], 2),
        ))
    if not parts:
        empty = np.zeros(0)
        return Advice(empty.astype(np.int64), empty.astype(np.int64), empty, empty, empty, empty)
    row, metric, current, median, top, points = (
        np.concatenate(c) for c in zip(*parts, strict=True)
    )
    keep = points > 0
    row, metric, current, median, top, points = (
        a[keep] for a in (row, metric, current, median, top, points)
    )
    # per row, most points first, then by the metric's name
    by_name = np.argsort(np.argsort([spec.name for spec in METRICS]))
    at = np.lexsort((by_name[metric], -points, row))
    return Advice(row[at], metric[at], current[at], median[at], top[at], points[at])


def _per_row(peers: Peers, values: list[float | None]) -> np.ndarray:
    floats = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    per_row: np.ndarray = floats[peers.group]
    return per_row


def rescore(scores: Scores, rows: np.ndarray, ctx: PeerContext | Peers, changed: MetricSpec,
            value: float | np.ndarray) -> np.ndarray:
    """The overall of `rows` (members of ctx) with metric `changed` set to `value`.

    Only the metrics that read the changed column (itself, and the rates it is the
    denominator of) are scored again; the others keep the rows' scores. Pillars, overall and
    caps then go through the model's own functions, so the result is exactly what scoring the
    changed row from scratch gives.
    """
    config, cols = scores.config, scores.cols
    affected = [s for s in METRICS if changed.name in (s.name, s.denominator)]
    needed = {changed.name} | {s.name for s in affected} | {
        s.denominator for s in METRICS if s.denominator} | {rule.metric for rule in config.caps} | {
        "days_active"}  # counts are compared per active day
    original = {name: cols[name][rows] for name in needed}
    variant = {**original, changed.name: np.broadcast_to(value, rows.shape).astype(np.float64)}
    metric_scores = {}
    for m, spec in enumerate(METRICS):
        if spec in affected:
            old = member_goodness(spec, original, ctx, config)
            metric_scores[spec.name] = _metric_score(spec, variant, ctx, config, old)[1]
        else:
            metric_scores[spec.name] = scores.raw_scores[m, rows]
    overall = _combine(metric_scores, rows.size, config)[2]
    return _caps(variant, ctx, config, overall)[0]


def suggest_all(results: list[ScoreResult],
                config: ScoringConfig) -> dict[MiniAppKey, list[Suggestion]]:
    """`suggest` for every scored result at once (`advise` on their rebuilt peer groups)."""
    scores = _rescored([r for r in results if r.state == "scored"], results, config)
    ids = scores.source.ids()
    return advise(scores).suggestions(ids, scores.scored)


def _rescored(scored: list[ScoreResult], everyone: list[ScoreResult],
              config: ScoringConfig) -> Scores:
    """The columnar scores of `scored` rebuilt from their inputs and peer groups."""
    rows = [{**r.metrics, "miniapp_id": r.miniapp_id} for r in scored]
    cols = columns(rows)
    contexts: list[PeerContext] = []
    index: dict[str, int] = {}
    group = np.zeros(len(scored), dtype=np.int64)
    for i, result in enumerate(scored):
        if result.peer_key not in index:
            index[result.peer_key] = len(contexts)
            contexts.append(_context(result, everyone, config))
        group[i] = index[result.peer_key]
    n = len(scored)
    peers = Peers(contexts, group)
    out = _score_rows(cols, peers, config, goodness_of(cols, peers, config))
    raw_overall = out["overall"]
    raw_scores = np.array([out["scores"][spec.name] for spec in METRICS]).reshape(len(METRICS), n)
    source = Source(n, cols, None, None, np.arange(n), rows=rows)
    return Scores(
        config=config, source=source, cols=cols, scored=np.ones(n, dtype=bool),
        category=np.zeros(n, dtype=np.int64), group=group,
        contexts=contexts, raw_overall=raw_overall, raw_scores=raw_scores,
        cap_rule=np.full(n, -1), overall=raw_overall, pillars=np.zeros((3, n)),
        adjusted=raw_scores, contributions=raw_scores, metric_scores=raw_scores,
    )


def _behind(result: ScoreResult, ctx: PeerContext,
            config: ScoringConfig) -> list[tuple[MetricSpec, float, float]]:
    """(spec, current, median) for each judged metric where `result` is worse than the median."""
    behind = []
    for spec in METRICS:
        if config.metric_weights.get(spec.name, 0) <= 0 and not _capping(spec, config):
            continue
        measured = result.metrics.get(spec.name)
        median = ctx.benchmarks[spec.name]["median"]
        if measured is None or median is None:
            continue
        if spec.denominator and not result.metrics.get(spec.denominator):
            continue  # nothing observed: nothing to catch up on
        current = float(measured)
        if current < median if spec.higher_is_better else current > median:
            behind.append((spec, current, float(median)))
    return behind


def _advice(behind: list[tuple[MetricSpec, float, float]], overall: np.ndarray,
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


_CACHE: dict[tuple[int, str, int], tuple[list[ScoreResult], PeerContext]] = {}


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
