"""One scoring cycle's analytic part, without a database: Parquet events → metrics → scores →
tiers → suggestions. The cycle service stores its output; the benchmark writes it to Parquet."""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

Step = Callable[[str, float], None]


class CycleOutput:
    """Everything a cycle decides: columns (`scores`, `tier_table`, `advice`; rows as the
    metrics came) and, made from them on first use, the objects keyed by miniapp_id."""

    def __init__(self, scores: Any, tier_table: Any, advice: Any,
                 seconds: dict[str, float]) -> None:
        self.scores, self.tier_table, self.advice = scores, tier_table, advice
        self.seconds = seconds  # time per stage
        self.rows = len(scores)

    @functools.cached_property
    def results(self) -> list[Any]:
        """ScoreResult per mini-app, in the model's order."""
        return self.scores.results()

    @functools.cached_property
    def ids(self) -> list[Any]:
        return self.scores.source.column("miniapp_id")

    @functools.cached_property
    def tiers(self) -> dict[Any, Any]:
        """miniapp_id → TierDecision."""
        from townsquare.scoring.tiers import decisions

        return decisions(self.tier_table, self.results, self.scores.config,
                         rows=self.scores.source.order)

    @functools.cached_property
    def suggestions(self) -> dict[Any, list[Any]]:
        """miniapp_id → [Suggestion] for every scored mini-app."""
        return self.advice.suggestions(self.ids, self.scores.scored)


def evaluate(
    parquet_dir: Path,
    *,
    as_of: date,
    window_days: int,
    config: Any,
    excluded: Iterable[str] = (),
    backend: str = "duckdb",
    step: Step | None = None,
    rollups: bool = True,
) -> CycleOutput:
    """Metrics, scores, tiers and suggestions for every mini-app with events in the window
    (`rollups=False`: the activity from the events even for days the export rolled up)."""
    import time

    from townsquare.scoring import metrics, model, suggestions, tiers

    step = step or (lambda _label, _done: None)
    clock_start = time.perf_counter()
    seconds: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal clock_start
        now = time.perf_counter()
        seconds[name] = round(now - clock_start, 3)
        clock_start = now

    step("metrics", 0.0)
    table = metrics.compute(
        Path(parquet_dir),
        as_of=as_of,
        window_days=window_days,
        backend=backend,
        excluded=tuple(excluded),
        rollups=rollups,
    )
    lap("metrics")
    step("scores", 0.4)
    scores = model.score_table(table, config)
    lap("scores")
    step("tiers", 0.55)
    tier_table = tiers.tiers_of(scores)
    lap("tiers")
    step("suggestions", 0.65)
    advice = suggestions.advise(scores)  # one re-scoring per peer group and metric
    lap("suggestions")
    return CycleOutput(scores, tier_table, advice, seconds)


