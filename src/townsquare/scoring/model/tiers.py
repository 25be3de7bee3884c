"""Tiers: rank scored mini-apps within their category and give S/A/B/C/D by percentile.

In a category of at most `absolute_tiers_upto` scored mini-apps a percentile says little (one
app more or less moves everyone by ten points), so there the tiers go by absolute scores
(`tier_scores`) instead.

The top tiers also have requirements (enough orders, a quality score, no cap), like seller
standards on large marketplaces; a mini-app that misses them drops to the best tier it meets.
Every decision says, in plain words, what the next tier up still needs.

The ranking is columnar (`tier_table`: one sort for the whole population); the decisions with
their words (`TierDecision`) are made from it only when asked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from townsquare.scoring.model.catalogue import TIERS
from townsquare.scoring.model.config import ScoringConfig
from townsquare.scoring.model.inputs import data_shortfall
from townsquare.scoring.model.results import ScoreResult, Scores, TierDecision, py_round
from townsquare.scoring.model.values import MiniAppKey

# what a tier can require, in the order the decision lists what is missing
NEEDS = ("percentile", "min_orders", "min_quality", "no_cap", "score")


@dataclass
class Tiers:
    """Every row's tier (rows as in the Scores they were ranked from)."""

    tier: np.ndarray  # index into TIERS, -1: not scored
    rank: np.ndarray  # 1 = best in its category (ties share the better rank), 0: not scored
    percentile: np.ndarray  # 0..100 within the category, higher is better; NaN: not scored
    category_size: np.ndarray  # scored mini-apps in the row's category
    needs: np.ndarray  # (len(NEEDS), n) bool: what the next tier up still needs


def tier_table(*, category: np.ndarray, scored: np.ndarray, overall: np.ndarray,
               quality: np.ndarray, orders: np.ndarray, capped: np.ndarray,
               config: ScoringConfig, order_key: np.ndarray | None = None) -> Tiers:
    """Rank the scored rows within their category (integer codes) and give each its tier.

    `overall` and `quality` are the rounded scores shown; `orders` whole numbers; ties on the
    overall are ranked by `order_key` (the place in str(miniapp_id) order; default the row's).
    """
    n = len(scored)
    key = np.arange(n) if order_key is None else order_key
    at = np.flatnonzero(scored)
    # by category, best overall first, then the key (np.lexsort: the last key sorts first)
    at = at[np.lexsort((key[at], -overall[at], category[at]))]
    cats = category[at]
    first = np.ones(len(at), dtype=bool)
    first[1:] = cats[1:] != cats[:-1]
    start = np.maximum.accumulate(np.where(first, np.arange(len(at)), 0))
    sizes = np.bincount(cats, minlength=int(category.max()) + 1 if n else 0)  # per category
    size = sizes[cats]
    changed = first.copy()
    changed[1:] |= overall[at][1:] != overall[at][:-1]
    # ties share the better rank: the position where the run of equal overalls began
    rank = np.maximum.accumulate(np.where(changed, np.arange(len(at)), 0)) - start + 1
    percentile = py_round(100.0 * (size - rank + 0.5) / size, 2)

    small = size <= config.absolute_tiers_upto
    unmet = [_needs(t, percentile, orders[at], quality[at], capped[at], config,
                    overall[at], small) for t in TIERS]
    meets = np.stack([~missing.any(axis=0) for missing in unmet])
    if len(at) and not meets.any(axis=0).all():
        raise StopIteration("no tier's requirements are met")  # as next() on no tier
    tier = np.argmax(meets, axis=0)
    needs = np.zeros((len(NEEDS), len(at)), dtype=bool)
    for t in range(1, len(TIERS)):
        here = tier == t
        needs[:, here] = unmet[t - 1][:, here]

    out = Tiers(
        tier=np.full(n, -1, dtype=np.int64), rank=np.zeros(n, dtype=np.int64),
        percentile=np.full(n, np.nan), category_size=np.zeros(n, dtype=np.int64),
        needs=np.zeros((len(NEEDS), n), dtype=bool),
    )
    out.tier[at], out.rank[at], out.percentile[at], out.needs[:, at] = tier, rank, percentile, needs
    out.category_size[:] = sizes[category]
    return out


