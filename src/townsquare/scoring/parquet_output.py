"""A cycle's results written as Parquet columns (the benchmark's and a warehouse's form; the
pages read the database). Texts are not stored: they are rendered from these codes and numbers
(`ScoreResult`, `TierDecision` and `Suggestion` words) when shown.

    scores.parquet        one row per mini-app: state, pillars, overall, cap, tier, rank and
                          what the next tier needs, the metrics as measured
    explanations.parquet  the same rows: per metric its adjusted value, score and contribution
    benchmarks.parquet    per peer group and metric
    suggestions.parquet   one row per suggestion, in priority order

The model configuration is in each file's metadata. Files are encoded on two threads (Parquet's
encoder releases the GIL), so the scores are written while the suggestions are computed.
"""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from townsquare.scoring.model.catalogue import METRICS, PILLARS, TIERS
from townsquare.scoring.model.tiers import NEEDS

NAMES = [spec.name for spec in METRICS]
# statistics (for readers' filters) only on the columns one filters a cycle's scores by
FILTERED = ["miniapp_id", "merchant_id", "category_code", "city", "state", "overall", "tier",
            "rank"]


class ResultFiles:
    """Writes one cycle's files into `out_dir`: `scores(...)` and `advice(...)` start their
    files in the background, `finish()` waits and lists them."""

    def __init__(self, scores: Any, out_dir: Path, *, compression: str = "zstd") -> None:
        self.data, self.out_dir, self.compression = scores, Path(out_dir), compression
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.meta = {"townsquare.model_config": json.dumps(scores.config.to_json(),
                                                           ensure_ascii=False)}
        source = scores.source
        self.ids = (pa.chunked_array([pa.array(source.column("miniapp_id"))])
                    if source.table is None else source.table["miniapp_id"])
        self._pool = ThreadPoolExecutor(max_workers=2)
        self._pending: list[Future] = []

    def scores(self, tiers: Any) -> None:
        scores, config, source = self.data, self.data.config, self.data.source
        inputs = source.table if source.table is not None else pa.Table.from_pylist(
            [{"miniapp_id": i, "merchant_id": m, **row} for i, m, row in zip(
                source.column("miniapp_id"), source.column("merchant_id"), source.inputs(),
                strict=True)])
        kept = [c for c in inputs.column_names
                if c not in ("miniapp_id", "merchant_id", "category_code", "city")]
        columns = {
            "miniapp_id": self.ids,
            "merchant_id": inputs["merchant_id"],
            "category_code": inputs["category_code"],
            "city": source.city,
            "state": _coded(np.where(scores.scored, 0, 1), ["scored", "insufficient_data"]),
            "model_version": _coded(np.zeros(len(scores), dtype=np.int64), [config.version]),
            "peer_key": _coded(scores.group, [ctx.key for ctx in scores.contexts]),
            "peer_group": _coded(np.where(scores.scored, scores.group, -1),
                                 [ctx.kind for ctx in scores.contexts]),
            "peer_count": pa.array(np.array([ctx.size for ctx in scores.contexts] + [0])[
                scores.group]),
            "overall": _floats(np.where(scores.scored, scores.overall, np.nan)),
            **{p: _floats(np.where(scores.scored, scores.pillars[k], np.nan))
               for k, p in enumerate(PILLARS)},
            "cap": _coded(scores.cap_rule, [rule.metric for rule in config.caps]),
            "tier": _coded(tiers.tier, list(TIERS)),
            "rank": pa.array(tiers.rank, mask=tiers.rank == 0),
            "percentile": _floats(tiers.percentile),
            "category_size": pa.array(tiers.category_size),
            "next_tier": _coded(np.where(tiers.tier > 0, tiers.tier - 1, -1), list(TIERS)),
            **{f"next_tier_needs_{need}": pa.array(tiers.needs[k])
               for k, need in enumerate(NEEDS)},
            **{c: inputs[c] for c in kept},  # the metrics as measured
        }
        self._write("scores.parquet", pa.table(columns), FILTERED)
        self._write("explanations.parquet", pa.table({
            "miniapp_id": self.ids,
            "adjusted": _struct(scores.adjusted),
            "metric_scores": _struct(scores.metric_scores),
            "contributions": _struct(np.where(scores.scored, scores.contributions, np.nan)),
        }), ["miniapp_id"])

    def advice(self, advice: Any) -> None:
        bench = [{"peer_key": ctx.key, "peer_group": ctx.kind, "size": ctx.size, "metric": name,
                  **ctx.benchmarks[name]} for ctx in self.data.contexts for name in NAMES]
        self._write("benchmarks.parquet", pa.Table.from_pylist(bench), True)
        first = np.ones(advice.row.size, dtype=bool)
        first[1:] = advice.row[1:] != advice.row[:-1]
        run = np.maximum.accumulate(np.where(first, np.arange(advice.row.size), 0))
        self._write("suggestions.parquet", pa.table({
            "miniapp_id": self.ids.take(pa.array(advice.row)),
            "priority": pa.array(np.arange(advice.row.size) - run + 1),
            "metric": _coded(advice.metric, NAMES),
            "current": _floats(advice.current),
            "median": _floats(advice.median),
            "top_quartile": _floats(advice.top_quartile),
            "points": _floats(advice.points),
        }), True)

    def finish(self) -> list[Path]:
        try:
            return [future.result() for future in self._pending]
        except BaseException:
            self.abandon()
            raise
        finally:
            self._pool.shutdown()

    def abandon(self) -> None:
        """Stop writing and remove this cycle's files (a failed cycle leaves none)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        for name in ("scores.parquet", "explanations.parquet", "benchmarks.parquet",
                     "suggestions.parquet"):
            (self.out_dir / name).unlink(missing_ok=True)

    def _write(self, name: str, table: pa.Table, statistics: list[str] | bool) -> None:
        def write() -> Path:
            pq.write_table(table.replace_schema_metadata(self.meta), self.out_dir / name,
                           compression=self.compression, write_statistics=statistics)
            return self.out_dir / name

        self._pending.append(self._pool.submit(write))


def _floats(values: np.ndarray) -> pa.Array:
    return pa.array(values, mask=np.isnan(values))  # NaN → null


def _coded(codes: np.ndarray, values: list) -> pa.Array:  # -1 → null
    return pa.DictionaryArray.from_arrays(
        pa.array(codes, mask=codes < 0, type=pa.int32()), pa.array(values, pa.string()))


def _struct(values: np.ndarray) -> pa.Array:
    return pa.StructArray.from_arrays([_floats(v) for v in values], names=NAMES)
