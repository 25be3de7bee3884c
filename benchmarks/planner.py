"""Planner benchmark (not a test): the exact min-cost-flow allocation against the greedy one-pass
heuristic on the same seeded instance, in the same run.

The instance: segments grouped into cities of `--city-size` segments; each promise picks a city and
`pairs / promises` eligible segments in it (with a per-pair affinity), a kind, a request, a penalty
and a quality. Requests total about `--load` × supply, so the planner has to choose.

Updates the "Planner" section of docs/benchmarks.md.

    .venv/bin/python benchmarks/planner.py          # --quick: 10k promises, 1k segments, 200k pairs
    .venv/bin/python benchmarks/planner.py --full   # 100k promises, 10k segments, 2M pairs
    .venv/bin/python benchmarks/planner.py --promises 50000 --segments 5000 --pairs 1000000
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
START, END = "<!-- planner-benchmark:start -->", "<!-- planner-benchmark:end -->"
QUICK = {"promises": 10_000, "segments": 1_000, "pairs": 200_000}
FULL = {"promises": 100_000, "segments": 10_000, "pairs": 2_000_000}
KIND_SHARE = {"tier_incentive": 0.3, "cold_start": 0.3, "points": 0.2, "campaign": 0.2}
# Per-impression under-delivery penalty by kind: points are paid for, so shortfall costs most.
KIND_PENALTY = {"tier_incentive": 1.0, "cold_start": 0.2, "points": 2.0, "campaign": 0.8}


def generate(*, promises: int, segments: int, pairs: int, city_size: int, load: float, seed: int):
    """A seeded instance as planner dataclasses."""
    from townsquare.traffic.planner import Demand, Segment

    rng = np.random.default_rng(seed)
    per = max(1, pairs // promises)
    city_size = max(min(city_size, segments), per)
    n_cities = max(1, segments // city_size)
    requested = np.maximum(1, rng.lognormal(np.log(200), 0.8, promises)).astype(np.int64)
    supply_raw = rng.lognormal(0.0, 1.0, segments)
    supply = np.floor(supply_raw / supply_raw.sum() * requested.sum() / load).astype(np.int64)
    kinds = rng.choice(list(KIND_SHARE), size=promises, p=list(KIND_SHARE.values()))
    quality = np.round(rng.beta(4, 2, promises), 3)
    city = rng.integers(0, n_cities, promises)
    # `per` distinct segments of the promise's city: the smallest `per` of random keys.
    keys = rng.random((promises, city_size), dtype=np.float32)
    local = np.argpartition(keys, per - 1, axis=1)[:, :per]
    eligible = (city[:, None] * city_size + local).tolist()
    affinity = np.round(rng.uniform(0.2, 1.0, (promises, per)), 2).tolist()
    seg_ids = [f"seg_{i:06d}" for i in range(segments)]
    segs = [Segment(seg_ids[i], int(n)) for i, n in enumerate(supply.tolist())]
    demands = [
        Demand(
            f"prm_{j:07d}",
            str(kinds[j]),
            int(requested[j]),
            KIND_PENALTY[str(kinds[j])],
            float(quality[j]),
            tuple(seg_ids[s] for s in eligible[j]),
            tuple(affinity[j]),
        )
        for j in range(promises)
    ]
    return segs, demands


def timed(fn, **kwargs):
    start = time.perf_counter()
    result = fn(**kwargs)
    return result, time.perf_counter() - start


def write_section(text: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    doc = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    block = f"{START}\n{text.rstrip()}\n{END}"
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    if pattern.search(doc):
        doc = pattern.sub(lambda _: block, doc)
    else:
        doc = doc.rstrip("\n") + "\n\n## Planner\n\n" + block + "\n"
    path.write_text(doc, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="the default size (under 2 minutes)")
    size.add_argument("--full", action="store_true", help="100k promises, 10k segments, 2M pairs")
    parser.add_argument("--promises", type=int)
    parser.add_argument("--segments", type=int)
    parser.add_argument("--pairs", type=int)
    parser.add_argument("--city-size", type=int, default=200)
    parser.add_argument("--load", type=float, default=1.3, help="total requested / total supply")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    args = parser.parse_args()
    sizes = dict(FULL if args.full else QUICK)
    for key in sizes:
        if getattr(args, key) is not None:
            sizes[key] = getattr(args, key)

    from townsquare.traffic.planner import DEFAULT_PRIORITIES, _build, plan_exact, plan_greedy

    (segs, demands), t_gen = timed(
        generate, **sizes, city_size=args.city_size, load=args.load, seed=args.seed
    )
    n_pairs = sum(len(d.eligible) for d in demands)
    _, t_build = timed(_build, segments=segs, demands=demands, priorities=DEFAULT_PRIORITIES)
    exact, t_exact = timed(plan_exact, segments=segs, demands=demands)
    greedy, t_greedy = timed(plan_greedy, segments=segs, demands=demands)
    blob, t_json = timed(exact.to_json)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    supply = sum(s.impressions for s in segs)
    asked = sum(d.requested for d in demands)
    gap = exact.objective - greedy.objective
    rel = gap / abs(exact.objective) if exact.objective else 0.0

    def served(plan):
        return sum(d.delivered for d in plan.deliveries) / asked

    def kept(plan):
        return sum(d.shortfall == 0 for d in plan.deliveries) / len(plan.deliveries)

    flags = " ".join(f"--{k} {v}" for k, v in sizes.items())
    flags += f" --city-size {args.city_size} --load {args.load} --seed {args.seed}"

    def row(name: str, plan, seconds: float) -> str:
        cells = [name, f"{seconds:.2f} s", f"{plan.objective:,.1f}", f"{plan.value:,.1f}"]
        cells += [f"{plan.penalty:,.1f}", f"{served(plan):.1%}", f"{kept(plan):.1%}"]
        return "| " + " | ".join(cells) + " |"

    lines = [
        f"Run on {date.today().isoformat()}, {os.cpu_count()} CPUs: "
        f"`.venv/bin/python benchmarks/planner.py {flags}`",
        "",
        "| promises | segments | eligible pairs | supply | requested |",
        "|---:|---:|---:|---:|---:|",
        f"| {len(demands):,} | {len(segs):,} | {n_pairs:,} | {supply:,} | {asked:,} |",
        "",
        "| planner | time | objective | value | penalty | impressions served "
        "| promises kept in full |",
        "|---|---:|---:|---:|---:|---:|---:|",
        row("exact (OR-Tools min-cost flow)", exact, t_exact),
        row("greedy (one pass, pro rata)", greedy, t_greedy),
        "",
        f"Gap exact − greedy: {gap:,.1f} ({rel:.2%} of the exact objective): "
        f"{exact.value - greedy.value:,.1f} more value and {greedy.penalty - exact.penalty:,.1f} "
        "less penalty (the greedy splits pro rata to what is left and ignores per-pair "
        "affinity; the flow puts each impression where it is worth most). Both times include "
        f"validating and flattening the instance ({t_build:.2f} s of each). The exact plan has "
        f"{len(exact.allocations):,} non-zero allocations; its JSON is "
        f"{len(blob) / 2**20:.1f} MiB, written in {t_json:.2f} s. Peak memory {peak:,.0f} MiB "
        f"(instance generation {t_gen:.1f} s, not counted).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    main()
