"""Search benchmark (not a test): search latency at 2k, 20k and 200k listed mini-apps, the time
to start, the first query after start, and how the cost grows with the catalogue, each beside a
floor measured in the same run.

  in process  `search.query` on the serving snapshot's cards (what `/api/search` runs before
              ranking and recording), against the floor of a trivial indexed lookup (one mini-app
              by primary key in its own read-only unit of work);
  HTTP        `GET /api/search?q=…&city=…` through a live uvicorn worker (ranking, the sponsored
              auction, signed click URLs, the exposures recorded), against `GET /api/health`,
              one client, the two interleaved query by query.

The catalogue (`search_world.py`): names, descriptions and tags in the demo city's style over 12
categories, 70% in the first city, a certified brand and a 买菜 topic. The queries mix a need
with synonyms (买菜, 看病, 外卖), a category's name, a shop's name, a certified brand, a place
word and an English category name. The growth exponent is the slope of log(p50) over log(n).

Updates the "Search" section of docs/benchmarks.md.

    .venv/bin/python benchmarks/search.py                      # SQLite in a temp dir
    .venv/bin/python benchmarks/search.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from harness import free_port, server_ms, wait_until_up, write_section
from search_world import CITIES, seed

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
QUERIES = ("买菜", "看病", "外卖", "生鲜买菜", "城东福鲜果店", "鲜丰水果", "光谷", "药店",
           "在线问诊", "保洁", "Groceries", "我想买菜")


def _pct(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def in_process(url: str, rounds: int, rng: random.Random) -> dict[str, Any]:
    """Build times, then the floor and the query interleaved, `rounds` of each."""
    from sqlalchemy import select

    from townsquare.core.database import Database
    from townsquare.miniapps.models import MiniApp
    from townsquare.traffic.search import segment
    from townsquare.traffic.search import service as search
    from townsquare.traffic.serving import cache

    database = Database(url)
    started = time.perf_counter()
    segment.warm()
    jieba_s = time.perf_counter() - started
    with database.unit_of_work(read_only=True) as db:
        started = time.perf_counter()
        snap = cache.snapshot(db)
        snapshot_s = time.perf_counter() - started
        rss = _rss_mb()
        started = time.perf_counter()
        search.warm(db, snap.cards)
        index_s = time.perf_counter() - started
        index_mb = _rss_mb() - rss
        listed = len(snap.cards)
    floor, found, hits = [], [], []
    for n in range(rounds):
        wanted = rng.randint(1, listed)
        started = time.perf_counter()
        with database.unit_of_work(read_only=True) as db:
            db.execute(select(MiniApp.name).where(MiniApp.id == wanted)).scalar_one()
        floor.append(time.perf_counter() - started)
        started = time.perf_counter()
        with database.unit_of_work(read_only=True) as db:
            result = search.query(db, text=QUERIES[n % len(QUERIES)], city=CITIES[0],
                                  cards=snap.cards)
        found.append(time.perf_counter() - started)
        hits.append(len(result.hits))
    search.forget()
    cache.forget_caches()
    database.dispose()
    return {"listed": listed, "jieba_s": jieba_s, "snapshot_s": snapshot_s, "index_s": index_s,
            "index_mb": index_mb, "floor": floor, "search": found, "hits": min(hits)}


def over_http(url: str, rounds: int) -> dict[str, Any]:
    """Start a server (time until it answers), the first search, then interleaved requests."""
    import httpx

    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="search-bench-")
    log = Path(data_dir) / "server.log"
    env = {**os.environ, "TOWNSQUARE_DATABASE_URL": url, "TOWNSQUARE_DATA_DIR": data_dir,
           "TOWNSQUARE_SECRET_KEY": "search-benchmark-secret",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    base = f"http://127.0.0.1:{port}"
    with log.open("w") as sink:
        started = time.perf_counter()
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "townsquare.app:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
             "--no-access-log"], env=env, stdout=subprocess.DEVNULL, stderr=sink)
        try:
            wait_until_up(base, seconds=1800)
            startup_s = time.perf_counter() - started
            floor: list[float] = []
            found: list[float] = []
            with httpx.Client(base_url=base, timeout=600) as client:
                started = time.perf_counter()
                first = client.get("/api/search", params={"q": "买菜", "city": CITIES[0]})
                first_s = time.perf_counter() - started
                assert first.status_code == 200 and first.json()["items"], first.text[:200]
                for n in range(rounds):
                    for path, params, into in (
                        ("/api/health", {}, floor),
                        ("/api/search", {"q": QUERIES[n % len(QUERIES)], "city": CITIES[0]},
                         found),
                    ):
                        started = time.perf_counter()
                        assert client.get(path, params=params).status_code == 200
                        into.append(time.perf_counter() - started)
        finally:
            server.terminate()
            server.wait(timeout=30)
    return {"startup_s": startup_s, "first_s": first_s, "floor": floor, "search": found,
            "server_search_ms": server_ms(log, "/api/search")[1:],
            "server_floor_ms": server_ms(log, "/api/health")}


def _slope(sizes: list[int], values: list[float]) -> float:
    """Least-squares slope of log(value) over log(size)."""
    xs, ys = [math.log(s) for s in sizes], [math.log(max(v, 1e-9)) for v in values]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,20000,200000")
    parser.add_argument("--rounds", type=int, default=240)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='search-bench-')}/s.db"
    backend = url.split(":", 1)[0].split("+", 1)[0]
    sizes = [int(s) for s in args.sizes.split(",")]
    rows: list[dict[str, Any]] = []
    for size in sizes:
        started = time.perf_counter()
        seed(url, size, random.Random(args.seed))
        seed_s = time.perf_counter() - started
        core = in_process(url, args.rounds, random.Random(args.seed))
        http = over_http(url, args.rounds)
        row = {"size": size, "seed_s": seed_s, **{k: v for k, v in core.items()
                                                   if k not in ("floor", "search")}}
        for prefix, figures in (("core", core), ("http", http)):
            for name in ("floor", "search"):
                row[f"{prefix}_{name}_p50"] = statistics.median(figures[name]) * 1000
                row[f"{prefix}_{name}_p99"] = _pct(figures[name], 0.99) * 1000
        row.update(startup_s=http["startup_s"], first_ms=http["first_s"] * 1000,
                   server_p50=statistics.median(http["server_search_ms"] or [math.nan]),
                   server_p99=_pct(http["server_search_ms"] or [math.nan], 0.99))
        print(json.dumps(row, ensure_ascii=False), flush=True)
        rows.append(row)
    slopes = {key: _slope(sizes, [r[key] for r in rows])
              for key in ("core_search_p50", "core_floor_p50", "http_search_p50",
                          "http_floor_p50")}
    print(json.dumps(slopes))
    if args.no_docs:
        return
    write_section(f"search-benchmark-{backend}", f"Search ({backend})",
                  _text(args, backend, rows, slopes))


def _text(args: argparse.Namespace, backend: str, rows: list[dict[str, Any]],
          slopes: dict[str, float]) -> str:
    command = (f"`.venv/bin/python benchmarks/search.py --sizes {args.sizes} "
               f"--rounds {args.rounds}" + (" --database-url …`" if args.database_url else "`"))
    lines = [
        f"Run on {date.today()}, {os.cpu_count()} CPUs, {backend}: {command}. The machine is "
        "shared with other sessions: absolute figures are noisy, the ratios to the same-run "
        "floor less so.",
        "",
        "| listed | search p50 / p99 (in process) | floor p50 (indexed lookup) | × floor "
        "| `/api/search` p50 / p99 | `/api/health` p50 | × floor | server p50 / p99 "
        "| start (index ready) | first query |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['size']:,} | {r['core_search_p50']:.2f} / {r['core_search_p99']:.2f} ms "
            f"| {r['core_floor_p50']:.2f} ms | {r['core_search_p50'] / r['core_floor_p50']:.1f} "
            f"| {r['http_search_p50']:.1f} / {r['http_search_p99']:.1f} ms "
            f"| {r['http_floor_p50']:.1f} ms | {r['http_search_p50'] / r['http_floor_p50']:.1f} "
            f"| {r['server_p50']:.1f} / {r['server_p99']:.1f} ms | {r['startup_s']:.1f} s "
            f"| {r['first_ms']:.1f} ms |")
    lines += [
        "",
        "| listed | seed (bulk insert) | snapshot load | index build | index memory | jieba load |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['size']:,} | {r['seed_s']:.1f} s | {r['snapshot_s']:.1f} s "
                     f"| {r['index_s']:.1f} s | {r['index_mb']:.0f} MB | {r['jieba_s']:.2f} s |")
    lines += [
        "",
        f"Growth exponent (slope of log p50 over log n, {rows[0]['size']:,}–{rows[-1]['size']:,}): "
        f"search in process **{slopes['core_search_p50']:.2f}** (floor "
        f"{slopes['core_floor_p50']:.2f}), `/api/search` **{slopes['http_search_p50']:.2f}** "
        f"(floor {slopes['http_floor_p50']:.2f}). Every query found at least "
        f"{min(r['hits'] for r in rows)} mini-apps. \"start\" is from launching uvicorn until "
        "`/api/health` answers, which is after the startup hook loaded the serving snapshot and "
        "built the index; \"first query\" is the first `/api/search` after that.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
