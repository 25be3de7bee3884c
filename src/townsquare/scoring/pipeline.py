"""One scoring cycle's analytic part, without a database: Parquet events → metrics → scores →
tiers → suggestions. The cycle service stores its output; the benchmark writes it to Parquet."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

Step = Callable[[str, float], None]


@dataclass
class CycleOutput:
    """Everything a cycle decides, keyed by the metrics' miniapp_id."""

    rows: int
    results: list[Any]  # ScoreResult, in the model's order
    tiers: dict[Any, Any]  # miniapp_id → TierDecision
    suggestions: dict[Any, list[Any]] = field(default_factory=dict)  # miniapp_id → [Suggestion]
    seconds: dict[str, float] = field(default_factory=dict)  # time per stage


def evaluate(
    parquet_dir: Path,
    *,
    as_of: date,
    window_days: int,
    config: Any,
    excluded: Iterable[str] = (),
    backend: str = "duckdb",
    step: Step | None = None,
) -> CycleOutput:
    """Metrics, scores, tiers and suggestions for every mini-app with events in the window."""
    import time

    from townsquare.scoring import metrics, model, suggestions

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
    )
    rows = table.to_pylist()
    lap("metrics")
    step("scores", 0.4)
    results = model.score_all(rows, config)
    lap("scores")
    step("tiers", 0.55)
    tiers = model.assign_tiers(results, config)
    lap("tiers")
    step("suggestions", 0.65)
    advice = suggestions.suggest_all(results, config)  # one re-scoring per peer group
    lap("suggestions")
    return CycleOutput(
        rows=len(rows), results=results, tiers=tiers, suggestions=advice, seconds=seconds
    )


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
