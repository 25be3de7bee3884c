"""Scoring benchmark (not a test): a whole scoring cycle against its floor.

Generates events for N synthetic mini-apps with the market simulator in a child process
(Parquet by day, the export's schema, with the export's daily activity rollups), then measures,
each in a fresh process so peak memory is its own (VmHWM: the child's own high-water mark, not
the generator's inherited by a forked child):
  floor    DuckDB reading the metrics' columns of the window's files once;
  cycle    metrics (Ibis on DuckDB) → scores → tiers → suggestions, written to Parquet;
  rollups  the export's rollups of a week's days (`write_day_activity`, 7 days): a weekly cycle
           has them to make, so the weekly figure is cycle + rollups;
  cycle without rollups  the same, every day's activity computed from the events.
Floor, cycle and rollups run back to back in each round; the headline is the median over
rounds of each round's own ratio. After the rounds a check (not timed) fails the benchmark
unless the cycle's metrics equal the metrics without rollups and an independent recount of
the events in plain DuckDB SQL, and its scores, tiers and suggestions equal the frozen
row-by-row model (tests/scoring/reference.py) on the same metrics. Updates docs/benchmarks.md.

    .venv/bin/python benchmarks/scoring.py --repeat 3            # 20,000 mini-apps: minutes
    .venv/bin/python benchmarks/scoring.py --miniapps 200000 --events-per-app-day 3.6
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
import statistics
import sys
import time
from datetime import date
from pathlib import Path

from harness import write_section  # benchmarks/harness.py (this folder is on sys.path)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
AS_OF = date(2026, 3, 1)


def _peak_mib() -> float:
    """This process's own peak resident memory. ru_maxrss would not do: Linux carries the
    parent's high-water mark over a fork and exec into the child (a spawned child of a parent
    that had generated the events would report the generator's memory)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # elsewhere: the best known


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


def _rollups(data: str, days: int, out) -> None:
    """The export's rollups of the window's last `days` days, as a weekly export makes them."""
    from townsquare.scoring.metrics import write_day_activity
    from townsquare.scoring.partitions import day_folder

    folders = [day_folder(Path(data), date.fromordinal(AS_OF.toordinal() - k))
               for k in range(days)]
    started, cpu = time.perf_counter(), _cpu()
    for folder in folders:
        write_day_activity(folder)
    out.put({"seconds": time.perf_counter() - started, "cpu": _cpu() - cpu,
             "peak_mib": _peak_mib(), "days": days})


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


def _generate(out_dir: str, miniapps: int, days: int, per_day: float, seed: int, out) -> None:
    """Write the events (in a child process: the measuring children never inherit its memory);
    puts (events, seconds in all, seconds of it rolling the days up)."""
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
            Path(out_dir),
            miniapps=miniapps,
            days=days,
            events_per_app_day=per_day,
            seed=seed,
            end=AS_OF,
            progress=lambda n: bar.advance(task, n),
            summarise=roll_up,
        )
    out.put({"events": count, "seconds": time.perf_counter() - started, "rolling": rolling})


RECOUNT = """
SELECT miniapp_id,
       count(*) FILTER (WHERE type = 'visit') AS visits,
       count(*) FILTER (WHERE type = 'order_placed') AS orders,
       coalesce(sum(amount_fen) FILTER (WHERE type = 'order_placed'), 0) AS gmv_fen,
       count(DISTINCT user_sub) FILTER (WHERE type = 'order_placed' AND user_sub <> '')
           AS unique_buyers,
       count(*) FILTER (WHERE type = 'order_fulfilled') AS fulfilled,
       count(*) FILTER (WHERE type = 'complaint') AS complaints,
       count(rating) FILTER (WHERE type = 'rating') AS rating_count,
       coalesce(sum(rating) FILTER (WHERE type = 'rating'), 0) AS rating_sum,
       count(DISTINCT CAST(occurred_at AS DATE)) FILTER (WHERE type NOT IN {idle})
           AS days_active,
       count(DISTINCT (CAST(occurred_at AS DATE), user_sub))
           FILTER (WHERE type NOT IN {idle} AND user_sub <> '') AS user_days
FROM read_parquet($files)
WHERE occurred_at >= $start AND occurred_at < $end
GROUP BY miniapp_id ORDER BY miniapp_id
""".replace("{idle}", "('exposure', 'order_accepted', 'order_ready', 'delivery_done', "
                      "'delivery_incident')")  # not a resident's activity


