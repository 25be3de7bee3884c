"""Pages benchmark (not a test): every page and JSON read endpoint (GET) of the demo city, as
each role, against the floor of the same server (`/api/health`) measured just before it.

1. A throw-away database (SQLite in a temp dir, or a new database on the PostgreSQL server
   `--database-url` names) gets the demo city (`townsquare demo --no-serve`), and
   `townsquare serve` runs on it (`--workers`; SQLite: one).
2. Each role logs in (the demo logins; guests do not) and crawls from its start page: every
   same-site link of every page it reaches, GET only, until each route it can reach has a real
   URL (`--max-pages`). Each URL is mapped to its route (the app's own path patterns), so one
   URL stands for each route and role. JSON read endpoints come from the same routes: those
   whose parameters the crawl found ids for. `/go/…` (records a click) and `/logout` are left
   out.
3. Per route and role, closed-loop load (`wrk`, else httpx threads) for `--seconds`, right after
   `--floor-seconds` of the floor: the table gives the route's rate, p50 and p99, and its share
   of that floor's rate.
4. Seed scale: the home page as a guest and as a signed-in resident, in `--rounds` interleaved
   rounds with the floor, longer, against the seed's national average (390 requests/s), with
   the server's CPU time per request (less sensitive to a shared machine than the rate).

Updates the "Pages" sections of docs/benchmarks.md.

    .venv/bin/python benchmarks/pages.py                                   # SQLite, 1 worker
    .venv/bin/python benchmarks/pages.py --workers 2 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    # repeated runs: keep a demo city in a database of your own (built on the first run)
    .venv/bin/python benchmarks/pages.py --workers 2 --no-crawl --existing \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/pages_demo
    # before/after in one run: main's server beside this one, rounds alternating between them
    .venv/bin/python benchmarks/pages.py --workers 2 --no-crawl --compare-src ../main/src \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from harness import cpu_seconds, free_port, wait_until_up, write_section

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
SECRET = "pages-benchmark-secret"
FLOOR = "/api/health"
ANCHOR = 390.0  # the seed's national average, requests/s
P99_GOAL_MS = 200.0  # issue 20's goal for the home page, with the anchor and the share below
SHARE_GOAL = 0.5  # of the same server's floor, same rounds
ROLES = ("guest", "resident", "merchant", "isv", "operator", "property", "committee", "guard")
SKIP = re.compile(r"^/(go/|logout|static/|docs|redoc|openapi\.json|metrics)")
ID = re.compile(r"\b([a-z]{1,8}_[0-9a-z]{6,32})\b")


# -- the server ----------------------------------------------------------------------------------
@contextmanager
def throwaway_database(url: str):
    """A new empty database: a SQLite file in a temp dir, or `pages_bench_<pid>` on the
    PostgreSQL server of `url` (dropped afterwards)."""
    if not url.startswith("postgresql"):
        folder = tempfile.mkdtemp(prefix="pages-bench-")
        try:
            yield f"sqlite:///{folder}/townsquare.db", folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    from sqlalchemy import create_engine, text

    name = f"pages_bench_{os.getpid()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    folder = tempfile.mkdtemp(prefix="pages-bench-")
    try:
        yield url.rsplit("/", 1)[0] + "/" + name, folder
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def existing_database(url: str):
    """`--existing`: the database `url` names as it is (a demo city built by an earlier run or
    by `townsquare demo --no-serve` with the same secret, so the logins' passwords work); kept
    afterwards. Saves the build (minutes) when runs are repeated."""
    folder = tempfile.mkdtemp(prefix="pages-bench-")
    try:
        yield url, folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _family(pid: int) -> list[int]:
    """The server process and its descendants (uvicorn's supervisor and worker processes)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(child for child, parent in parents.items() if parent == current)
    return found


# -- load ----------------------------------------------------------------------------------------
def _wrk(url: str, seconds: float, connections: int, cookie: str) -> dict[str, Any]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        found = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\b", out, re.M)
        if not found:
            return float("nan")
        value, unit = float(found.group(1)), found.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    count = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: .*timeout (\d+)", out)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return {"rate": rate, "p50": ms("50%"), "p99": ms("99%"), "count": count,
            "bad": int(bad.group(1)) if bad else 0,
            "timeouts": int(errors.group(1)) if errors else 0}


def _threads(url: str, seconds: float, connections: int, cookie: str) -> dict[str, Any]:
    """Closed-loop load with httpx threads (when wrk is not installed)."""
    latencies: list[float] = []
    bad = [0]
    stop = time.perf_counter() + seconds
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(headers={"cookie": cookie} if cookie else {}, timeout=30) as http:
            while time.perf_counter() < stop:
                started = time.perf_counter()
                status = http.get(url).status_code
                with lock:
                    latencies.append((time.perf_counter() - started) * 1000)
                    bad[0] += status >= 400

    started = time.perf_counter()
    workers = [threading.Thread(target=client) for _ in range(connections)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - started
    latencies.sort()

    def pct(share: float) -> float:
        return latencies[min(len(latencies) - 1, int(share * len(latencies)))] if latencies \
            else float("nan")

    return {"rate": len(latencies) / wall, "p50": pct(0.5), "p99": pct(0.99),
            "count": len(latencies), "bad": bad[0], "timeouts": 0}


def load(base: str, path: str, seconds: float, connections: int, cookie: str = "",
         pids: list[int] | None = None) -> dict[str, Any]:
    cpu = cpu_seconds(*(pids or []))
    run = (_wrk if shutil.which("wrk") else _threads)(base + path, seconds, connections, cookie)
    if pids:
        run["cpu_ms"] = (cpu_seconds(*pids) - cpu) * 1000 / max(1, run["count"])
    return run


def warm(base: str, url: str, cookie: str, times: int = 8) -> int:
    """Requests first, each on a new connection so that every worker process gets some (its
    caches, templates, connections: a cold worker would weigh on a one-second measurement);
    the last one's status."""
    headers = {"cookie": cookie} if cookie else {}
    return [httpx.get(base + url, headers=headers, timeout=60).status_code
            for _ in range(times)][-1]


def _share(run: dict[str, Any], floor: dict[str, Any]) -> float:
    return run["rate"] / floor["rate"] if floor["rate"] else float("nan")


# -- the crawl -----------------------------------------------------------------------------------
class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and (name == "href" or (name == "hx-get")):
                self.links.append(value)


def routes() -> list[tuple[str, re.Pattern[str], bool]]:
    """(path pattern, its regex, is JSON) of every GET route of the app."""
    from townsquare.app import ROUTERS

    found = [(FLOOR, re.compile("^/api/health$"), True)]
    for router in ROUTERS:
        for route in router.routes:
            methods = getattr(route, "methods", None) or set()
            if "GET" in methods:
                path = route.path  # type: ignore[attr-defined]
                found.append((path, route.path_regex,  # type: ignore[attr-defined]
                              path.startswith("/api/")))
    return found


def route_of(path: str, table: list[tuple[str, re.Pattern[str], bool]]) -> str | None:
    for pattern, regex, _json in table:
        if regex.match(path):
            return pattern
    return None


def login(base: str, username: str, password: str) -> str:
    response = httpx.post(f"{base}/login", data={"username": username, "password": password,
                                                 "next": "/"})
    cookie = response.cookies.get("ts_session")
    if response.status_code != 303 or not cookie:
        raise RuntimeError(f"{username} could not log in ({response.status_code})")
    return f"ts_session={cookie}"


def crawl(base: str, start: str, cookie: str, table: list[tuple[str, re.Pattern[str], bool]],
          max_pages: int) -> tuple[dict[str, str], set[str]]:
    """One URL per route reachable from `start` (route pattern -> URL), and the ids seen."""
    chosen: dict[str, str] = {}
    ids: set[str] = set()
    queue, seen = [start, "/"], set()
    with httpx.Client(base_url=base, headers={"cookie": cookie} if cookie else {},
                      timeout=30) as http:
        while queue and len(seen) < max_pages:
            url = queue.pop(0)
            path = urlsplit(url).path
            route = route_of(path, table)
            if url in seen or route is None or (route in chosen and chosen[route] != url):
                continue  # a route is measured by one URL: more of them only cost time
            seen.add(url)
            response = http.get(url)
            if response.status_code != 200:
                continue
            chosen.setdefault(route, url)
            ids.update(ID.findall(response.text))
            if "html" not in response.headers.get("content-type", ""):
                continue
            parser = _Links()
            parser.feed(response.text)
            for link in parser.links:
                target = urljoin(base + path, link)
                if not target.startswith(base):
                    continue
                rel = target[len(base):].split("#")[0]
                if rel and not SKIP.match(rel) and rel not in seen:
                    queue.append(rel)
    return chosen, ids


def api_urls(table: list[tuple[str, re.Pattern[str], bool]], ids: set[str],
             slugs: set[str]) -> dict[str, str]:
    """JSON GET routes, their parameters filled with ids of the right kind the crawl saw."""
    by_prefix: dict[str, str] = {}
    for found in sorted(ids):
        by_prefix.setdefault(found.split("_", 1)[0], found)
    out = {}
    for pattern, _regex, is_json in table:
        if not is_json or SKIP.match(pattern):
            continue
        url, ok = pattern, True
        for name in re.findall(r"\{([^}:]+)[^}]*\}", pattern):
            value = _value_for(name, pattern, by_prefix, slugs)
            if value is None:
                ok = False
                break
            url = re.sub(r"\{" + re.escape(name) + r"[^}]*\}", value, url)
        if ok:
            out[pattern] = url
    return out


_PREFIXES = {"miniapp": "ma", "merchant": "mer", "section": "hub", "topic": "top",
             "community": "com", "provider": "isv", "version": "ver", "promise": "prm",
             "member": "tpm", "order": "ord", "conversation": "cnv", "thread": "thr"}


def _value_for(name: str, pattern: str, by_prefix: dict[str, str], slugs: set[str]) -> str | None:
    if name == "slug":
        return sorted(slugs)[0] if slugs else None
    key = name.removesuffix("_id")
    prefix = _PREFIXES.get(key)
    if prefix is None and name == "id":  # /api/<things>/{id}: the kind is the path word before
        word = pattern.rstrip("/").split("/{id}")[0].rsplit("/", 1)[-1].rstrip("s")
        prefix = _PREFIXES.get(word)
    return by_prefix.get(prefix) if prefix else None


# -- the report ----------------------------------------------------------------------------------
def _fmt(ms: float) -> str:
    return "–" if ms != ms else f"{ms:,.1f} ms" if ms < 1000 else f"{ms / 1000:,.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default="",
                        help="a PostgreSQL server (a throw-away database is made); default SQLite")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=1.0, help="per route and role")
    parser.add_argument("--floor-seconds", type=float, default=1.0, help="floor before each")
    parser.add_argument("--max-pages", type=int, default=60, help="crawled per role")
    parser.add_argument("--rounds", type=int, default=3, help="seed-scale rounds")
    parser.add_argument("--round-seconds", type=float, default=5.0)
    parser.add_argument("--roles", default=",".join(ROLES))
    parser.add_argument("--no-crawl", action="store_true", help="only the seed-scale run")
    parser.add_argument("--existing", action="store_true",
                        help="use the database of --database-url as it is (the demo city built "
                             "there if missing) instead of a throw-away one")
    parser.add_argument("--compare-src", default="",
                        help="another checkout's src/ (e.g. main's): its server runs beside this "
                             "one on the same database and the seed-scale rounds alternate "
                             "between the two (before/after in one run)")
    args = parser.parse_args()
    from townsquare.simulation.demo_city import DEMO_LOGINS, DEMO_PASSWORD

    starts = {username: path for _role, username, path in DEMO_LOGINS}
    load_before = os.getloadavg()[0]
    database = (existing_database(args.database_url) if args.existing
                else throwaway_database(args.database_url))
    with database as (url, folder):
        kind = "postgresql" if url.startswith("postgresql") else "sqlite"
        workers = args.workers if kind == "postgresql" else 1
        env = {**os.environ, "TOWNSQUARE_DATABASE_URL": url, "TOWNSQUARE_SECRET_KEY": SECRET,
               "TOWNSQUARE_DATA_DIR": folder, "PYTHONPATH": str(ROOT / "src")}
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "townsquare.cli", "demo", "--no-serve"], env=env,
                       check=True, stdout=subprocess.DEVNULL)  # (finds an existing one: no-op)
        built = time.perf_counter() - started
        sources = {"this": str(ROOT / "src")}
        if args.compare_src:
            sources = {"compared": str(Path(args.compare_src).resolve()), **sources}
        servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
        try:
            for label, src in sources.items():
                port = free_port()
                sink = open(Path(folder) / f"server-{label}.log", "w")  # noqa: SIM115
                servers[label] = (subprocess.Popen(
                    [sys.executable, "-m", "townsquare.cli", "serve", "--port", str(port),
                     "--workers", str(workers)], env={**env, "PYTHONPATH": src},
                    stdout=sink, stderr=sink), f"http://127.0.0.1:{port}")
            for _server, base in servers.values():
                wait_until_up(base, seconds=600)  # a loaded machine starts slowly
            time.sleep(1 if workers == 1 else 3)  # every worker up
            targets = {label: (base, _family(server.pid))
                       for label, (server, base) in servers.items()}
            measured = measure(args, targets, starts, DEMO_PASSWORD)
        finally:
            for server, _base in servers.values():
                server.terminate()
            for server, _base in servers.values():
                server.wait(timeout=60)
    report(args, measured, kind=kind, workers=workers, built=built,
           loads=(load_before, os.getloadavg()[0]))


