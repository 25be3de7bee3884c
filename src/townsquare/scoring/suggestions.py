"""Suggestions: where a mini-app falls behind its peers, and what catching up is worth.

For every metric worse than the peer median, the mini-app is re-scored by the model itself with
that one metric set to the median (same peers, same benchmarks); the difference in overall score
is the points it would gain. Suggestions come sorted by points, largest first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from townsquare.scoring.metrics import METRICS, MetricSpec
from townsquare.scoring.model import (
    PeerContext,
    ScoreResult,
    ScoringConfig,
    _score_rows,
    _take,
    build_context,
    columns,
    goodness_of,
    is_sufficient,
    score_against,
)


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

    def to_json(self) -> dict[str, Any]:
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


_CACHE: dict[tuple[int, str, int], tuple[list, PeerContext]] = {}


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