def _needs(tier: str, percentile: np.ndarray, orders: np.ndarray, quality: np.ndarray,
           capped: np.ndarray, config: ScoringConfig, overall: np.ndarray,
           small: np.ndarray) -> np.ndarray:
    """(len(NEEDS), n) bool: which of the tier's requirements each row misses (`small`: rows
    of a small category, tiered by absolute score instead of percentile)."""
    none = np.zeros(len(percentile), dtype=bool)
    min_orders = config.tier_min_orders.get(tier)
    min_quality = config.tier_min_quality.get(tier)
    return np.stack([
        ~small & (percentile < config.tier_percentiles.get(tier, 0.0)),
        orders < min_orders if min_orders else none,
        quality < min_quality if min_quality else none,
        capped if tier in config.tier_no_cap else none,
        small & (overall < config.tier_scores.get(tier, 0.0)),
    ])


def tiers_of(scores: Scores) -> Tiers:
    """`tier_table` of a scored population."""
    return tier_table(
        category=scores.category, scored=scores.scored, overall=scores.overall,
        quality=np.nan_to_num(scores.pillars[-1], nan=0.0),
        orders=np.trunc(np.nan_to_num(scores.cols["orders"], nan=0.0)),
        capped=scores.cap_rule >= 0, config=scores.config, order_key=scores.source.rank(),
    )


def assign_tiers(results: list[ScoreResult],
                 config: ScoringConfig) -> dict[MiniAppKey, TierDecision]:
    """miniapp_id → TierDecision for every result (unscored ones get tier None)."""
    scored = np.array([r.state == "scored" for r in results], dtype=bool)
    ids = [str(r.miniapp_id) for r in results]
    table = tier_table(
        category=_category_codes([r.category_code for r in results]), scored=scored,
        overall=np.array([r.overall if s else np.nan for r, s in zip(results, scored,
                                                                      strict=True)], float),
        quality=np.array([r.pillars.get("quality", 0.0) if s else 0.0
                          for r, s in zip(results, scored, strict=True)], float),
        orders=np.array([int(r.metrics.get("orders") or 0) for r in results], float),
        capped=np.array([bool(r.cap) for r in results], dtype=bool),
        config=config,
        order_key=np.argsort(np.argsort(np.array(ids, dtype=object), kind="stable"),
                             kind="stable") if results else None,
    )
    return decisions(table, results, config)


def decisions(table: Tiers, results: list[ScoreResult], config: ScoringConfig,
              rows: np.ndarray | None = None) -> dict[MiniAppKey, TierDecision]:
    """The TierDecision of every result, with its words; results[k] is row rows[k] of `table`
    (default: the same order)."""
    out: dict[MiniAppKey, TierDecision] = {}
    at = range(len(results)) if rows is None else rows.tolist()
    for i, result in zip(at, results, strict=True):
        t = int(table.tier[i])
        if t < 0:
            out[result.miniapp_id] = TierDecision(
                miniapp_id=result.miniapp_id, tier=None, rank=None, percentile=None,
                category_size=int(table.category_size[i]), next_tier=None,
                unmet=[_data_requirement(result, config)],
            )
            continue
        above = TIERS[t - 1] if t > 0 else None
        percentile = float(table.percentile[i])
        out[result.miniapp_id] = TierDecision(
            miniapp_id=result.miniapp_id, tier=TIERS[t], rank=int(table.rank[i]),
            percentile=percentile, category_size=int(table.category_size[i]), next_tier=above,
            unmet=_unmet(above, result, percentile, config, int(table.category_size[i]))
            if above else [],
        )
    return out


def _category_codes(values: list[str]) -> np.ndarray:
    index: dict[str, int] = {}
    return np.array([index.setdefault(v, len(index)) for v in values], dtype=np.int64)


def _unmet(tier: str, result: ScoreResult, percentile: float, config: ScoringConfig,
           category_size: int) -> list[dict[str, str]]:
    """What `result` lacks for `tier` (empty when it qualifies)."""
    missing: list[dict[str, str]] = []
    floor = config.tier_percentiles.get(tier, 0.0)
    if category_size <= config.absolute_tiers_upto:
        least, now_score = config.tier_scores.get(tier, 0.0), result.overall or 0.0
        if now_score < least:
            missing.append({
                "code": "score",
                "en": f"A score of at least {least:g} (now {now_score:.1f}); with "
                      f"{category_size} mini-apps in your category, tiers go by score, "
                      f"not rank.",
                "zh": f"总分至少 {least:g} 分（目前 {now_score:.1f} 分）；同类仅 {category_size} "
                      f"个小程序，等级按分数而非排名评定。",
            })
    elif percentile < floor:
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