def measure(args: argparse.Namespace, targets: dict[str, tuple[str, list[int]]],
            starts: dict[str, str], password: str) -> dict[str, Any]:
    base, pids = targets["this"]
    table = routes()
    cookies = {role: "" if role == "guest" else login(base, role, password)
               for role in args.roles.split(",")}
    rows: list[dict[str, Any]] = []
    refused: list[str] = []
    if not args.no_crawl:
        for role, cookie in cookies.items():
            chosen, ids = crawl(base, starts.get(role, "/"), cookie, table, args.max_pages)
            slugs = {u.rsplit("/", 1)[-1].split("?")[0] for u in chosen.values()
                     if u.startswith(("/channels/", "/topics/"))}
            urls = {**chosen, **{p: u for p, u in api_urls(table, ids, slugs).items()
                                 if p not in chosen}}
            urls.pop(FLOOR, None)
            for pattern, url in sorted(urls.items()):
                status = warm(base, url, cookie)
                if status != 200:  # a refusal (401, 403) or a missing id: not this role's read
                    refused.append(f"{role} `{pattern}` {status}")
                    continue
                floor = load(base, FLOOR, args.floor_seconds, args.connections)
                run = load(base, url, args.seconds, args.connections, cookie, pids)
                rows.append({"role": role, "route": pattern, "url": url, "floor": floor,
                             **run})
                print(f"{role:10} {pattern:50} {run['rate']:8.1f}/s "
                      f"{_share(run, floor):6.3f}× floor  p99 {_fmt(run['p99'])}", flush=True)
    resident = cookies.get("resident") or login(base, "resident", password)
    seed = {label: seed_scale(args, where, pids, resident)
            for label, (where, pids) in targets.items()} if len(targets) == 1 else \
        seed_compared(args, targets, resident)
    return {"rows": rows, "seed": seed, "refused": refused}


