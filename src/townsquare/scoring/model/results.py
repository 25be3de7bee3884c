"""What the score model hands back: a score with everything that explains it, and a tier."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from townsquare.scoring.model.catalogue import METRICS, PILLARS
from townsquare.scoring.model.config import ScoringConfig
from townsquare.scoring.model.inputs import data_shortfall
from townsquare.scoring.model.peers import PeerContext, cap_text
from townsquare.scoring.model.values import JSON, JSONObject, MetricValue, MiniAppKey, Row


@dataclass
class ScoreResult:
    """One mini-app's score with everything needed to explain it."""

    miniapp_id: MiniAppKey
    category_code: str
    state: str  # "scored" | "insufficient_data"
    overall: float | None
    pillars: dict[str, float]
    metrics: dict[str, MetricValue]  # the inputs, as measured
    adjusted: dict[str, float | None]  # after shrinkage / confidence bounds
    benchmarks: dict[str, dict[str, float | None]]  # peer group's {median, p25, p75, top, prior}
    contributions: dict[str, float]  # overall points each metric brought
    peer_group: str  # "category" | "category:city"
    cap: str | None  # why the overall was capped (English), None when not
    model_version: str
    merchant_id: MetricValue = None
    city: str = ""
    peer_key: str = ""  # e.g. "food" or "food:杭州"
    peer_count: int = 0
    metric_scores: dict[str, float] = field(default_factory=dict)  # 0..100 per metric
    cap_zh: str | None = None
    # why a mini-app is not scored yet ("insufficient_data"), English and Chinese
    note: str | None = None
    note_zh: str | None = None
    # the overall's interval (about 80 %, `ScoringConfig.interval_z`): where the score could
    # lie given how few observations it rests on; None when not scored
    score_low: float | None = None
    score_high: float | None = None

    def to_json(self, shared: dict[int, tuple[object, JSON]] | None = None) -> JSONObject:
        """Plain JSON values. `shared`, a dict kept across calls, converts the benchmarks of a
        peer group (one object shared by all its members) only once."""
        if shared is None:
            plain: JSONObject = _plain(dict(vars(self)))
            return plain
        out: JSONObject = {}
        for name, value in vars(self).items():
            if name == "benchmarks":
                hit = shared.get(id(value))
                if hit is None or hit[0] is not value:
                    hit = shared[id(value)] = (value, _plain(value))
                out[name] = hit[1]
            else:
                out[name] = _plain(value)
        return out


@dataclass
class TierDecision:
    """A mini-app's tier in this cycle and what the next tier up still needs."""

    miniapp_id: MiniAppKey
    tier: str | None  # None: not scored yet
    rank: int | None  # 1 = best in its category
    percentile: float | None  # 0..100 within its category, higher is better
    category_size: int
    next_tier: str | None
    unmet: list[dict[str, str]]  # [{"code", "en", "zh"}] for the next tier

    def to_json(self) -> JSONObject:
        plain: JSONObject = _plain(dict(vars(self)))
        return plain


def _plain(value: Any) -> Any:  # JSON, from Any of the dataclasses' values
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def py_round(values: np.ndarray, digits: int) -> np.ndarray:
    """Python's round(v, digits) of every element.

    NumPy's round (rint of v × 10^digits) agrees with Python's correctly rounded decimal except
    where v × 10^digits lies next to a half, so those few elements are rounded by Python.
    """
    values = np.asarray(values, dtype=np.float64)
    out = np.round(values, digits)
    scaled = values * 10.0**digits
    with np.errstate(invalid="ignore"):
        near = np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6
    for i in np.flatnonzero(near):
        out[i] = round(float(values[i]), digits)
    return out


def _plain_list(values: np.ndarray) -> list[Any]:  # floats or None
    return [None if v != v else v for v in values.tolist()]  # v != v: NaN


