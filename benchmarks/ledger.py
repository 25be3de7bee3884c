"""Ledger benchmark (not a test): journal entries posted per second on PostgreSQL against a plain
INSERT floor measured in the same run, in interleaved rounds.

  floor    one transaction per operation: INSERT one row into a plain table, COMMIT (no checks,
           no balances, no idempotency key);
  ledger   one transaction per operation: `ledger.post` of a payment as the trades post it
           (wallet −, merchant pending +, platform fees +: 3 postings), with an idempotency key —
           the conditional balance updates in account order, the entry, its postings, COMMIT.

Each is run by `--threads` threads at once, in three shapes for the ledger: payers and payees all
different and no fee ("alone": 2 postings, no row shared between threads); the same with the
platform fee ("spread": every payment also credits `platform:fees`, one row shared by all); and
every payment to one merchant ("hot"). A fresh
database is created for the run and dropped after it. Updates the "Ledger" section of
docs/benchmarks.md.

    .venv/bin/python benchmarks/ledger.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/python benchmarks/ledger.py --ops 2000 --rounds 3 --threads 4 --no-docs
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from harness import percentile, write_section

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def scratch_database(url: str):
    """A database of its own for the run (dropped afterwards)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"ts_bench_ledger_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def prepare(url: str, *, wallets: int):
    from sqlalchemy import text

    from townsquare.core.database import Database
    from townsquare.models import metadata
    from townsquare.payments import ledger
    from townsquare.payments.ledger import accounts

    database = Database(url, pool_size=16, max_overflow=8)
    metadata.create_all(database.engine)
    with database.engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_floor (id BIGSERIAL PRIMARY KEY, "
                          "reference VARCHAR(64) NOT NULL, amount_fen BIGINT NOT NULL, "
                          "created_at TIMESTAMPTZ NOT NULL DEFAULT now())"))
    with database.unit_of_work() as db:  # every wallet holds plenty; every account exists
        for i in range(wallets):
            ledger.post(db, kind="top_up", reference=f"seed-{i}",
                        legs={accounts.BANK_CLEARING: -10**12, accounts.wallet(i): 10**12})
    return database


def run_case(threads: int, ops: int, one: Callable[[int, int], None]) -> dict[str, float]:
    """`ops` operations split over `threads` threads started together; rate and latencies."""
    barrier = threading.Barrier(threads)
    per = ops // threads
    latencies: list[list[float]] = [[] for _ in range(threads)]

    def worker(t: int) -> None:
        barrier.wait()
        for i in range(per):
            start = time.perf_counter()
            one(t, i)
            latencies[t].append((time.perf_counter() - start) * 1000)

    began = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, range(threads)))
    elapsed = time.perf_counter() - began
    flat = sorted(ms for part in latencies for ms in part)
    return {"rate": len(flat) / elapsed, "p50": percentile(flat, 0.5),
            "p99": percentile(flat, 0.99)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get(
        "TOWNSQUARE_BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--ops", type=int, default=2_000, help="operations per case per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()

    from sqlalchemy import text

    from townsquare.payments import fees, ledger
    from townsquare.payments.ledger import accounts

    split = fees.split_by_rates(2_500, platform_bp=60)  # 25.00 yuan: 24.85 merchant, 0.15 fee
    no_fee = fees.split_by_rates(2_500, platform_bp=0)  # wallet → merchant: no shared account
    counter = iter(range(10**9))
    lock = threading.Lock()

    def serial() -> int:
        with lock:
            return next(counter)

    with scratch_database(args.database_url) as url:
        database = prepare(url, wallets=args.threads)

        def floor(t: int, i: int) -> None:
            with database.engine.begin() as conn:
                conn.execute(text("INSERT INTO bench_floor (reference, amount_fen) "
                                  "VALUES (:r, :a)"), {"r": f"T{serial()}", "a": 2_500})

        def pay(merchant: Callable[[int], int], parts: fees.Split = split
                ) -> Callable[[int, int], None]:
            def one(t: int, i: int) -> None:
                n = serial()
                with database.unit_of_work() as db:
                    ledger.post(db, kind="payment", reference=f"T{n}",
                                legs=parts.legs(accounts.wallet(t), merchant(t)),
                                idempotency_key=f"bench:{n}")
            return one

        cases: dict[str, Callable[[int, int], None]] = {
            "floor": floor, "alone": pay(lambda t: 2_000 + t, no_fee),
            "spread": pay(lambda t: 1_000 + t), "hot": pay(lambda t: 1),
        }
        results: dict[str, list[dict[str, float]]] = {name: [] for name in cases}
        for one in cases.values():  # warm up: connections, statement caches, accounts
            run_case(args.threads, args.threads * 10, one)
        for _ in range(args.rounds):
            for name, one in cases.items():
                results[name].append(run_case(args.threads, args.ops, one))
        with database.unit_of_work() as db:
            report = ledger.reconcile(db)
        database.dispose()

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in results[name])

    floor_rate = med("floor", "rate")
    legs = len([v for v in split.legs(accounts.wallet(0), 1).values() if v])
    rows = [
        ("plain `INSERT` + `COMMIT` (floor)", "floor", 1),
        ("`ledger.post` wallet → merchant, no fee: no row shared between threads", "alone", 2),
        ("`ledger.post` payment with fee, spread over merchants (shares `platform:fees`)",
         "spread", legs),
        ("`ledger.post` payment, all to one merchant (hot row)", "hot", legs),
    ]
    command = (f"`.venv/bin/python benchmarks/ledger.py --ops {args.ops} --rounds {args.rounds} "
               f"--threads {args.threads}`")
    lines = [
        f"Run on {date.today()}, {os.cpu_count()} CPUs, PostgreSQL on the same host, "
        f"{args.threads} threads in one process, one transaction per operation: {command}",
        "",
        "| operation | ops/s (median of rounds) | postings/s | p50 ms | p99 ms | vs. floor |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, name, per in rows:
        rate = med(name, "rate")
        lines.append(f"| {label} | {rate:,.0f} | {rate * per:,.0f} | {med(name, 'p50'):.1f} | "
                     f"{med(name, 'p99'):.1f} | {rate / floor_rate:.2f}× |")
    shared = med("spread", "rate") / med("alone", "rate")
    lines += [
        "",
        f"After the run the ledger reconciled: {'sound' if report.sound else 'NOT SOUND'} "
        f"({report.entries:,} entries, sum of all postings {report.total_fen} fen). "
        "A payment with a fee is 9 statements (the idempotency replay check, the accounts' "
        "ids, a savepoint, the entry, its postings, one conditional balance `UPDATE` per "
        "account in lock order, the savepoint's release) and the commit, against an "
        "`INSERT` and the commit for the floor, plus the ORM's Python work on the same cores. "
        "Every payment with a fee also updates the one `platform:fees` row, locked from that "
        "`UPDATE` to the commit, so payments between different residents and merchants queue "
        "there as payments to one merchant queue on its row "
        f"(`spread` is {shared:.2f}× `alone`). Other sessions shared the machine: compare "
        "the ratios to the floor measured in the same rounds.",
    ]
    text_out = "\n".join(lines)
    print(text_out)
    if not args.no_docs:
        write_section("ledger-benchmark", "Ledger", text_out)


if __name__ == "__main__":
    main()
