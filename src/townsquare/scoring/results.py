"""What the score model hands back: a score with everything that explains it, and a tier."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class ScoreResult:
    """One mini-app's score with everything needed to explain it."""

    miniapp_id: Any
    category_code: str
    state: str  # "scored" | "insufficient_data"
    overall: float | None
    pillars: dict[str, float]
    metrics: dict[str, Any]  # the inputs, as measured
    adjusted: dict[str, float | None]  # after shrinkage / confidence bounds
    benchmarks: dict[str, dict[str, float | None]]  # peer group's {median, p25, p75, top, prior}
    contributions: dict[str, float]  # overall points each metric brought
    peer_group: str  # "category" | "category:city"
    cap: str | None  # why the overall was capped (English), None when not
    model_version: str
    merchant_id: Any = None
    city: str = ""
    peer_key: str = ""  # e.g. "food" or "food:杭州"
    peer_count: int = 0
    metric_scores: dict[str, float] = field(default_factory=dict)  # 0..100 per metric
    cap_zh: str | None = None
    # why a mini-app is not scored yet ("insufficient_data"), English and Chinese
    note: str | None = None
    note_zh: str | None = None

    def to_json(self) -> dict[str, Any]:
        return _plain(dict(vars(self)))


@dataclass
class TierDecision:
    """A mini-app's tier in this cycle and what the next tier up still needs."""

    miniapp_id: Any
    tier: str | None  # None: not scored yet
    rank: int | None  # 1 = best in its category
    percentile: float | None  # 0..100 within its category, higher is better
    category_size: int
    next_tier: str | None
    unmet: list[dict[str, str]]  # [{"code", "en", "zh"}] for the next tier

    def to_json(self) -> dict[str, Any]:
        return _plain(dict(vars(self)))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
