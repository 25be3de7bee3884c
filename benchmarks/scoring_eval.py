"""Scoring evaluation (not a test): does the score recover the simulator's hidden quality?

Generates a synthetic market with the simulator, runs the cycle's analytic part, then reports
  - the Spearman rank correlation between the overall score and the hidden quality, for
    established mini-apps with enough data (pooled, and the mean within categories);
  - the new-app check: no new mini-app (a few days of data) is ranked above an established good
    one (top quartile of true quality in its category) in the same category.

    .venv/bin/python benchmarks/scoring_eval.py [--miniapps 3000 --days 28 --seed 11]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections import defaultdict
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
AS_OF = date(2026, 3, 1)


def main() -> None:
    import numpy as np
    import pyarrow.parquet as pq
    from scipy.stats import spearmanr

    from townsquare.scoring.model.config import DEFAULT_CONFIG
    from townsquare.scoring.pipeline import evaluate
    from townsquare.simulation.market import generate_parquet

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--miniapps", type=int, default=3000)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--events-per-app-day", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="scoring-eval-"))
    try:
        events = generate_parquet(
            work,
            miniapps=args.miniapps,
            days=args.days,
            events_per_app_day=args.events_per_app_day,
            seed=args.seed,
            end=AS_OF,
        )
        truth = pq.read_table(work / "_market.parquet").to_pylist()
        output = evaluate(work, as_of=AS_OF, window_days=args.days, config=DEFAULT_CONFIG)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    hidden = {t["miniapp_id"]: t for t in truth}
    scored = [r for r in output.results if r.state == "scored"]
    established = [r for r in scored if hidden[r.miniapp_id]["start_day"] == 0]
    rho = spearmanr(
        [r.overall for r in established], [hidden[r.miniapp_id]["quality"] for r in established]
    ).statistic

    by_category: dict[str, list] = defaultdict(list)
    for r in established:
        by_category[r.category_code].append(r)
    within = [
        spearmanr([r.overall for r in rs], [hidden[r.miniapp_id]["quality"] for r in rs]).statistic
        for rs in by_category.values()
        if len(rs) >= 10
    ]

    new = [r for r in output.results if hidden[r.miniapp_id]["start_day"] > 0]
    order = {t: i for i, t in enumerate("SABCD")}
    tier = {k: getattr(v, "tier", None) for k, v in output.tiers.items()}
    violations, tier_violations, pairs = 0, 0, 0
    for code, rs in by_category.items():
        qualities = np.array([hidden[r.miniapp_id]["quality"] for r in rs])
        cut = np.quantile(qualities, 0.75)
        good = [r for r in rs if hidden[r.miniapp_id]["quality"] >= cut]
        for n in (r for r in new if r.category_code == code):
            for g in good:
                pairs += 1
                if n.state == "scored" and n.overall > g.overall:
                    violations += 1
                nt, gt = tier.get(n.miniapp_id), tier.get(g.miniapp_id)
                if nt and gt and order[nt] < order[gt]:
                    tier_violations += 1
    new_scored = sum(1 for r in new if r.state == "scored")
    print(
        f"command: .venv/bin/python benchmarks/scoring_eval.py --miniapps {args.miniapps} "
        f"--days {args.days} --events-per-app-day {args.events_per_app_day} --seed {args.seed}"
    )
    print(
        f"events: {events:,}; mini-apps: {len(output.results):,}; scored: {len(scored):,}; "
        f"established and scored: {len(established):,}"
    )
    print(f"Spearman(score, hidden quality), established mini-apps: {rho:.3f}")
    print(f"mean Spearman within a category ({len(within)} categories): {np.mean(within):.3f}")
    print(
        f"new mini-apps: {len(new):,} ({new_scored:,} scored, the rest 'not enough data yet'); "
        f"pairs (new, established good in its category): {pairs:,}; new scored higher: "
        f"{violations}; new in a better tier: {tier_violations}"
    )


if __name__ == "__main__":
    main()
