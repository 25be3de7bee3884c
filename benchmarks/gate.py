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
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from harness import (  # benchmarks/harness.py (this folder is on sys.path)
    cpu_seconds,
    drive,
    percentile,
    uvicorn_server,
    write_section,
)

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
        ids, heads = [], []
        for i in range(households):
            room = Room(community_id=community.id, building=str(i // 100), number=str(i % 100))
            db.add(room)
            db.flush()
            household = Household(community_id=community.id, room_id=room.id)
            db.add(household)
            db.flush()
            for n, relation in enumerate((Relation.HEAD, Relation.SPOUSE)):
                member = Person(
                    community_id=community.id,
                    household_id=household.id,
                    real_name=f"住户{i}{n}",
                    id_digest=f"d{i}-{n}",
                    id_masked="4201***",
                    birth_date=date(1980, 1, 1),
                    relation=relation,
                )
                db.add(member)
                if relation is Relation.HEAD:
                    db.flush()
                    heads.append(member.public_id)
            ids.append(household.public_id)
        result = {"com": community.public_id, "gate": gate.public_id}
    database.dispose()
    return {**result, "households": ids, "members": heads}


def http(url: str, world: dict, requests: int, clients: int, rounds: int) -> dict[str, dict]:
    """The floor (`/api/health`) and scans through one live server in its own process, in
    interleaved rounds (floor, scans, floor, scans, …) so the shared machine's load weighs on
    both alike."""
    import httpx

    from townsquare.community.gate import codes

    env = {"TOWNSQUARE_DATABASE_URL": url, "TOWNSQUARE_SECRET_KEY": SECRET,
           "TOWNSQUARE_DATA_DIR": tempfile.mkdtemp()}
    households, members = world["households"], world["members"]
    scan_path = f"/api/community/{world['com']}/gate/scan"
    run_id = 0
    with uvicorn_server(env) as (base, server):
        token = httpx.post(
            f"{base}/api/auth/token", json={"username": "benchguard", "password": "pw-bench-1"},
            timeout=120,
        ).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}

        def floor(session, _i: int) -> bool:
            return session.get("/api/health").status_code == 200

        def scan(session, i: int) -> bool:
            # a household code; going out, the guard picks the member (the whole decision runs:
            # the person's health, who may go out, the quota), coming in it closes the exit
            n = (i // 2) % len(households)
            code = codes.issue(SECRET.encode(), community=world["com"], subject=households[n],
                               kind=codes.CodeKind.HOUSEHOLD, now=time.time())
            exit_ = i % 2 == 0
            body = {"gate": world["gate"], "code": code, "direction": "exit" if exit_ else "entry",
                    "client_id": f"bench-{run_id}-{i}"}  # as guard devices send (idempotency)
            if exit_:
                body["member"] = members[n]
            response = session.post(scan_path, json=body, headers=headers)
            return response.status_code == 200 and response.json()["allowed"]

        chunk = max(1, requests // rounds)
        runs: dict[str, list[dict]] = {"floor": [], "scan": []}
        for warm_up in (floor, scan):  # imports, caches, connections
            run_id += 1
            drive(base, clients, 100, warm_up)
        for _ in range(rounds):
            for name, send in (("floor", floor), ("scan", scan)):
                run_id += 1
                cpu = cpu_seconds(server.pid)
                run = drive(base, clients, chunk, send)
                run["cpu"] = cpu_seconds(server.pid) - cpu
                runs[name].append(run)
    results = {}
    for name, done in runs.items():
        latencies = [x for run in done for x in run["latencies"]]
        results[name] = {
            "requests": len(latencies),
            "per_s": len(latencies) / sum(run["wall"] for run in done),
            "good": sum(run["good"] for run in done),
            "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": percentile(latencies, 0.99) * 1000,
            "cpu_ms": sum(run["cpu"] for run in done) / len(latencies) * 1000,
            "round_per_s": [len(run["latencies"]) / run["wall"] for run in done],
        }
    results["scan"]["round_ratios"] = [
        s / f for s, f in zip(results["scan"]["round_per_s"], results["floor"]["round_per_s"],
                              strict=True)
    ]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500, help="per endpoint, all rounds")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
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
    result = http(url, world, args.requests, args.clients, max(1, args.rounds))
    floor, scans = result["floor"], result["scan"]
    for name, row in result.items():
        print(name, row)
    if scans["good"] != scans["requests"]:
        raise SystemExit(f"only {scans['good']} of {scans['requests']} scans were allowed")
    ratio = scans["per_s"] / floor["per_s"]
    rounds = ", ".join(f"{r:.2f}" for r in scans["round_ratios"])
    command = "`.venv/bin/python benchmarks/gate.py" + "".join(
        f" --{k.replace('_', '-')} {v}" for k, v in vars(args).items()
        if k in ("requests", "clients", "rounds", "households", "verifications")
    ) + (" --database-url …" if args.database_url else "") + "`"

    def row(label: str, r: dict) -> str:
        return (f"| {label} | {r['per_s']:,.0f} | {r['per_s'] / floor['per_s']:.2f}× | "
                f"{r['p50_ms']:.1f} ms | {r['p99_ms']:.1f} ms | {r['cpu_ms']:.2f} ms |")

    goal = "met" if ratio >= 0.3 else f"not met: {0.3 / ratio:.1f}× short"
    text = "\n".join(
        [
            f"Run on {date.today()}, {os.cpu_count()} CPUs shared with other sessions, {backend}: "
            f"{command}",
            "",
            f"**HTTP scans at {ratio:.2f}× the same server's `/api/health`** (goal ≥ 0.3×: "
            f"{goal}; per round: {rounds}).",
            "",
            "| endpoint, one uvicorn worker, "
            f"{args.clients} clients | per second | share of the floor | p50 | p99 "
            "| server CPU / request |",
            "|---|---:|---:|---:|---:|---:|",
            row("`GET /api/health` (floor)", floor),
            row("`POST /api/community/{com}/gate/scan`", scans),
            "",
            "| pure verification, same run | per second | vs. raw Ed25519 |",
            "|---|---:|---:|",
            f"| raw Ed25519 verify (floor) | {figures['floor_per_s']:,.0f} | 1.00× |",
            f"| code verify (`codes.verify`) | {figures['verify_per_s']:,.0f} | "
            f"{figures['floor_per_s'] / figures['verify_per_s']:.2f}× slower |",
            "",
            f"{args.households:,} households of two; scans alternate a household code going out "
            "(the guard picks the head: the person's health, who may go out and the quota are "
            "all checked) and coming back in (closing that exit); every scan must be allowed or "
            "the benchmark fails. Each scan authenticates the guard, verifies the code, locks "
            "the household, reads the health record (and audits the look), counts the quota and "
            "commits the passage. Floor and scans alternate in "
            f"{args.rounds} rounds through the same server; server CPU is the server process's "
            "user + system time over the requests. The load generator runs on the same two "
            "CPUs, which are shared with other sessions: the ratio is what counts.",
        ]
    )
    if not args.no_docs:
        write_section("gate-benchmark", "Gate", text)
    print(text)


if __name__ == "__main__":
    main()
