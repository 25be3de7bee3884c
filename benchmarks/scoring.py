"""Scoring benchmark (not a test): a whole scoring cycle against its floor.

Generates events for N synthetic mini-apps with the market simulator (Parquet by day, the export's
schema, with the export's daily activity rollups, timed apart), then, each in a fresh process so
peak memory is its own:
  floor  DuckDB reading the metrics' columns of the window's files once;
  cycle  metrics (Ibis on DuckDB) → scores → tiers → suggestions, written to Parquet;
  cycle without rollups  the same, every day's activity computed from the events.
Reports the cycle/floor ratios and peak memory (ru_maxrss) and updates docs/benchmarks.md.

    .venv/bin/python benchmarks/scoring.py --repeat 3            # 20,000 mini-apps: a minute
    .venv/bin/python benchmarks/scoring.py --miniapps 1000000 --days 28 --events-per-app-day 3.6
        # the 1,000,000 mini-apps / ~100,000,000 events run (generating them takes minutes;
        # --keep, then --reuse, to time it again on the same files)
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import shutil
import sys
import time
from datetime import date
from pathlib import Path

from harness import write_section  # benchmarks/harness.py (this folder is on sys.path)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
AS_OF = date(2026, 3, 1)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _cpu() -> float:
    """CPU seconds of this process, all threads (DuckDB's included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _floor(data: str, window: int, out) -> None:
    import duckdb

    from townsquare.scoring.metrics import COLUMNS
    from townsquare.scoring.partitions import partition_files

    files = partition_files(Path(data), as_of=AS_OF, window_days=window)
    started, cpu = time.perf_counter(), _cpu()
    con = duckdb.connect()
    columns = ", ".join(f"max({c})" for c in COLUMNS)
    con.execute(f"SELECT count(*), {columns} FROM read_parquet(?)", [files]).fetchall()
    out.put({"seconds": time.perf_counter() - started, "cpu": _cpu() - cpu,
             "peak_mib": _peak_mib()})


def _cycle(data: str, window: int, result_dir: str, rollups: bool, out) -> None:
    # modules are loaded before the clock starts, as the floor loads DuckDB's: a service
    # running cycles has them loaded (Ibis alone takes half a second to import)
    from townsquare.scoring import metrics, parquet_output  # noqa: F401
    from townsquare.scoring.model import score, suggestions, tiers  # noqa: F401
    from townsquare.scoring.model.config import DEFAULT_CONFIG
    from townsquare.scoring.pipeline import evaluate

    started, cpu = time.perf_counter(), _cpu()
    output = evaluate(Path(data), as_of=AS_OF, window_days=window, config=DEFAULT_CONFIG,
                      rollups=rollups, write_to=Path(result_dir))
    written, stages = output.written, output.seconds
    out.put(
        {
            "seconds": time.perf_counter() - started,
            "cpu": _cpu() - cpu,
            "peak_mib": _peak_mib(),
            "stages": stages,
            "miniapps": output.rows,
            "scored": int(output.scores.scored.sum()),
            "suggestions": int(output.advice.row.size),
            "written_mib": sum(p.stat().st_size for p in written) / 2**20,
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
) -> tuple[int, float, float]:
    """Write the events; (events, seconds in all, seconds of it rolling the days up)."""
    from rich.progress import Progress

    from townsquare.scoring.metrics import write_day_activity
    from townsquare.simulation.market import generate_parquet

    rolling = 0.0

    def roll_up(folder: Path) -> None:
        nonlocal rolling
        began = time.perf_counter()
        write_day_activity(folder)
        rolling += time.perf_counter() - began

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
            summarise=roll_up,
        )
    return count, time.perf_counter() - started, rolling


def _report(args, events: int, size_mib: float, floors: list[dict], cycles: list[dict],
            unrolled: list[dict], rolling: float, load: tuple[float, float]) -> str:
    floor = min(floors, key=lambda r: r["seconds"])
    cycle = min(cycles, key=lambda r: r["seconds"])
    plain = min(unrolled, key=lambda r: r["seconds"])
    ratio = cycle["seconds"] / floor["seconds"]
    stages = ", ".join(f"{k} {v:.2f} s" for k, v in cycle["stages"].items())
    runs = "; ".join(f"{f['seconds']:.2f} / {c['seconds']:.2f} s"
                     for f, c in zip(floors, cycles, strict=True))
    unrolled_runs = ", ".join(f"{r['seconds']:.2f}" for r in unrolled)
    return "\n".join(
        [
            f"Run on {date.today().isoformat()}, {mp.cpu_count()} CPUs shared with other work "
            f"(load average {load[0]:.1f} before, {load[1]:.1f} after): "
            f"`.venv/bin/python benchmarks/scoring.py --miniapps {args.miniapps} "
            f"--days {args.days} --events-per-app-day {args.events_per_app_day}"
            f"{f' --repeat {args.repeat}' if args.repeat != 1 else ''}`",
            "",
            "| mini-apps | events | Parquet | floor (DuckDB reads the columns) | whole cycle | "
            "cycle / floor | CPU time, cycle / floor | peak memory (floor / cycle) |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| {args.miniapps:,} | {events:,} | {size_mib:,.0f} MiB | {floor['seconds']:.2f} s | "
            f"{cycle['seconds']:.2f} s | {ratio:.2f}× | "
            f"{cycle['cpu']:.1f} s / {floor['cpu']:.1f} s = {cycle['cpu'] / floor['cpu']:.2f}× | "
            f"{max(f['peak_mib'] for f in floors):,.0f} MiB / "
            f"{max(c['peak_mib'] for c in cycles):,.0f} MiB |",
            "",
            f"Cycle stages: {stages} (the scores are written while the suggestions are "
            f"computed). {cycle['scored']:,} of {cycle['miniapps']:,} mini-apps "
            f"scored (the rest: not enough data yet); {cycle['suggestions']:,} suggestions; "
            f"{cycle['written_mib']:,.1f} MiB of results written as Parquet.",
            f"Floor and cycle alternate {len(floors)} time(s), each in a fresh process; the "
            f"table shows the fastest of each (all runs, floor / cycle: {runs}).",
            f"Without the rollups (every day's activity from the events: "
            f"`evaluate(..., rollups=False)`) the cycle takes {plain['seconds']:.2f} s = "
            f"{plain['seconds'] / floor['seconds']:.2f}× the floor (metrics "
            f"{plain['stages']['metrics']:.2f} s; all runs: "
            f"{unrolled_runs} s). The export "
            f"rolled the {args.days} days up in {rolling:.1f} s while writing them "
            f"({rolling / args.days:.2f} s a day).",
            "Goal: a cycle within 3× the floor and under 8 GiB.",
        ]
    )


def _manifest(args) -> dict:
    return {"miniapps": args.miniapps, "days": args.days, "seed": args.seed,
            "events_per_app_day": args.events_per_app_day, "end": AS_OF.isoformat(),
            "layout": "daily rollups v1: attribution and activity"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--miniapps", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--events-per-app-day", type=float, default=15.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=1,
                        help="alternate floor and cycle this many times, keep the fastest")
    parser.add_argument("--dir", type=Path, default=ROOT / "var" / "bench" / "scoring")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse events kept in --dir by a run with the same arguments")
    parser.add_argument("--no-doc", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()

    data, results = args.dir / "events", args.dir / "results"
    manifest = args.dir / "manifest.json"
    if args.reuse and manifest.exists() and json.loads(manifest.read_text()) == _manifest(args):
        kept = json.loads((args.dir / "events.json").read_text())
        events, rolling = kept["events"], kept["rolling_seconds"]
        print(f"reusing {events:,} events in {data}")
    else:
        shutil.rmtree(args.dir, ignore_errors=True)
        events, gen_seconds, rolling = _generate(
            data, args.miniapps, args.days, args.events_per_app_day, args.seed
        )
        manifest.write_text(json.dumps(_manifest(args)))
        (args.dir / "events.json").write_text(
            json.dumps({"events": events, "rolling_seconds": rolling}))
        print(f"generated {events:,} events in {gen_seconds:.1f} s "
              f"(rolling the days up: {rolling:.1f} s)")
    size_mib = sum(p.stat().st_size for p in data.glob("date=*/*.parquet")) / 2**20
    load_before = os.getloadavg()[0]
    floors, cycles, unrolled = [], [], []
    for _ in range(max(args.repeat, 1)):
        floors.append(_in_child(_floor, str(data), args.days))
        print(f"floor: {floors[-1]['seconds']:.2f} s ({floors[-1]['cpu']:.1f} s CPU), "
              f"peak {floors[-1]['peak_mib']:,.0f} MiB")
        for rollups, runs in ((True, cycles), (False, unrolled)):
            shutil.rmtree(results, ignore_errors=True)
            runs.append(_in_child(_cycle, str(data), args.days, str(results), rollups))
            print(f"cycle{'' if rollups else ' without rollups'}: "
                  f"{runs[-1]['seconds']:.2f} s ({runs[-1]['cpu']:.1f} s CPU), "
                  f"peak {runs[-1]['peak_mib']:,.0f} MiB, {runs[-1]['stages']}")
    best = min(c["seconds"] for c in cycles) / min(f["seconds"] for f in floors)
    print(f"cycle / floor = {best:.2f} ({size_mib:,.0f} MiB of events)")
    section = _report(args, events, size_mib, floors, cycles, unrolled, rolling,
                      (load_before, os.getloadavg()[0]))
    if not args.no_doc:
        print("updated", write_section("scoring-benchmark", "Scoring cycle", section))
    if not args.keep:
        shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