def seed_scale(args: argparse.Namespace, base: str, pids: list[int],
               resident: str) -> dict[str, list[dict[str, Any]]]:
    """Floor, guest home page and signed-in home page in interleaved rounds."""
    return seed_compared(args, {"this": (base, pids)}, resident)["this"]


def seed_compared(args: argparse.Namespace, targets: dict[str, tuple[str, list[int]]],
                  resident: str) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Floor, guest home page and signed-in home page in interleaved rounds, each round
    going through every server in turn (the same moment's load for each)."""
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {
        label: {"floor": [], "guest": [], "resident": []} for label in targets}
    for base, _pids in targets.values():
        for cookie in ("", resident):
            warm(base, "/", cookie, times=40)
    for _ in range(args.rounds):
        for label, (base, pids) in targets.items():
            found = runs[label]
            found["floor"].append(load(base, FLOOR, args.round_seconds, args.connections, "",
                                       pids))
            found["guest"].append(load(base, "/", args.round_seconds, args.connections, "",
                                       pids))
            found["resident"].append(load(base, "/", args.round_seconds, args.connections,
                                          resident, pids))
    for label, by_name in runs.items():
        for name, found in by_name.items():
            print(f"seed scale {label:9} {name:9} "
                  + ", ".join(f"{r['rate']:.0f}/s" for r in found))
    return runs


def report(args: argparse.Namespace, measured: dict[str, Any], *, kind: str, workers: int,
           built: float, loads: tuple[float, float]) -> None:
    today = date.today().isoformat()
    tool = "wrk" if shutil.which("wrk") else "httpx threads"
    command = "`.venv/bin/python benchmarks/pages.py " + " ".join(sys.argv[1:]) + "`"
    head = (f"Run on {today}, {os.cpu_count()} CPUs shared with other work (load average "
            f"{loads[0]:.1f} before, {loads[1]:.1f} after), {kind}, `townsquare serve --workers "
            f"{workers}` on the demo city (built in {built:.0f} s), {tool} with "
            f"{args.connections} connections on the same machine: {command}")
    rows = measured["rows"]
    if rows:
        lines = [head, "",
                 f"Each route for {args.seconds:g} s right after {args.floor_seconds:g} s of the "
                 f"floor (`{FLOOR}`); share = the route's rate ÷ that floor's rate. Server CPU "
                 "is the server processes' user + system time per request.", "",
                 "| role | route | requests/s | p50 | p99 | share of floor | server CPU / "
                 "request | errors |",
                 "|---|---|---:|---:|---:|---:|---:|---:|"]
        for row in rows:
            share = _share(row, row["floor"])
            errors = row["bad"] + row["timeouts"]
            lines.append(
                f"| {row['role']} | `{row['route']}` | {row['rate']:,.0f} | {_fmt(row['p50'])} "
                f"| {_fmt(row['p99'])} | {share:.3f}× | {row.get('cpu_ms', float('nan')):.1f} ms "
                f"| {errors:,} / {row['count']:,} |")
        shares = [_share(r, r["floor"]) for r in rows if r["floor"]["rate"]]
        worst = sorted((r for r in rows if r["floor"]["rate"]),
                       key=lambda r: _share(r, r["floor"]))[:5]
        lines += ["", f"{len(rows)} route × role pairs; share of the floor: median "
                  f"{statistics.median(shares):.3f}×, lowest "
                  + ", ".join(f"`{r['route']}` as {r['role']} "
                              f"{_share(r, r['floor']):.3f}×" for r in worst) + ".",
                  "", f"Not measured ({len(measured['refused'])} route × role pairs that did not "
                  "answer 200 to that role: refusals and ids of another kind): "
                  + ", ".join(measured["refused"]) + "."]
        write_section(f"pages-crawl-{kind}", f"Pages: every route as each role ({kind})",
                      "\n".join(lines))
    seed = measured["seed"]
    compared = len(seed) > 1
    lines = [head, "", f"{args.rounds} interleaved rounds of {args.round_seconds:g} s each "
             "(floor, guest, signed-in resident"
             + (f"; each round through the server of `{args.compare_src}` (\"before\") and of "
                "this checkout (\"after\") in turn, both on the same database" if compared
                else "") + "); medians over the rounds; share of floor = the median of each "
             "round's own ratio to the floor measured just before it.", "",
             "| server | endpoint | requests/s | p50 | p99 | share of floor | ÷ 390/s anchor | "
             "server CPU / request |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    names = {"compared": "before", "this": "after" if compared else "this"}
    for server, runs in seed.items():
        for name, label in (("floor", f"`{FLOOR}` (floor)"), ("guest", "`/` as a guest"),
                            ("resident", "`/` signed in (resident)")):
            found = runs[name]
            rate = statistics.median(r["rate"] for r in found)
            share = statistics.median(r["rate"] / f["rate"]
                                      for r, f in zip(found, runs["floor"], strict=True))
            lines.append(
                f"| {names[server]} | {label} | {rate:,.0f} | "
                f"{_fmt(statistics.median(r['p50'] for r in found))} | "
                f"{_fmt(statistics.median(r['p99'] for r in found))} | {share:.3f}× | "
                f"{rate / ANCHOR:.2f}× | "
                f"{statistics.median(r.get('cpu_ms', float('nan')) for r in found):.2f} ms |")
    mine = seed["this"]
    for name, label in (("guest", "guest"), ("resident", "signed in")):
        rate = statistics.median(r["rate"] for r in mine[name])
        p99 = statistics.median(r["p99"] for r in mine[name])
        share = statistics.median(r["rate"] / f["rate"]
                                  for r, f in zip(mine[name], mine["floor"], strict=True))
        verdict = [f"{rate:,.0f}/s {'≥' if rate >= ANCHOR else '<'} {ANCHOR:.0f}/s",
                   f"p99 {_fmt(p99)} {'<' if p99 < P99_GOAL_MS else '≥'} {P99_GOAL_MS:.0f} ms",
                   f"{share:.3f}× {'≥' if share >= SHARE_GOAL else '<'} {SHARE_GOAL}× the floor"]
        met = rate >= ANCHOR and p99 < P99_GOAL_MS and share >= SHARE_GOAL
        lines += ["", f"Goal for the {label} home page ({ANCHOR:.0f}/s, p99 < "
                  f"{P99_GOAL_MS:.0f} ms, ≥ {SHARE_GOAL}× the floor): "
                  + ("**met**" if met else "**not met**") + ": " + "; ".join(verdict) + "."]
    lines += ["", "All rounds, requests/s: " + "; ".join(
        f"{names[server]} {name} " + ", ".join(f"{r['rate']:,.0f}" for r in found)
        for server, runs in seed.items() for name, found in runs.items()) + "."]
    write_section(f"pages-seed-{kind}" + ("-compared" if compared else ""),
                  f"Pages: the home page at the seed's rate ({kind}"
                  + (", before and after" if compared else "") + ")", "\n".join(lines))


if __name__ == "__main__":
    main()
