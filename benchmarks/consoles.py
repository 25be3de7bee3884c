"""Console pages benchmark (not a test): the rate of each console page the issue measured, as a
share of the same server's `/api/health` (the floor), in interleaved rounds, on a copy of a
demo-city database.

  operator  /console/operator/traffic, /console/operator/scoring, /console/operator/miniapps,
            /console/operator/hub
  merchant  /console/merchant/{id} and /console/merchant/{id}/traffic (the demo merchant's)
  resident  /community/{id} (the demo resident's community)

One uvicorn worker on SQLite (the demo's database, copied so the run changes nothing); the load is
`--clients` httpx threads in this process, each signed in as the page's role. Each round measures
the floor, then each page, for `--seconds` each; the share is the median over rounds of
page rate / that round's floor rate (paired, so a change in the shared machine's load weighs on
both alike). The machine is shared: figures are noisy, the ratios less so.

Build a demo city first (`townsquare demo --no-serve` with TOWNSQUARE_DATABASE_URL set), then:

    .venv/bin/python benchmarks/consoles.py --database /tmp/demo/townsquare.db
    .venv/bin/python benchmarks/consoles.py --database … --label before --no-write
    .venv/bin/python benchmarks/consoles.py --database … --compare-src ../main/src  # same rounds

Updates the "Consoles" section of docs/benchmarks.md (unless --no-write).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from harness import cpu_seconds, free_port, wait_until_up, write_section  # benchmarks/

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "townsquare-demo"  # simulation.demo_city.DEMO_PASSWORD


def demo_ids(database: Path) -> dict[str, str]:
    """The demo merchant's and the demo resident's community's public ids."""
    with sqlite3.connect(database) as db:
        merchant = db.execute(
            "SELECT m.public_id FROM merchants m JOIN merchant_staff s ON s.merchant_id = m.id "
            "JOIN users u ON u.id = s.user_id WHERE u.username = 'merchant' ORDER BY m.id LIMIT 1"
        ).fetchone()[0]
        community = db.execute(
            "SELECT c.public_id FROM communities c JOIN community_persons p "
            "ON p.community_id = c.id JOIN users u ON u.id = p.user_id "
            "WHERE u.username = 'resident' LIMIT 1"
        ).fetchone()
        if community is None:
            community = db.execute("SELECT public_id FROM communities ORDER BY id").fetchone()
    return {"merchant": merchant, "community": community[0]}


def sign_in(base: str, username: str) -> httpx.Cookies:
    with httpx.Client(base_url=base, headers={"Origin": base}) as client:
        answer = client.post("/login", data={"username": username, "password": PASSWORD,
                                              "next": "/"})
        if answer.status_code >= 400 or "/login" in answer.headers.get("location", "/login"):
            raise RuntimeError(f"could not sign in as {username}: {answer.status_code}")
        return client.cookies


def load(base: str, path: str, cookies: httpx.Cookies | None, seconds: float,
         clients: int, server: int) -> dict[str, Any]:
    """Closed loop: `clients` threads request `path` for `seconds`; the server's CPU time."""
    statuses: list[int] = []
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def client() -> None:
        with httpx.Client(base_url=base, cookies=cookies, timeout=180) as session:
            while time.perf_counter() < stop:
                started = time.perf_counter()
                status = session.get(path).status_code
                elapsed = time.perf_counter() - started
                with lock:
                    statuses.append(status)
                    latencies.append(elapsed)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    cpu = cpu_seconds(server)
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {"rps": len(statuses) / wall, "latencies": latencies,
            "cpu_ms": (cpu_seconds(server) - cpu) * 1000 / max(len(statuses), 1),
            "ok": sum(s == 200 for s in statuses), "n": len(statuses)}


