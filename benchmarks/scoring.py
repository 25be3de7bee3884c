"""Scoring benchmark (not a test): a whole scoring cycle against its floor.

Generates events for N synthetic mini-apps with the market simulator (Parquet by day, the export's
schema), then, each in a fresh process so peak memory is its own:
  floor  DuckDB reading the metrics' columns of the window's files once;
  cycle  metrics (Ibis on DuckDB) → scores → tiers → suggestions, written to Parquet.
Reports the cycle/floor ratio and peak memory (ru_maxrss) and updates docs/benchmarks.md.

    .venv/bin/python benchmarks/scoring.py                       # modest: a few minutes
    .venv/bin/python benchmarks/scoring.py --miniapps 1000000 --days 28 --events-per-app-day 3.6
        # the 1,000,000 mini-apps / ~100,000,000 events run
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import re
import resource
import shutil
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
AS_OF = date(2026, 3, 1)
START, END = "<!-- scoring-benchmark:start -->", "<!-- scoring-benchmark:end -->"


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _floor(data: str, window: int, out) -> None:
    import duckdb

    from townsquare.scoring.metrics import COLUMNS, partition_files

    files = partition_files(Path(data), as_of=AS_OF, window_days=window)
    started = time.perf_counter()
    con = duckdb.connect()
    columns = ", ".join(f"max({c})" for c in COLUMNS)
    con.execute(f"SELECT count(*), {columns} FROM read_parquet(?)", [files]).fetchall()
    out.put({"seconds": time.perf_counter() - started, "peak_mib": _peak_mib()})


def _cycle(data: str, window: int, result_dir: str, out) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from townsquare.scoring.model_config import DEFAULT_CONFIG
    from townsquare.scoring.pipeline import evaluate, jsonable

    started = time.perf_counter()
    output = evaluate(Path(data), as_of=AS_OF, window_days=window, config=DEFAULT_CONFIG)
    write_started = time.perf_counter()
    results = output.results
    tiers = output.tiers
    table = pa.table(
        {
            "miniapp_id": [r.miniapp_id for r in results],
            "category_code": [r.category_code for r in results],
            "state": [r.state for r in results],
            "overall": [r.overall for r in results],
            "volume": [r.pillars.get("volume") for r in results],
            "scale": [r.pillars.get("scale") for r in results],
            "quality": [r.pillars.get("quality") for r in results],
            "tier": [getattr(tiers.get(r.miniapp_id), "tier", None) for r in results],
            "rank": [getattr(tiers.get(r.miniapp_id), "rank", None) for r in results],
            "result": [json.dumps(jsonable(r), ensure_ascii=False) for r in results],
            "suggestions": [
                json.dumps(jsonable(output.suggestions.get(r.miniapp_id, [])), ensure_ascii=False)
                for r in results
            ],
        }
    )
    Path(result_dir).mkdir(parents=True, exist_ok=True)
    pq.write_table(table, Path(result_dir) / "scores.parquet", compression="zstd")
    stages = dict(output.seconds, write=round(time.perf_counter() - write_started, 3))
    out.put(
        {
            "seconds": time.perf_counter() - started,
            "peak_mib": _peak_mib(),
            "stages": stages,
            "miniapps": len(results),
            "scored": sum(1 for r in results if r.state == "scored"),
        }
    )


def _in_child(target, *args) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    if process.exitcode:
        raise SystemExit(f"{target.__name__} failed with exit code {process.exitcode}")
    return result


def _generate(
    out_dir: Path, miniapps: int, days: int, per_day: float, seed: int
) -> tuple[int, float]:
    from rich.progress import Progress

    from townsquare.simulation.market import generate_parquet

    started = time.perf_counter()
    expected = int(miniapps * days * per_day)
    with Progress(transient=True) as bar:
        task = bar.add_task("Generating events", total=expected)
        count = generate_parquet(
            out_dir,
            miniapps=miniapps,
            days=days,
            events_per_app_day=per_day,
            seed=seed,
            end=AS_OF,
            progress=lambda n: bar.advance(task, n),
        )
    return count, time.perf_counter() - started


def _report(args, events: int, size_mib: float, floor: dict, cycle: dict) -> str:
    ratio = cycle["seconds"] / floor["seconds"]
    stages = ", ".join(f"{k} {v:.2f} s" for k, v in cycle["stages"].items())
    return "\n".join(
        [
            START,
            f"Run on {date.today().isoformat()}, {mp.cpu_count()} CPUs: "
            f"`.venv/bin/python benchmarks/scoring.py --miniapps {args.miniapps} "
            f"--days {args.days} --events-per-app-day {args.events_per_app_day}`",
            "",
            "| mini-apps | events | Parquet | floor (DuckDB reads the columns) | whole cycle | "
            "cycle / floor | peak memory (floor / cycle) |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            f"| {args.miniapps:,} | {events:,} | {size_mib:,.0f} MiB | {floor['seconds']:.2f} s | "
            f"{cycle['seconds']:.2f} s | {ratio:.2f}× | "
            f"{floor['peak_mib']:,.0f} MiB / {cycle['peak_mib']:,.0f} MiB |",
            "",
            f"Cycle stages: {stages}. {cycle['scored']:,} of {cycle['miniapps']:,} mini-apps "
            "scored (the rest: not enough data yet).",
            "Goal: a cycle within 3× the floor and under 8 GiB.",
            END,
        ]
    )


def _update_doc(section: str) -> Path:
    doc = ROOT / "docs" / "benchmarks.md"
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    if START in text:
        text = re.sub(
            re.escape(START) + ".*?" + re.escape(END), lambda _m: section, text, flags=re.S
        )
    else:
        text = text.rstrip() + "\n\n## Scoring cycle\n\n" + section + "\n"
    doc.write_text(text)
    return doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--miniapps", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--events-per-app-day", type=float, default=15.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", type=Path, default=ROOT / "var" / "bench" / "scoring")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--no-doc", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()

    data, results = args.dir / "events", args.dir / "results"
    shutil.rmtree(args.dir, ignore_errors=True)
    events, gen_seconds = _generate(
        data, args.miniapps, args.days, args.events_per_app_day, args.seed
    )
    size_mib = sum(p.stat().st_size for p in data.rglob("*.parquet")) / 2**20
    print(f"generated {events:,} events ({size_mib:,.0f} MiB) in {gen_seconds:.1f} s")
    floor = _in_child(_floor, str(data), args.days)
    print(f"floor: {floor['seconds']:.2f} s, peak {floor['peak_mib']:,.0f} MiB")
    cycle = _in_child(_cycle, str(data), args.days, str(results))
    print(f"cycle: {cycle['seconds']:.2f} s, peak {cycle['peak_mib']:,.0f} MiB, {cycle['stages']}")
    print(f"cycle / floor = {cycle['seconds'] / floor['seconds']:.2f}")
    section = _report(args, events, size_mib, floor, cycle)
    if not args.no_doc:
        print("updated", _update_doc(section))
    if not args.keep:
        shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