def jsonable(value: Any) -> Any:
    """Plain JSON values (NumPy scalars to Python, NaN and infinities to None, dates to ISO)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "to_json"):
            return jsonable(value.to_json())
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # NumPy scalar
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str | int | bool) or value is None:
        return value
    return str(value)


def attr(obj: Any, *names: str, default: Any = None) -> Any:
    """The first of `names` that `obj` has (a dataclass or a dict)."""
    for name in names:
        if isinstance(obj, dict) and name in obj:
            return obj[name]
        if not isinstance(obj, dict) and hasattr(obj, name):
            return getattr(obj, name)
    return default


def write_parquet(output: CycleOutput, out_dir: Path, *, compression: str = "zstd") -> list[Path]:
    """Write a cycle's results as columns: `scores.parquet` (one row per mini-app: pillars,
    overall, cap, tier and what the next tier needs, the metrics as measured),
    `explanations.parquet` (the same rows: per metric its adjusted value, score and
    contribution), `benchmarks.parquet` (per peer group and metric) and `suggestions.parquet`
    (one row per suggestion, in priority order). The model configuration is in each file's
    metadata. Texts are not stored: they are rendered from these codes and numbers
    (`ScoreResult`, `TierDecision` and `Suggestion` words) when shown. The files are written
    side by side (Parquet's encoder releases the GIL).
    """
    import json
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from townsquare.scoring.metrics import METRICS
    from townsquare.scoring.model_config import PILLARS, TIERS
    from townsquare.scoring.tiers import NEEDS

    scores, tiers, advice = output.scores, output.tier_table, output.advice
    config, source = scores.config, scores.source
    names = [spec.name for spec in METRICS]
    meta = {"townsquare.model_config": json.dumps(config.to_json(), ensure_ascii=False)}
    ids = pa.chunked_array([pa.array(output.ids)]) if source.table is None else source.table[
        "miniapp_id"]

    def floats(values: np.ndarray) -> pa.Array:
        return pa.array(values, mask=np.isnan(values))  # NaN → null

    def coded(codes: np.ndarray, values: list) -> pa.Array:  # -1 → null
        return pa.DictionaryArray.from_arrays(
            pa.array(codes, mask=codes < 0, type=pa.int32()), pa.array(values, pa.string()))

    def struct(values: np.ndarray) -> pa.Array:
        return pa.StructArray.from_arrays([floats(v) for v in values], names=names)

    ctx_keys = [ctx.key for ctx in scores.contexts]
    inputs = source.table if source.table is not None else pa.Table.from_pylist(
        [{"miniapp_id": i, "merchant_id": m, **row} for i, m, row in zip(
            output.ids, source.column("merchant_id"), source.inputs(), strict=True)])
    kept = [c for c in inputs.column_names if c not in ("miniapp_id", "merchant_id",
                                                       "category_code", "city")]
    columns = {
        "miniapp_id": ids,
        "merchant_id": inputs["merchant_id"],
        "category_code": inputs["category_code"],
        "city": source.city,
        "state": coded(np.where(scores.scored, 0, 1), ["scored", "insufficient_data"]),
        "model_version": coded(np.zeros(len(scores), dtype=np.int64), [config.version]),
        "peer_key": coded(scores.group, ctx_keys),
        "peer_group": coded(np.where(scores.scored, scores.group, -1),
                            [ctx.kind for ctx in scores.contexts]),
        "peer_count": pa.array(np.array([ctx.size for ctx in scores.contexts] + [0])[
            scores.group]),
        "overall": floats(np.where(scores.scored, scores.overall, np.nan)),
        **{p: floats(np.where(scores.scored, scores.pillars[k], np.nan))
           for k, p in enumerate(PILLARS)},
        "cap": coded(scores.cap_rule, [rule.metric for rule in config.caps]),
        "tier": coded(tiers.tier, list(TIERS)),
        "rank": pa.array(tiers.rank, mask=tiers.rank == 0),
        "percentile": floats(tiers.percentile),
        "category_size": pa.array(tiers.category_size),
        "next_tier": coded(np.where(tiers.tier > 0, tiers.tier - 1, -1), list(TIERS)),
        **{f"next_tier_needs_{need}": pa.array(tiers.needs[k]) for k, need in enumerate(NEEDS)},
        **{c: inputs[c] for c in kept},  # the metrics as measured
    }
    explanations = {
        "miniapp_id": ids,
        "adjusted": struct(scores.adjusted),
        "metric_scores": struct(scores.metric_scores),
        "contributions": struct(np.where(scores.scored, scores.contributions, np.nan)),
    }
    bench = [{"peer_key": ctx.key, "peer_group": ctx.kind, "size": ctx.size, "metric": name,
              **ctx.benchmarks[name]} for ctx in scores.contexts for name in names]

    first = np.ones(advice.row.size, dtype=bool)
    first[1:] = advice.row[1:] != advice.row[:-1]
    run = np.maximum.accumulate(np.where(first, np.arange(advice.row.size), 0))
    suggestions = pa.table({
        "miniapp_id": ids.take(pa.array(advice.row)),
        "priority": pa.array(np.arange(advice.row.size) - run + 1),
        "metric": coded(advice.metric, names),
        "current": floats(advice.current),
        "median": floats(advice.median),
        "top_quartile": floats(advice.top_quartile),
        "points": floats(advice.points),
    })
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # statistics (for readers' filters) only on the columns one filters a cycle's scores by
    filtered = ["miniapp_id", "merchant_id", "category_code", "city", "state", "overall", "tier",
                "rank"]
    files = {
        "scores.parquet": (pa.table(columns), filtered),
        "explanations.parquet": (pa.table(explanations), ["miniapp_id"]),
        "benchmarks.parquet": (pa.Table.from_pylist(bench), True),
        "suggestions.parquet": (suggestions, True),
    }

    def write(name: str) -> Path:
        table, statistics = files[name]
        pq.write_table(table.replace_schema_metadata(meta), out_dir / name,
                       compression=compression, write_statistics=statistics)
        return out_dir / name

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(write, files))