@dataclass
class Scores:
    """Every mini-app's score as columns, rows as the metrics came (`score.score_table`).

    Arrays shaped (len(METRICS), n) follow METRICS' order and (len(PILLARS), n) PILLARS'.
    The rounded arrays are what a ScoreResult shows; the raw ones are what re-scoring (the
    suggestions) builds on. `results()` makes the ScoreResult objects, only when asked.
    """

    config: ScoringConfig
    source: Source  # the metrics rows, their float columns and grouping keys
    cols: dict[str, np.ndarray]
    scored: np.ndarray  # bool
    category: np.ndarray  # an integer code per category_code
    group: np.ndarray  # index into contexts (scored: its peer group; else its category), -1
    contexts: list[PeerContext]
    raw_overall: np.ndarray
    raw_scores: np.ndarray
    cap_rule: np.ndarray  # index in config.caps of the rule that capped the overall, -1
    overall: np.ndarray
    pillars: np.ndarray
    adjusted: np.ndarray
    contributions: np.ndarray
    metric_scores: np.ndarray
    low: np.ndarray | None = None  # the overall's interval, rounded (NaN: not scored)
    high: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.scored)

    def cap(self, i: int) -> tuple[str, str] | None:
        """Why row i's overall was capped (English, Chinese), None when it was not."""
        if self.cap_rule[i] < 0:
            return None
        rule = self.config.caps[int(self.cap_rule[i])]
        return cap_text(rule, float(self.cols[rule.metric][i]), self.contexts[self.group[i]])

    def results(self) -> list[ScoreResult]:
        """The ScoreResult of every row, ordered by str(miniapp_id)."""
        source, config = self.source, self.config
        ids, merchants = source.ids(), source.column("merchant_id")
        categories, cities = source.column("category_code"), source.column("city")
        names = [spec.name for spec in METRICS]
        overall = _plain_list(self.overall)
        pillars = dict(zip(PILLARS, (_plain_list(v) for v in self.pillars), strict=True))
        adjusted = dict(zip(names, (_plain_list(v) for v in self.adjusted), strict=True))
        parts = dict(zip(names, (_plain_list(v) for v in self.contributions), strict=True))
        scores = dict(zip(names, (_plain_list(v) for v in self.metric_scores), strict=True))
        low = _plain_list(self.low) if self.low is not None else [None] * len(self)
        high = _plain_list(self.high) if self.high is not None else [None] * len(self)
        out: list[ScoreResult] = []
        every = source.inputs()
        for i in source.order.tolist():
            inputs = every[i]
            ctx = self.contexts[self.group[i]] if self.group[i] >= 0 else None
            common: dict[str, Any] = {
                "miniapp_id": ids[i], "category_code": categories[i], "metrics": inputs,
                "model_version": config.version, "merchant_id": merchants[i],
                "city": cities[i] or "",
            }
            if not self.scored[i]:
                note = data_shortfall(inputs, config) or ("", "")
                out.append(ScoreResult(
                    **common, state="insufficient_data", overall=None, pillars={},
                    adjusted={}, benchmarks=ctx.benchmarks if ctx else {}, contributions={},
                    peer_group="category", cap=None, peer_key=categories[i],
                    peer_count=ctx.size if ctx else 0, note=note[0], note_zh=note[1],
                ))
                continue
            assert ctx is not None  # a scored row has its peer group
            cap = self.cap(i)
            out.append(ScoreResult(
                **common, state="scored", overall=overall[i],
                pillars={p: v[i] for p, v in pillars.items()},
                adjusted={m: v[i] for m, v in adjusted.items()},
                benchmarks=ctx.benchmarks,  # shared by the whole peer group
                contributions={m: v[i] for m, v in parts.items()},
                peer_group=ctx.kind, cap=cap[0] if cap else None,
                cap_zh=cap[1] if cap else None, peer_key=ctx.key, peer_count=ctx.size,
                metric_scores={m: v[i] for m, v in scores.items()},
                score_low=low[i], score_high=high[i],
            ))
        return out


def codes(values: pa.Array) -> tuple[np.ndarray, list[str]]:
    """Integer codes of an Arrow string array's values and the distinct values they stand for."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], values.type)
    encoded = pc.dictionary_encode(values, null_encoding="encode")
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, encoded.dictionary.to_pylist()


@dataclass
class Source:
    """The metrics rows as given (score.score_table's input): float columns, grouping keys,
    the inputs, and `order`, the positions in str(miniapp_id) order (the order results are
    listed and ties ranked in)."""

    size: int
    cols: dict[str, np.ndarray]
    category: pa.Array
    city: pa.Array
    order: np.ndarray
    table: pa.Table | None = None  # an Arrow source...
    rows: Sequence[Row] | None = None  # ...or the rows as given

    @classmethod
    def of(cls, data: pa.Table | Sequence[Row], names: tuple[str, ...],
           columns: Callable[[list[Row]], dict[str, np.ndarray]]) -> Source:
        """From Arrow or from row dicts; `names` are the float columns the model reads (made
        by `columns` from dicts, so both ways give the same floats)."""
        if isinstance(data, pa.Table):
            order = pc.sort_indices(pc.cast(data["miniapp_id"], pa.string()))
            cols = {name: _float_column(data, name) for name in names}
            city = pc.fill_null(data["city"], "") if "city" in data.column_names else pa.array(
                [""] * data.num_rows, pa.string())
            return cls(data.num_rows, cols, data["category_code"], city,
                       order.to_numpy().astype(np.int64), table=data)
        rows = list(data)
        order = sorted(range(len(rows)), key=lambda i: str(rows[i]["miniapp_id"]))
        category = pa.array([r["category_code"] for r in rows], pa.string())
        city = pa.array([r.get("city") or "" for r in rows], pa.string())
        return cls(len(rows), columns(rows), category, city, np.array(order, dtype=np.int64),
                   rows=rows)

    def rank(self) -> np.ndarray:
        """Each row's place in str(miniapp_id) order."""
        rank = np.empty(self.size, dtype=np.int64)
        rank[self.order] = np.arange(self.size)
        return rank

    def inputs(self) -> list[dict[str, MetricValue]]:
        """Each row's metrics as measured (the ids left out), as plain Python values."""
        rows = self.rows if self.rows is not None else self._table().to_pylist()
        return [{k: v for k, v in row.items() if k not in _IDS} for row in rows]

    def ids(self) -> list[MiniAppKey]:
        """Each row's miniapp_id."""
        return cast(list[MiniAppKey], self.column("miniapp_id"))

    def column(self, name: str) -> list[MetricValue]:
        if self.rows is not None:
            return [row.get(name) for row in self.rows]
        table = self._table()
        if name not in table.column_names:
            return [None] * self.size
        values: list[MetricValue] = table[name].to_pylist()
        return values

    def _table(self) -> pa.Table:
        assert self.table is not None  # one of rows and table is given
        return self.table


def _float_column(table: pa.Table, name: str) -> np.ndarray:
    if name not in table.column_names:
        return np.full(table.num_rows, np.nan)
    return np.asarray(pc.cast(table[name], pa.float64()).to_numpy(), dtype=np.float64)


_IDS = ("miniapp_id", "merchant_id")
