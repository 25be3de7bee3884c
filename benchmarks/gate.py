"""Gate benchmark (not a test): scans per second through the HTTP endpoint and pure code
verifications per second, against the floor of raw Ed25519 verifications in the same run.

  floor   cryptography's Ed25519 verify of the same signed bytes (what any verifier must do);
  verify  townsquare.community.gate.codes.verify (parse, key lookup, signature, claims, expiry);
  scan    POST /api/community/{com}/gate/scan on a live uvicorn (one worker process) on
          127.0.0.1: authentication, the code, the household lock, health status, quota count,
          the passage and the audit rows, committed — with `--clients` concurrent clients.

Updates the "Gate" section of docs/benchmarks.md.

    .venv/bin/python benchmarks/gate.py                      # SQLite in a temp dir
    .venv/bin/python benchmarks/gate.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

from harness import free_port, write_section  # benchmarks/harness.py (this folder is on sys.path)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
SECRET = "gate-benchmark-secret"


def pure(n: int) -> dict[str, float]:
    """Raw Ed25519 verifications vs. full code verifications, per second."""
    from townsquare.community.gate import codes
    from townsquare.core.security import b64url_decode

    com = "com_benchmarkbenchmark"[:20]
    secret = SECRET.encode()
    keys = codes.public_keys(secret, com)
    now = time.time()
    tokens = [
        codes.issue(
            secret, community=com, subject=f"hh_{i:016d}", kind=codes.CodeKind.HOUSEHOLD, now=now
        )
        for i in range(n)
    ]
    raw = []
    for token in tokens:
        kid, payload, signature = token.split(".")
        raw.append((keys[kid], b64url_decode(signature), f"{kid}.{payload}".encode()))
    started = time.perf_counter()
    for key, signature, message in raw:
        key.verify(signature, message)
    floor = time.perf_counter() - started
    started = time.perf_counter()
    for token in tokens:
        codes.verify(token, keys, community=com, now=now)
    full = time.perf_counter() - started
    return {"n": n, "floor_per_s": n / floor, "verify_per_s": n / full}


def seed(url: str, households: int) -> dict[str, str]:
    """A community with one gate, one guard and `households` households of two people."""
    from townsquare.accounts.models import Role, RoleGrant, User
    from townsquare.community.models import (
        Community,
        CommunityRole,
        CommunityRoleKind,
        Gate,
        GuardPost,
        Household,
        Person,
        Relation,
        Room,
    )
    from townsquare.core.database import Database
    from townsquare.core.security import hash_password
    from townsquare.models import metadata

    database = Database(url)
    metadata.drop_all(database.engine)
    metadata.create_all(database.engine)
    with database.unit_of_work() as db:
        guard = User(
            username="benchguard",
            display_name="门岗",
            password_hash=hash_password("pw-bench-1"),
            roles=[RoleGrant(role=Role.GUARD)],
        )
        community = Community(name="基准小区", exits_per_household=10**6)
        db.add_all([guard, community])
        db.flush()
        gate = Gate(community_id=community.id, name="东门")
        db.add_all(
            [
                gate,
                CommunityRole(
                    user_id=guard.id, community_id=community.id, role=CommunityRoleKind.GUARD
                ),
            ]
        )
        db.flush()
        db.add(GuardPost(user_id=guard.id, gate_id=gate.id))
        ids = []
        for i in range(households):
            room = Room(community_id=community.id, building=str(i // 100), number=str(i % 100))
            db.add(room)
            db.flush()
            household = Household(community_id=community.id, room_id=room.id)
            db.add(household)
            db.flush()
            for n, relation in enumerate((Relation.HEAD, Relation.SPOUSE)):
                db.add(
                    Person(
                        community_id=community.id,
                        household_id=household.id,
                        real_name=f"住户{i}{n}",
                        id_digest=f"d{i}-{n}",
                        id_masked="4201***",
                        birth_date=date(1980, 1, 1),
                        relation=relation,
                    )
                )
            ids.append(household.public_id)
        result = {"com": community.public_id, "gate": gate.public_id}
    database.dispose()
    return {**result, "households": ids}


def http(url: str, world: dict, requests: int, clients: int) -> dict[str, float]:
    """Scans per second through a live server in its own process."""
    import httpx

    from townsquare.community.gate import codes

    port = free_port()
    env = {
        **os.environ,
        "TOWNSQUARE_DATABASE_URL": url,
        "TOWNSQUARE_SECRET_KEY": SECRET,
        "TOWNSQUARE_DATA_DIR": tempfile.mkdtemp(),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "townsquare.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/api/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.1)
        token = httpx.post(
            f"{base}/api/auth/token", json={"username": "benchguard", "password": "pw-bench-1"}
        ).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        households = world["households"]
        latencies: list[float] = []
        allowed = 0
        lock = threading.Lock()
        counter = iter(range(requests))

        def client() -> None:
            nonlocal allowed
            with httpx.Client(base_url=base, headers=headers, timeout=60) as session:
                for i in counter:
                    code = codes.issue(
                        SECRET.encode(),
                        community=world["com"],
                        subject=households[i % len(households)],
                        kind=codes.CodeKind.HOUSEHOLD,
                        now=time.time(),
                    )
                    body = {
                        "gate": world["gate"],
                        "code": code,
                        "direction": "exit" if i % 2 == 0 else "entry",
                    }
                    started = time.perf_counter()
                    response = session.post(f"/api/community/{world['com']}/gate/scan", json=body)
                    elapsed = time.perf_counter() - started
                    ok = response.status_code == 200 and response.json()["allowed"]
                    with lock:
                        latencies.append(elapsed)
                        allowed += ok

        threads = [threading.Thread(target=client) for _ in range(clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=10)
    latencies.sort()
    return {
        "requests": requests,
        "clients": clients,
        "scans_per_s": requests / wall,
        "allowed": allowed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[int(len(latencies) * 0.95) - 1] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--households", type=int, default=500)
    parser.add_argument("--verifications", type=int, default=20000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="gate-bench-")
    url = args.database_url or f"sqlite:///{tmp}/gate.db"
    backend = url.split(":", 1)[0].split("+", 1)[0]

    figures = pure(args.verifications)
    print(f"pure: floor {figures['floor_per_s']:,.0f}/s, verify {figures['verify_per_s']:,.0f}/s")
    world = seed(url, args.households)
    scans = http(url, world, args.requests, args.clients)
    print(
        f"http: {scans['scans_per_s']:,.0f} scans/s, p50 {scans['p50_ms']:.1f} ms, "
        f"p95 {scans['p95_ms']:.1f} ms ({scans['allowed']} allowed)"
    )
    command = (
        "`.venv/bin/python benchmarks/gate.py"
        + "".join(
            f" --{k.replace('_', '-')} {v}"
            for k, v in vars(args).items()
            if k in ("requests", "clients", "households", "verifications")
        )
        + "`"
    )
    text = "\n".join(
        [
            f"Run on {date.today()}, {os.cpu_count()} CPUs, {backend}: {command}",
            "",
            "| measure | per second | vs. raw Ed25519 |",
            "|---|---:|---:|",
            f"| raw Ed25519 verify (floor) | {figures['floor_per_s']:,.0f} | 1.00× |",
            f"| code verify (`codes.verify`) | {figures['verify_per_s']:,.0f} | "
            f"{figures['floor_per_s'] / figures['verify_per_s']:.2f}× slower |",
            f"| HTTP scan, {scans['clients']} clients, {scans['requests']:,} requests | "
            f"{scans['scans_per_s']:,.0f} | {figures['floor_per_s'] / scans['scans_per_s']:.0f}× "
            "slower |",
            "",
            f"Scan latency p50 {scans['p50_ms']:.1f} ms, p95 {scans['p95_ms']:.1f} ms (one uvicorn "
            "worker; each scan authenticates, verifies the code, locks the household, reads the "
            "members' health, counts the quota and commits the passage and audit rows). The "
            "signature is a small part of a scan: the database round trips dominate. A busy gate "
            "sees a person every few seconds, so one worker keeps up with a few hundred gates.",
        ]
    )
    if not args.no_docs:
        write_section("gate-benchmark", "Gate", text)
    print(text)


if __name__ == "__main__":
    main()
