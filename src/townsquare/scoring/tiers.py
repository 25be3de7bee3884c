"""Tiers: rank scored mini-apps within their category and give S/A/B/C/D by percentile.

The top tiers also have requirements (enough orders, a quality score, no cap), like seller
standards on large marketplaces; a mini-app that misses them drops to the best tier it meets.
Every decision says, in plain words, what the next tier up still needs.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from townsquare.scoring.model_config import TIERS, ScoringConfig

if TYPE_CHECKING:
    from townsquare.scoring.model import ScoreResult


def assign_tiers(results: list[ScoreResult], config: ScoringConfig) -> dict[Any, Any]:
    """miniapp_id → TierDecision for every result (unscored ones get tier None)."""
    from townsquare.scoring.model import TierDecision

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
    from townsquare.scoring.model import data_shortfall

    en, zh = data_shortfall(result.metrics, config) or (result.note or "", result.note_zh or "")
    return {"code": "data", "en": en, "zh": zh}


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value - round(value)) < 0.05 else f"{value:.1f}"