def _check(data: str, window: int, out) -> None:
    """Fail unless the cycle's results equal references computed another way (not timed)."""
    import json

    import duckdb
    import pyarrow as pa

    sys.path.insert(0, str(ROOT))  # tests/scoring/reference.py: the frozen row-by-row model
    from tests.scoring import reference

    from townsquare.scoring import metrics
    from townsquare.scoring.model import score, suggestions, tiers
    from townsquare.scoring.model.config import DEFAULT_CONFIG
    from townsquare.scoring.partitions import partition_files
    from townsquare.scoring.pipeline import CycleOutput

    started = time.perf_counter()
    fast = metrics.compute(Path(data), as_of=AS_OF, window_days=window, rollups=True)
    plain = metrics.compute(Path(data), as_of=AS_OF, window_days=window, rollups=False)
    if not fast.equals(plain):
        raise SystemExit("the metrics with the export's rollups differ from those without")
    # an independent recount of the events, in plain SQL (no Ibis, no rollups)
    start, end = metrics.window_bounds(AS_OF, window)
    files = partition_files(Path(data), as_of=AS_OF, window_days=window)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    recount = con.sql(RECOUNT, params={"files": files, "start": start, "end": end}
                      ).to_arrow_table()
    got = fast.select(["miniapp_id", "visits", "orders", "gmv_fen", "unique_buyers",
                       "fulfilled", "complaints", "rating_count", "rating_sum", "days_active"])
    want = recount.select(got.column_names).cast(got.schema)
    if not got.equals(want):
        raise SystemExit("the cycle's metrics differ from a plain recount of the events")
    user_days = pa.compute.divide(recount["user_days"].cast(pa.float64()), float(window))
    if fast["dau_avg"].to_pylist() != user_days.to_pylist():
        raise SystemExit("the cycle's daily active users differ from a plain recount")
    # the scores, tiers and suggestions against the frozen row-by-row model
    scores = score.score_table(fast, DEFAULT_CONFIG)
    cycle = CycleOutput(scores, tiers.tiers_of(scores), suggestions.advise(scores), {})
    rows = fast.to_pylist()
    results = reference.score_all(rows, DEFAULT_CONFIG)
    pairs = [
        ([r.to_json() for r in results], [r.to_json() for r in cycle.results], "scores"),
        ({k: v.to_json() for k, v in reference.assign_tiers(results, DEFAULT_CONFIG).items()},
         {k: v.to_json() for k, v in cycle.tiers.items()}, "tiers"),
        ({k: [x.to_json() for x in v]
          for k, v in reference.suggest_all(results, DEFAULT_CONFIG).items()},
         {k: [x.to_json() for x in v] for k, v in cycle.suggestions.items()}, "suggestions"),
    ]
    for want_, got_, what in pairs:
        if json.dumps(want_, sort_keys=True, default=str) != json.dumps(got_, sort_keys=True,
                                                                         default=str):
            raise SystemExit(f"the cycle's {what} differ from the row-by-row reference model")
    out.put({"seconds": time.perf_counter() - started, "miniapps": fast.num_rows,
             "suggestions": sum(len(v) for v in pairs[2][0].values())})


