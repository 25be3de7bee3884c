"""The score model's inputs: the metric columns it reads of a metrics row, and whether a
mini-app has enough data to be scored at all."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from townsquare.scoring.model.catalogue import METRICS
from townsquare.scoring.model.config import ScoringConfig
from townsquare.scoring.model.values import Row


def _denominators() -> list[str]:
    return sorted({s.denominator for s in METRICS if s.denominator})


# what the model reads of a metrics row (the other columns are kept as the inputs shown)
INPUT_COLUMNS = tuple(dict.fromkeys([s.name for s in METRICS] + _denominators() + ["days_active"]))


def _column(rows: Sequence[Row], name: str) -> np.ndarray:
    return np.array([r.get(name) for r in rows], dtype=np.float64)  # None → NaN


Columns = dict[str, np.ndarray]


def columns(rows: Sequence[Row] | Columns) -> Columns:
    """The model's input columns as float arrays (rows may already be columns)."""
    if isinstance(rows, dict):
        return rows
    return {name: _column(rows, name) for name in INPUT_COLUMNS}


def take(cols: Columns, index: Sequence[int] | np.ndarray) -> Columns:
    at = np.asarray(index, dtype=np.int64)
    return {name: values[at] for name, values in cols.items()}


def length(cols: Columns) -> int:
    return len(next(iter(cols.values())))


def data_shortfall(row: Row, config: ScoringConfig) -> tuple[str, str] | None:
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


def is_sufficient(row: Row, config: ScoringConfig) -> bool:
    return data_shortfall(row, config) is None


def sufficient(cols: Columns, config: ScoringConfig) -> np.ndarray:
    """`is_sufficient` for every row of the columns at once."""

    def whole(name: str) -> np.ndarray:  # int(value or 0)
        truncated: np.ndarray = np.trunc(np.nan_to_num(cols[name], nan=0.0))
        return truncated

    too_little = (whole("orders") < config.min_orders) & (whole("visits") < config.min_visits)
    enough: np.ndarray = ~too_little & ~(whole("days_active") < config.min_days_active)
    return enough
