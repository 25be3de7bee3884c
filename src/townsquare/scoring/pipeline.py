"""One scoring cycle's analytic part, without a database: Parquet events → metrics → scores →
tiers → suggestions. The cycle service stores its output; the benchmark writes it to Parquet."""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Iterable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the model's types only: importing the pipeline loads no NumPy or Arrow
    from townsquare.scoring.model.config import ScoringConfig
    from townsquare.scoring.model.results import ScoreResult, Scores, TierDecision
    from townsquare.scoring.model.suggestions import Advice, Suggestion
    from townsquare.scoring.model.tiers import Tiers
    from townsquare.scoring.model.values import MiniAppKey

Step = Callable[[str, float], None]


class CycleOutput:
    """Everything a cycle decides: columns (`scores`, `tier_table`, `advice`; rows as the
    metrics came) and, made from them on first use, the objects keyed by miniapp_id."""

    def __init__(self, scores: Scores, tier_table: Tiers, advice: Advice,
                 seconds: dict[str, float]) -> None:
        self.scores, self.tier_table, self.advice = scores, tier_table, advice
        self.seconds = seconds  # time per stage
        self.rows = len(scores)
        self.written: list[Path] = []  # Parquet files, when asked for

    @functools.cached_property
    def results(self) -> list[ScoreResult]:
        """ScoreResult per mini-app, in the model's order."""
        return self.scores.results()

    @functools.cached_property
    def ids(self) -> list[MiniAppKey]:
        return self.scores.source.ids()

    @functools.cached_property
    def tiers(self) -> dict[MiniAppKey, TierDecision]:
        """miniapp_id → TierDecision."""
        from townsquare.scoring.model.tiers import decisions

        return decisions(self.tier_table, self.results, self.scores.config,
                         rows=self.scores.source.order)

    @functools.cached_property
    def suggestions(self) -> dict[MiniAppKey, list[Suggestion]]:
        """miniapp_id → [Suggestion] for every scored mini-app."""
        return self.advice.suggestions(self.ids, self.scores.scored)


def evaluate(
    parquet_dir: Path,
    *,
    as_of: date,
    window_days: int,
    config: ScoringConfig,
    excluded: Iterable[str] = (),
    backend: str = "duckdb",
    step: Step | None = None,
    rollups: bool = True,
    write_to: Path | None = None,
) -> CycleOutput:
    """Metrics, scores, tiers and suggestions for every mini-app with events in the window
    (`rollups=False`: the activity from the events even for days the export rolled up).

    `write_to`: also write the results there as Parquet (`parquet_output`; the scores are
    written while the suggestions are computed), listed in the output's `written`.
    """
    import time

    from townsquare.scoring import metrics
    from townsquare.scoring.model import score, suggestions, tiers
    from townsquare.scoring.parquet_output import ResultFiles

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
        half_life_days=getattr(config, "recent_half_life_days", None),
        self_report_weight=getattr(config, "self_report_weight", 1.0),
    )
    lap("metrics")
    step("scores", 0.4)
    scores = score.score_table(table, config)
    lap("scores")
    step("tiers", 0.55)
    tier_table = tiers.tiers_of(scores)
    lap("tiers")
    files = ResultFiles(scores, write_to) if write_to is not None else None
    try:
        if files:
            files.scores(tier_table)
        step("suggestions", 0.65)
        advice = suggestions.advise(scores)  # one re-scoring per peer group and metric
        lap("suggestions")
        output = CycleOutput(scores, tier_table, advice, seconds)
        if files:
            files.advice(advice)
            output.written = files.finish()
            lap("write")
    except BaseException:
        if files:
            files.abandon()  # no scores beside another cycle's suggestions
        raise
    return output


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
    """Write a cycle's results as Parquet columns (`parquet_output`)."""
    from townsquare.scoring.parquet_output import ResultFiles

    files = ResultFiles(output.scores, out_dir, compression=compression)
    files.scores(output.tier_table)
    files.advice(output.advice)
    return files.finish()