def _median_round(rounds: list[dict], key: str) -> dict:
    """The round whose `key` is the median (the lower middle one for an even count)."""
    ordered = sorted(rounds, key=lambda r: r[key])
    return ordered[(len(ordered) - 1) // 2]


def _report(args, events: int, size_mib: float, rounds: list[dict], rolling: float,
            check: dict, load: tuple[float, float]) -> str:
    ratio = statistics.median(r["ratio"] for r in rounds)
    weekly = statistics.median(r["weekly"] for r in rounds)
    plain_ratio = statistics.median(r["plain_ratio"] for r in rounds)
    mid = _median_round(rounds, "ratio")
    floor, cycle, week, plain = mid["floor"], mid["cycle"], mid["rollups"], mid["plain"]
    stages = ", ".join(f"{k} {v:.2f} s" for k, v in cycle["stages"].items())
    runs = "; ".join(f"{r['floor']['seconds']:.2f} / {r['cycle']['seconds']:.2f} + "
                     f"{r['rollups']['seconds']:.2f} s = {r['ratio']:.2f}× / {r['weekly']:.2f}×"
                     for r in rounds)
    goal = "met" if weekly <= 3 else f"not met: {weekly / 3:.2f}× over"
    return "\n".join(
        [
            f"Run on {date.today().isoformat()}, {mp.cpu_count()} CPUs shared with other "
            f"sessions (load average {load[0]:.1f} before, {load[1]:.1f} after): "
            f"`.venv/bin/python benchmarks/scoring.py --miniapps {args.miniapps} "
            f"--days {args.days} --events-per-app-day {args.events_per_app_day}"
            f" --repeat {args.repeat}`",
            "",
            f"**A weekly cycle (the cycle plus the export's rollups of the week's 7 days) takes "
            f"{weekly:.2f}× the floor; the cycle alone {ratio:.2f}×** (medians over "
            f"{len(rounds)} rounds of each round's own ratio; goal ≤ 3× including the rollups: "
            f"{goal}). Results checked: equal to the metrics without rollups, to a plain-SQL "
            f"recount of the events and to the row-by-row reference model "
            f"({check['miniapps']:,} mini-apps, {check['suggestions']:,} suggestions compared).",
            "",
            "| mini-apps | events | Parquet | floor (DuckDB reads the columns) | cycle "
            "| 7 days' rollups | cycle / floor | weekly / floor | CPU time, cycle / floor "
            "| peak memory (floor / cycle / rollups) |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| {args.miniapps:,} | {events:,} | {size_mib:,.0f} MiB | {floor['seconds']:.2f} s "
            f"| {cycle['seconds']:.2f} s | {week['seconds']:.2f} s | {mid['ratio']:.2f}× "
            f"| {mid['weekly']:.2f}× "
            f"| {cycle['cpu']:.1f} s / {floor['cpu']:.1f} s = {cycle['cpu'] / floor['cpu']:.2f}× "
            f"| {floor['peak_mib']:,.0f} / {cycle['peak_mib']:,.0f} / "
            f"{week['peak_mib']:,.0f} MiB |",
            "",
            "The row is the round with the median cycle / floor ratio. All rounds, floor / "
            f"cycle + rollups = cycle ratio / weekly ratio: {runs}.",
            f"Cycle stages: {stages} (the scores are written while the suggestions are "
            f"computed). {cycle['scored']:,} of {cycle['miniapps']:,} mini-apps "
            f"scored (the rest: not enough data yet); {cycle['suggestions']:,} suggestions; "
            f"{cycle['written_mib']:,.1f} MiB of results written as Parquet.",
            f"Without the rollups (every day's activity from the events: "
            f"`evaluate(..., rollups=False)`) the cycle takes {plain['seconds']:.2f} s, "
            f"median {plain_ratio:.2f}× the floor (metrics {plain['stages']['metrics']:.2f} s). "
            f"Generating, the export rolled the {args.days} days up in {rolling:.1f} s "
            f"({rolling / args.days:.2f} s a day). Peak memory is each child's own high-water "
            "mark (VmHWM); the events are generated in a separate child. Goal: a weekly cycle "
            "within 3× the floor and under 8 GiB. The machine is shared with other sessions: "
            "the seconds move with their load, the same-round ratios much less.",
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
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds of floor, cycle and rollups; the median ratio is reported")
    parser.add_argument("--week", type=int, default=7, help="days a weekly export rolls up")
    parser.add_argument("--dir", type=Path, default=ROOT / "var" / "bench" / "scoring")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse events kept in --dir by a run with the same arguments")
    parser.add_argument("--no-check", action="store_true",
                        help="skip the check against the reference computations")
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
        made = _in_child(_generate, str(data), args.miniapps, args.days,
                         args.events_per_app_day, args.seed)
        events, rolling = made["events"], made["rolling"]
        manifest.write_text(json.dumps(_manifest(args)))
        (args.dir / "events.json").write_text(
            json.dumps({"events": events, "rolling_seconds": rolling}))
        print(f"generated {events:,} events in {made['seconds']:.1f} s "
              f"(rolling the days up: {rolling:.1f} s)")
    size_mib = sum(p.stat().st_size for p in data.glob("date=*/*.parquet")) / 2**20
    load_before = os.getloadavg()[0]
    rounds = []
    for _ in range(max(args.repeat, 1)):
        # back to back: the floor, the cycle and the week's rollups of one round see the same
        # load on the shared machine
        floor = _in_child(_floor, str(data), args.days)
        shutil.rmtree(results, ignore_errors=True)
        cycle = _in_child(_cycle, str(data), args.days, str(results), True)
        week = _in_child(_rollups, str(data), args.week)
        shutil.rmtree(results, ignore_errors=True)
        plain = _in_child(_cycle, str(data), args.days, str(results), False)
        done = {"floor": floor, "cycle": cycle, "rollups": week, "plain": plain,
                "ratio": cycle["seconds"] / floor["seconds"],
                "weekly": (cycle["seconds"] + week["seconds"]) / floor["seconds"],
                "plain_ratio": plain["seconds"] / floor["seconds"]}
        rounds.append(done)
        print(f"floor {floor['seconds']:.2f} s ({floor['peak_mib']:,.0f} MiB), cycle "
              f"{cycle['seconds']:.2f} s ({cycle['peak_mib']:,.0f} MiB) {cycle['stages']}, "
              f"{args.week} days' rollups {week['seconds']:.2f} s, without rollups "
              f"{plain['seconds']:.2f} s: cycle {done['ratio']:.2f}×, weekly "
              f"{done['weekly']:.2f}×")
    load_after = os.getloadavg()[0]
    check = {"miniapps": 0, "suggestions": 0}
    if not args.no_check:
        check = _in_child(_check, str(data), args.days)
        print(f"checked against the references in {check['seconds']:.1f} s")
    print(f"median cycle / floor = {statistics.median(r['ratio'] for r in rounds):.2f}, "
          f"weekly = {statistics.median(r['weekly'] for r in rounds):.2f}")
    section = _report(args, events, size_mib, rounds, rolling, check, (load_before, load_after))
    if not args.no_doc and not args.no_check:
        print("updated", write_section("scoring-benchmark", "Scoring cycle", section))
    if not args.keep:
        shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
