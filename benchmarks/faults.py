"""Load-and-fault benchmark (not a test): a mixed workload against a real `townsquare serve` on
127.0.0.1 while its PostgreSQL is stopped for a while and started again.

  * a throw-away PostgreSQL cluster (initdb + pg_ctl, as the `postgres` system user when run as
    root) on its own port under a temp dir: the shared server is never touched;
  * `townsquare serve --workers N` in its own process, on a free port;
  * `--clients` threads for `--seconds`: gate scans (POST, each with its own client_id, retried
    with the same key and content after a 503 or a dropped connection until it is answered),
    `GET /api/me` reads and `GET /api/ready` probes;
  * after `--warmup` seconds the database is stopped (`pg_ctl stop -m fast`) for `--outage`
    seconds, then started again.

Reports answers by kind (2xx, 503 with a JSON body, 503 without, 500, other, dropped
connections), the recovery time (database start → first answered scan), and checks the
database afterwards: every scan the server acknowledged is recorded exactly once (lost and
duplicated, 0 expected). Updates the "Faults" section of docs/benchmarks.md.

    .venv/bin/python benchmarks/faults.py                       # 30 s, 8 clients, 2 workers
    .venv/bin/python benchmarks/faults.py --seconds 60 --outage 15 --clients 32 --workers 4
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from harness import (  # benchmarks/harness.py (this folder is on sys.path)
    free_port,
    wait_until_up,
    write_section,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
SECRET = "faults-benchmark-secret"


class Cluster:
    """A throw-away PostgreSQL cluster in a temp dir, on its own port."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="ts-faults-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0  # initdb refuses to run as root
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(["initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                   "--no-sync"])
        self.start()

    def _run(self, argv: list[str]) -> None:
        if self.as_postgres:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(["pg_ctl", "-D", str(self.data), "-o", options, "-l",
                   str(self.dir / "log"), "-w", "start"])

    def stop(self) -> None:
        self._run(["pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop"])

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def seed(url: str) -> dict:
    """The gate benchmark's community (one gate, a guard, households) plus a resident."""
    from gate import seed as gate_seed  # benchmarks/gate.py

    from townsquare.accounts.models import Role, RoleGrant, User
    from townsquare.core.database import Database
    from townsquare.core.security import hash_password

    world = gate_seed(url, 200)
    database = Database(url)
    with database.unit_of_work() as db:
        db.add(User(username="benchresident", display_name="居民",
                    password_hash=hash_password("pw-bench-1"),
                    roles=[RoleGrant(role=Role.RESIDENT)]))
    database.dispose()
    return world


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.kinds: collections.Counter[tuple[str, str]] = collections.Counter()
        self.acknowledged: set[str] = set()
        self.unanswered: set[str] = set()
        self.first_scan_after: dict[str, float] = {}

    def add(self, endpoint: str, kind: str) -> None:
        with self.lock:
            self.kinds[(endpoint, kind)] += 1


def kind_of(response) -> str:
    if response.status_code == 503:
        json_body = response.headers.get("content-type", "").startswith("application/json")
        retry = "retry-after" in response.headers
        return "503 json" + (" + Retry-After" if retry else "") if json_body else "503 other"
    if response.status_code >= 500:
        return str(response.status_code)
    return f"{response.status_code // 100}xx"


def run(args: argparse.Namespace) -> dict:
    import httpx

    from townsquare.community.gate import codes

    cluster = Cluster()
    server = None
    try:
        world = seed(cluster.url)
        port = free_port()
        env = {**os.environ, "TOWNSQUARE_DATABASE_URL": cluster.url,
               "TOWNSQUARE_SECRET_KEY": SECRET, "TOWNSQUARE_DATA_DIR": tempfile.mkdtemp(),
               "PYTHONPATH": args.server_src or str(ROOT / "src")}
        server = subprocess.Popen(
            [sys.executable, "-m", "townsquare.cli", "serve", "--port", str(port),
             "--workers", str(args.workers)],
            env=env, stdout=subprocess.DEVNULL, stderr=open(cluster.dir / "server.log", "w"),  # noqa: SIM115
        )
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base, seconds=120)

        def token(username: str) -> str:
            body = {"username": username, "password": "pw-bench-1"}
            return httpx.post(f"{base}/api/auth/token", json=body).json()["token"]

        guard = {"Authorization": f"Bearer {token('benchguard')}"}
        resident = {"Authorization": f"Bearer {token('benchresident')}"}
        tally = Tally()
        stop = threading.Event()
        marks: dict[str, float] = {}
        counter = iter(range(10**9))

        def scan(http: httpx.Client, n: int) -> None:
            client_id = f"bench-{n:010d}"
            body = {"gate": world["gate"], "direction": "exit", "client_id": client_id,
                    "code": codes.issue(SECRET.encode(), community=world["com"],
                                        subject=world["households"][n % 200],
                                        kind=codes.CodeKind.HOUSEHOLD, now=time.time())}
            while not stop.is_set():  # retried with the same key and content until answered
                try:
                    response = http.post(f"/api/community/{world['com']}/gate/scan",
                                         json=body, headers=guard)
                except httpx.TransportError as exc:
                    tally.add("scan", f"dropped ({type(exc).__name__})")
                    time.sleep(0.2)
                    continue
                tally.add("scan", kind_of(response))
                if response.status_code == 200:
                    with tally.lock:
                        tally.acknowledged.add(client_id)
                        if "started" in marks and "recovered" not in marks:
                            marks["recovered"] = time.monotonic()
                    return
                if response.status_code < 500:
                    return
                time.sleep(min(float(response.headers.get("retry-after", 1)), 0.5))
            with tally.lock:
                tally.unanswered.add(client_id)

        def client(i: int) -> None:
            with httpx.Client(base_url=base, timeout=30) as http:
                while not stop.is_set():
                    n = next(counter)
                    if n % 3 == 0:
                        scan(http, n)
                        continue
                    path, headers = ("/api/me", resident) if n % 3 == 1 else ("/api/ready", {})
                    try:
                        tally.add(path, kind_of(http.get(path, headers=headers)))
                    except httpx.TransportError as exc:
                        tally.add(path, f"dropped ({type(exc).__name__})")
                        time.sleep(0.2)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(args.warmup)
        marks["stopping"] = time.monotonic()
        cluster.stop()
        marks["stopped"] = time.monotonic()
        time.sleep(args.outage)
        cluster.start()
        marks["started"] = time.monotonic()
        time.sleep(max(0.0, args.seconds - (time.monotonic() - began)))
        stop.set()
        for thread in threads:
            thread.join(60)

        from sqlalchemy import func, select

        from townsquare.community.gate.models import Passage
        from townsquare.core.database import Database

        database = Database(cluster.url)
        with database.unit_of_work(read_only=True) as db:
            rows = db.execute(select(Passage.client_id, func.count()).group_by(Passage.client_id))
            recorded = {cid: n for cid, n in rows}
        database.dispose()
        lost = sorted(tally.acknowledged - recorded.keys())
        duplicated = sum(n - 1 for n in recorded.values() if n > 1)
        recovery = (marks["recovered"] - marks["started"]) if "recovered" in marks else None
        return {
            "kinds": tally.kinds, "acknowledged": len(tally.acknowledged),
            "recorded": len(recorded), "lost": len(lost), "duplicated": duplicated,
            "unanswered": len(tally.unanswered),
            "in_doubt_recorded": len(tally.unanswered & recorded.keys()),
            "recovery_s": recovery, "stop_s": marks["stopped"] - marks["stopping"],
            "args": vars(args),
        }
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
        cluster.destroy()


def report(result: dict) -> str:
    a = result["args"]
    lines = [
        f"`benchmarks/faults.py --seconds {a['seconds']} --warmup {a['warmup']} --outage "
        f"{a['outage']} --clients {a['clients']} --workers {a['workers']}`: a throw-away "
        "PostgreSQL stopped (`pg_ctl stop -m fast`) after the warm-up and started again after "
        "the outage, on this 2-core machine shared with other work.",
        "",
        "| endpoint | answer | count |",
        "|---|---|---:|",
    ]
    for (endpoint, kind), n in sorted(result["kinds"].items()):
        lines.append(f"| {endpoint} | {kind} | {n} |")
    recovery = result["recovery_s"]
    lines += [
        "",
        f"- recovery (database started → first answered scan): "
        f"{'n/a' if recovery is None else f'{recovery:.2f} s'}",
        f"- scans acknowledged {result['acknowledged']}, recorded {result['recorded']}; "
        f"**lost {result['lost']}, duplicated {result['duplicated']}**",
        f"- scans still unanswered at the end {result['unanswered']} "
        f"(of which recorded: {result['in_doubt_recorded']}; the device would retry them)",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--outage", type=float, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-write", action="store_true", help="print, do not update the docs")
    parser.add_argument("--server-src", default="",
                        help="serve another checkout's src/ (e.g. the code before a fix)")
    args = parser.parse_args()
    if args.warmup + args.outage >= args.seconds:
        parser.error("--seconds must exceed --warmup + --outage (time to recover)")
    text = report(run(args))
    print(text)
    if not args.no_write:
        write_section("faults", "Faults", text)


if __name__ == "__main__":
    main()
