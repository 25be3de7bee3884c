"""Sparse markets and newcomers (issue 19, item 6), measured (not a test).

For each seed and density, generates a synthetic market with the simulator, computes the
metrics once and scores them twice: with the rules before 2026.4 (`LEGACY_RULES`: a hard gate of
10 orders or 50 visits on 14 active days, totals, fixed priors, percentile tiers everywhere)
and with the current ones. Reports:
  - rho: Spearman(overall, hidden quality) over the established mini-apps that are scored;
  - scored: the share of established mini-apps that get a score at all;
  - coverage: the share of scored established apps whose interval holds the score their
    hidden quality ranks them at (the overall of the established app nearest in quality in
    their category: a rough check that the interval is about 80 %);
  - width: the median interval width (points), established and newcomers;
  - newcomer reach: top-decile newcomers (a week or less of data) whose score reaches the
    25th percentile of established peers of equal quality (same category, |Δq| < 0.05), by
    the point score and by the interval's top (`score_high`, what a cold-start slot could
    rank by), all newcomers (1–7 days of data) and those with 5–7 days (about one cycle).

    PYTHONPATH=src .venv/bin/python benchmarks/scoring_sparse.py [--miniapps 2000 --seeds 11 12 13]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
AS_OF = date(2026, 3, 1)
DAYS = 28
WEEKISH = 5  # "about a cycle": a newcomer with 5 to 7 days of data (7 alone is too rare)


def measure(table: Any, truth: Any, config: Any) -> dict[str, float]:
    import numpy as np
    from scipy.stats import spearmanr

    from townsquare.scoring.model.score import score_table

    s = score_table(table, config)
    ids = table["miniapp_id"].to_numpy()
    q = truth.loc[ids, "quality"].to_numpy()
    start = truth.loc[ids, "start_day"].to_numpy()
    cat = np.array(table["category_code"].to_pylist(), dtype=object)
    est, sc = start == 0, s.scored
    rho = float(spearmanr(s.overall[sc & est], q[sc & est]).statistic)
    low = s.low if s.low is not None else s.overall
    high = s.high if s.high is not None else s.overall
    held = []
    for i in np.flatnonzero(sc & est):
        peers = np.flatnonzero(sc & est & (cat == cat[i]))
        peers = peers[peers != i]
        if peers.size:
            j = peers[np.argmin(np.abs(q[peers] - q[i]))]
            held.append(low[i] <= s.overall[j] <= high[i])
    top = np.quantile(q, 0.9)
    reach = {"point": [0, 0], "high": [0, 0], "point7": [0, 0], "high7": [0, 0]}
    for i in np.flatnonzero(~est & (q >= top)):
        peers = est & sc & (cat == cat[i]) & (np.abs(q - q[i]) < 0.05)
        if peers.sum() < 3:
            continue
        bar = np.quantile(s.overall[peers], 0.25)
        for key, value in (("point", s.overall[i]), ("high", high[i])):
            ok = bool(sc[i] and value >= bar)
            reach[key][0] += ok
            reach[key][1] += 1
            if DAYS - start[i] >= WEEKISH:
                reach[key + "7"][0] += ok
                reach[key + "7"][1] += 1
    width_est = float(np.median((high - low)[sc & est])) if (sc & est).any() else float("nan")
    width_new = float(np.median((high - low)[sc & ~est])) if (sc & ~est).any() else float("nan")
    out = {"rho": rho, "scored": float((sc & est).sum() / est.sum()),
           "coverage": float(np.mean(held)) if held else float("nan"),
           "width_est": width_est, "width_new": width_new}
    for key, (hit, n) in reach.items():
        out[f"reach_{key}"] = hit / n if n else float("nan")
        out[f"n_{key}"] = n
    return out


def _mean(values: Any) -> str:
    kept = [v for v in values if v == v]  # NaN: nothing to measure (no newcomer scored)
    return f"{sum(kept) / len(kept):.1f}" if kept else "–"


def main() -> None:
    import numpy as np
    import pyarrow.parquet as pq

    from townsquare.scoring import metrics
    from townsquare.scoring.model.config import DEFAULT_CONFIG, LEGACY_RULES
    from townsquare.simulation.market import generate_parquet

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--miniapps", type=int, default=2000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[11, 12, 13])
    parser.add_argument("--densities", type=float, nargs="+", default=[5.0, 30.0])
    args = parser.parse_args()
    configs = {"before (2026.3 rules)": replace(DEFAULT_CONFIG, **LEGACY_RULES),
               "now": DEFAULT_CONFIG}
    print(f"command: PYTHONPATH=src .venv/bin/python benchmarks/scoring_sparse.py "
          f"--miniapps {args.miniapps} --seeds {' '.join(map(str, args.seeds))} "
          f"--densities {' '.join(map(str, args.densities))}")
    print("| events per app-day | rules | ρ(score, quality) | established scored | "
          "interval holds equal-quality peer | median width est. / new | top-decile newcomer "
          "reaches peers: score (5–7 days) | by interval top (5–7 days) |")
    print("|---|---|---|---|---|---|---|---|")
    for density in args.densities:
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in configs}
        for seed in args.seeds:
            work = Path(tempfile.mkdtemp(prefix="scoring-sparse-"))
            try:
                generate_parquet(work, miniapps=args.miniapps, days=DAYS,
                                 events_per_app_day=density, seed=seed, end=AS_OF)
                truth = pq.read_table(work / "_market.parquet").to_pandas().set_index(
                    "miniapp_id")
                table = metrics.compute(work, as_of=AS_OF, window_days=DAYS, backend="duckdb",
                                        excluded=(), rollups=True)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            for name, config in configs.items():
                runs[name].append(measure(table, truth, config))
        for name, got in runs.items():
            def agg(key: str, pct: bool = False, got: list[dict[str, float]] = got) -> str:
                values = np.array([g[key] for g in got], dtype=float)
                mean, sd = float(np.nanmean(values)), float(np.nanstd(values))
                return f"{mean:.0%} ± {sd:.0%}" if pct else f"{mean:.3f} ± {sd:.3f}"
            n_all = sum(int(g["n_point"]) for g in got)
            n_week = sum(int(g["n_point7"]) for g in got)
            print(f"| {density:g} | {name} | {agg('rho')} | {agg('scored', True)} | "
                  f"{agg('coverage', True)} | "
                  f"{_mean(g['width_est'] for g in got)} / {_mean(g['width_new'] for g in got)} | "
                  f"{agg('reach_point', True)} ({agg('reach_point7', True)}) | "
                  f"{agg('reach_high', True)} ({agg('reach_high7', True)}) |")
            print(f"<!-- {name}, {density:g}: newcomers watched {n_all}, "
                  f"with 5–7 days {n_week} -->")


if __name__ == "__main__":
    main()