def run(database: Path, *, seconds: float, rounds: int, clients: int,
        sources: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Each source's server on its own copy of the database; every round measures the floor
    and each page on each server in turn (the same moment's load for each)."""
    work = Path(tempfile.mkdtemp(prefix="consoles-bench-"))
    servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    ids: dict[str, str] = {}
    try:
        for label, src in sources.items():
            folder = work / label
            folder.mkdir()
            copy = folder / "townsquare.db"
            shutil.copy(database, copy)
            ids = demo_ids(copy)
            port = free_port()
            env = {**os.environ, "TOWNSQUARE_DATABASE_URL": f"sqlite:///{copy}",
                   "TOWNSQUARE_SECRET_KEY": "consoles-benchmark-secret",
                   "TOWNSQUARE_DATA_DIR": str(folder), "PYTHONPATH": src}
            subprocess.run([sys.executable, "-m", "townsquare.cli", "migrate"], env=env,
                           check=True, stdout=subprocess.DEVNULL)
            servers[label] = (subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "townsquare.app:create_app", "--factory",
                 "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                 "--no-access-log"],
                env=env, stdout=subprocess.DEVNULL, stderr=(folder / "server.log").open("w"),
            ), f"http://127.0.0.1:{port}")
        pages = {
            "/console/operator/traffic": ("operator", "/console/operator/traffic"),
            "/console/operator/scoring": ("operator", "/console/operator/scoring"),
            "/console/operator/miniapps": ("operator", "/console/operator/miniapps"),
            "/console/operator/hub": ("operator", "/console/operator/hub"),
            "/console/merchant/{id}": ("merchant", f"/console/merchant/{ids['merchant']}"),
            "/console/merchant/{id}/traffic": ("merchant",
                                               f"/console/merchant/{ids['merchant']}/traffic"),
            "/community/{id}": ("resident", f"/community/{ids['community']}"),
        }
        cookies: dict[str, dict[str, httpx.Cookies]] = {}
        for label, (server, base) in servers.items():
            wait_until_up(base, seconds=120)
            cookies[label] = {role: sign_in(base, role)
                              for role in {r for r, _p in pages.values()}}
            for role, path in pages.values():  # warm up; and every page must answer 200
                status = httpx.get(base + path, cookies=cookies[label][role],
                                   timeout=180).status_code
                if status != 200:
                    raise RuntimeError(f"{path} answered {status}")
                load(base, path, cookies[label][role], 1, clients, server.pid)
        results = {label: {"shares": {name: [] for name in pages},
                           "cpu_shares": {name: [] for name in pages},
                           "cpu": {name: [] for name in [*pages, "floor"]},
                           "rates": {name: [] for name in [*pages, "floor"]},
                           "latencies": {name: [] for name in pages}} for label in servers}
        for _ in range(rounds):
            for label, (server, base) in servers.items():
                result = results[label]
                floor = load(base, "/api/health", None, seconds, clients, server.pid)
                result["rates"]["floor"].append(floor["rps"])
                result["cpu"]["floor"].append(floor["cpu_ms"])
                for name, (role, path) in pages.items():
                    measured = load(base, path, cookies[label][role], seconds, clients,
                                    server.pid)
                    if measured["ok"] != measured["n"]:
                        raise RuntimeError(f"{path}: {measured['n'] - measured['ok']} not 200")
                    result["rates"][name].append(measured["rps"])
                    result["latencies"][name] += measured["latencies"]
                    result["shares"][name].append(measured["rps"] / floor["rps"])
                    result["cpu"][name].append(measured["cpu_ms"])
                    result["cpu_shares"][name].append(floor["cpu_ms"] / measured["cpu_ms"])
    finally:
        for server, _base in servers.values():
            server.terminate()
        for server, _base in servers.values():
            server.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    return results


def table(result: dict[str, Any], label: str) -> str:
    lines = [f"| page ({label}) | requests/s | share of the floor's rate | server CPU / request "
             "| share of the floor's CPU | p50 | p99 |", "|---|---|---|---|---|---|---|"]
    floor = statistics.median(result["rates"]["floor"])
    floor_cpu = statistics.median(result["cpu"]["floor"])
    lines.append(f"| `/api/health` (floor) | {floor:,.0f} | 1 | {floor_cpu:.1f} ms | 1 | | |")
    for name, shares in result["shares"].items():
        ordered = sorted(result["latencies"][name])
        p50 = statistics.median(ordered) * 1000
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        lines.append(f"| `{name}` | {statistics.median(result['rates'][name]):,.0f} | "
                     f"{statistics.median(shares):.3f}× | "
                     f"{statistics.median(result['cpu'][name]):.1f} ms | "
                     f"{statistics.median(result['cpu_shares'][name]):.3f}× | "
                     f"{p50:.0f} ms | {p99:.0f} ms |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", type=Path, required=True, help="a demo city's SQLite file")
    parser.add_argument("--seconds", type=float, default=4.0, help="per page per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--label", default="after")
    parser.add_argument("--compare-src", default="",
                        help="another checkout's src/ (e.g. main's), measured as \"before\" "
                             "in the same rounds")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    sources = {args.label: str(ROOT / "src")}
    if args.compare_src:
        sources = {"before": str(Path(args.compare_src).resolve()), **sources}
    results = run(args.database, seconds=args.seconds, rounds=args.rounds, clients=args.clients,
                  sources=sources)
    text = "\n\n".join(table(result, label) for label, result in results.items())
    print(text)
    command = " ".join(sys.argv[1:])
    if not args.no_write:
        write_section("consoles", "Consoles", text + "\n\n" + (
            f"`benchmarks/consoles.py {command}`: one uvicorn worker, SQLite, a copy of the demo "
            "city" + (f"; \"before\" is the server of `{args.compare_src}` on its own copy, "
                      "measured in the same rounds" if args.compare_src else "")
            + "; the share is the median over rounds of the page's rate over the same round's "
            "floor; the CPU share is the floor's server CPU per request over the page's."
        ))


if __name__ == "__main__":
    main()
