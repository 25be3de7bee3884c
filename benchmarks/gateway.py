"""Open gateway benchmark (not a test): signed calls per second over HTTP against the floor of the
same server's trivial endpoint, measured in interleaved rounds in the same run.

  floor    GET /api/health on the same uvicorn process (no database, no signature);
  gateway  POST /gateway.do `alipay.trade.query` (a paid trade), pre-signed with RSA2 by the
           client: the server reads the parameters, finds the app and its keys, verifies the
           signature, checks the package, runs the method, logs the call, signs the answer.
           Every call queries the same trade, as a merchant polling it does: the answers repeat,
           so the server signs that answer once and remembers the signature
           (`signing.sign_repeatable`).
  distinct the same call, each time about another of `--trades` paid trades (more than the
           server remembers signatures of): every answer is new and signed anew.

Also reports what RSA costs per call (verify the request + sign the answer, in-process) and its
share of the server's time at the measured rate. Updates the "Open gateway" section of
docs/benchmarks.md.

    .venv/bin/python benchmarks/gateway.py                      # SQLite in a temp dir
    .venv/bin/python benchmarks/gateway.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench
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
from urllib.parse import urlencode

from harness import cpu_seconds, drive, percentile, uvicorn_server, write_section

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
SECRET = "gateway-benchmark-secret"
METHOD = "alipay.trade.query"
OUT_TRADE_NO = "BENCH-20261207-0001"


def out_trade_no(i: int) -> str:
    return f"BENCH-20261207-{i + 1:04d}"  # 0: OUT_TRADE_NO


def seed(url: str, trades_count: int = 1) -> dict[str, str]:
    """One merchant, one mini-app with a gateway app, its key and the payment package, and
    `trades_count` paid trades to query (the first: OUT_TRADE_NO)."""
    from townsquare.accounts.models import Role, RoleGrant, User
    from townsquare.core.database import Database
    from townsquare.gateway import keys
    from townsquare.gateway.models import AppKey, GatewayApp, GrantStatus, PackageGrant
    from townsquare.gateway.protocol import signing
    from townsquare.merchants.models import Category, Merchant
    from townsquare.miniapps.models import MiniApp, MiniAppKind
    from townsquare.models import metadata
    from townsquare.payments import ledger
    from townsquare.payments.trades import service as trades

    database = Database(url)
    metadata.drop_all(database.engine)
    metadata.create_all(database.engine)
    key = signing.new_private_key()
    with database.unit_of_work() as db:
        category = Category(code="grocery", name_zh="生鲜超市", name_en="Groceries")
        merchant = Merchant(name="基准鲜果店", description="", category=category, cities=[])
        operator = User(username="benchop", display_name="运营", password_hash="x",
                        roles=[RoleGrant(role=Role.OPERATOR)])
        db.add_all([category, merchant, operator])
        db.flush()
        miniapp = MiniApp(name="基准小程序", merchant=merchant, category=category,
                          kind=MiniAppKind.EXTERNAL, client_secret_digest="x" * 64)
        db.add(miniapp)
        db.flush()
        app = GatewayApp(miniapp_id=miniapp.id)
        db.add(app)
        db.flush()
        db.add(AppKey(app_id=app.id, public_key=signing.public_key_text(key.public_key()),
                      fingerprint=signing.fingerprint(key.public_key())))
        db.add(PackageGrant(app_id=app.id, package="payment", status=GrantStatus.GRANTED,
                            requested_at=app.created_at))
        buyer = User(username="benchbuyer", display_name="居民", password_hash="x",
                     roles=[RoleGrant(role=Role.RESIDENT)])
        db.add(buyer)
        db.flush()
        wallet = ledger.accounts.wallet(buyer.id)
        ledger.post(db, kind="top_up", reference="bench", legs={
            ledger.accounts.BANK_CLEARING: -1_250 * trades_count, wallet: 1_250 * trades_count})
        for i in range(trades_count):
            trade = trades.create(
                db, app=app, merchant_id=merchant.id, miniapp_id=miniapp.id,
                out_trade_no=out_trade_no(i), total_fen=1_250, subject="基准订单",
                product_code="FACE_TO_FACE_PAYMENT", timeout_minutes=90, notify_url="",
                return_url="", content_digest="bench")
            trades.pay(db, trade_no=trade.trade_no, payer=buyer, source=wallet,
                       fund_channel="BALANCE", funding_reference="bench",
                       idempotency_key=f"bench-{i}")
        keys.ensure_platform_key(db, secret=SECRET.encode())
        world = {"app_id": app.app_id, "private_key": signing.private_key_pkcs1(key)}
    database.dispose()
    return world


def signed_bodies(world: dict[str, str], n: int, trades_count: int = 1,
                  start: int = 0) -> list[bytes]:
    """`n` signed calls, the i-th about trade (start + i) modulo `trades_count`."""
    from townsquare.gateway.protocol import signing

    key = signing.load_private_key(world["private_key"])
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
    bodies = []
    for i in range(start, start + n):
        params = {"app_id": world["app_id"], "method": METHOD, "charset": "utf-8",
                  "format": "JSON", "sign_type": "RSA2", "version": "1.0",
                  "timestamp": stamp,
                  "biz_content": f'{{"out_trade_no":"{out_trade_no(i % trades_count)}",'
                                 f'"n":{i}}}'}
        params["sign"] = signing.sign(key, signing.string_to_sign(params))
        bodies.append(urlencode(params).encode())
    return bodies


def rsa_cost(world: dict[str, str], n: int = 300) -> tuple[float, float]:
    """Milliseconds of RSA per call, in-process: (verify one request signature, sign one
    answer)."""
    from townsquare.gateway.protocol import signing

    key = signing.load_private_key(world["private_key"])
    text = "app_id=1&biz_content={}&method=m&timestamp=t" * 4
    signature = signing.sign(key, text)
    started = time.perf_counter()
    for _ in range(n):
        signing.verify(key.public_key(), text, signature, "RSA2")
    verified = time.perf_counter()
    for _ in range(n):
        signing.sign(key, text)
    return ((verified - started) / n * 1000, (time.perf_counter() - verified) / n * 1000)


def load(base: str, requests: list[tuple[str, bytes | None]], clients: int,
         pid: int | None = None) -> dict[str, float]:
    """Send the requests with `clients` concurrent keep-alive clients; rate, latencies and the
    server's CPU time per request (steadier than rates on a shared machine)."""
    headers = {"content-type": "application/x-www-form-urlencoded;charset=utf-8"}

    def send(session, i: int) -> bool:
        path, body = requests[i]
        if body is None:
            return session.get(path).status_code == 200
        response = session.post(path, content=body, headers=headers)
        return response.status_code == 200 and '"code":"10000"' in response.text

    cpu = cpu_seconds(pid) if pid else float("nan")
    run = drive(base, clients, len(requests), send)
    cpu = (cpu_seconds(pid) - cpu) if pid else float("nan")
    latencies = run["latencies"]
    return {"rate": len(latencies) / run["wall"], "p50": statistics.median(latencies) * 1000,
            "p99": percentile(latencies, 0.99) * 1000, "failures": len(latencies) - run["good"],
            "cpu_ms": cpu / len(latencies) * 1000}


def _median(rounds: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500, help="per round and kind")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--trades", type=int, default=1100,
                        help="paid trades the distinct calls go round (more than the 1,024 "
                             "signatures the server remembers: no answer comes back in time)")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    from townsquare.gateway.protocol.signing import REMEMBERED_SIGNATURES

    if args.trades <= REMEMBERED_SIGNATURES:
        parser.error(f"--trades must exceed {REMEMBERED_SIGNATURES}, the signatures the server "
                     "remembers, or the distinct answers would come back signed")
    tmp = tempfile.mkdtemp(prefix="gateway-bench-")
    url = args.database_url or f"sqlite:///{tmp}/gateway.db"
    backend = url.split(":", 1)[0].split("+", 1)[0]
    world = seed(url, args.trades)
    env = {"TOWNSQUARE_DATABASE_URL": url, "TOWNSQUARE_SECRET_KEY": SECRET,
           "TOWNSQUARE_DATA_DIR": tmp, "TOWNSQUARE_GATEWAY_NOTIFY_INTERVAL_MS": "0",
           # one app calls as fast as it can: lift its limit (the bucket is still checked)
           "TOWNSQUARE_GATEWAY_RATE_LIMITS": "payment=1000000:1000000",
           "TZ": "Asia/Shanghai"}
    os.environ["TZ"] = "Asia/Shanghai"  # the client stamps calls in Beijing time, as ISVs do
    time.tzset()
    floors: list[dict[str, float]] = []
    calls: list[dict[str, float]] = []
    distinct: list[dict[str, float]] = []
    with uvicorn_server(env, seconds=120) as (base, server):
        load(base, [("/api/health", None)] * 200, args.clients)  # warm up every path
        load(base, [("/gateway.do", b) for b in signed_bodies(world, 100)], args.clients)
        # the distinct calls go on round the trades from where the last left off: each answer
        # comes back only after more than the server remembers signatures of (1,024)
        turn = 0
        load(base, [("/gateway.do", b) for b in signed_bodies(world, 100, args.trades, turn)],
             args.clients)
        turn += 100
        for _ in range(args.rounds):  # paired rounds: each gateway round beside its own floor
            floors.append(load(base, [("/api/health", None)] * args.requests, args.clients,
                               server.pid))
            bodies = signed_bodies(world, args.requests)
            calls.append(load(base, [("/gateway.do", b) for b in bodies], args.clients,
                              server.pid))
            bodies = signed_bodies(world, args.requests, args.trades, turn)
            turn += args.requests
            distinct.append(load(base, [("/gateway.do", b) for b in bodies], args.clients,
                                 server.pid))
    ratio = statistics.median(c["rate"] / f["rate"] for c, f in zip(calls, floors, strict=True))
    distinct_ratio = statistics.median(
        c["rate"] / f["rate"] for c, f in zip(distinct, floors, strict=True))
    failures = sum(c["failures"] for c in calls + distinct)
    floor_cpu, call_cpu = _median(floors, "cpu_ms"), _median(calls, "cpu_ms")
    distinct_cpu = _median(distinct, "cpu_ms")
    verify_ms, sign_ms = rsa_cost(world)
    command = (f"`.venv/bin/python benchmarks/gateway.py --requests {args.requests} "
               f"--rounds {args.rounds} --clients {args.clients} --trades {args.trades}`")

    def verdict(value: float) -> str:
        return "met" if value >= 0.5 else "not met"

    def row(label: str, rounds: list[dict[str, float]], versus: float) -> str:
        return (f"| {label} | {_median(rounds, 'rate'):,.0f} | {_median(rounds, 'p50'):.1f} | "
                f"{_median(rounds, 'p99'):.1f} | {versus:.2f}× | {_median(rounds, 'cpu_ms'):.2f} |")

    text = "\n".join([
        f"Run on {date.today()}, {os.cpu_count()} CPUs, {backend}, one uvicorn worker, "
        f"{args.clients} keep-alive clients: {command}",
        "",
        "| path | calls/s (median of paired rounds) | p50 ms | p99 ms | vs. floor | "
        "server CPU ms per call |",
        "|---|---:|---:|---:|---:|---:|",
        row("`GET /api/health` (floor)", floors, 1.0),
        row(f"`POST /gateway.do` `{METHOD}` (RSA2), one trade polled", calls, ratio),
        row(f"`POST /gateway.do` `{METHOD}` (RSA2), {args.trades:,} trades in turn",
            distinct, distinct_ratio),
        "",
        f"Goal ≥ 0.5× the floor: {verdict(ratio)} for a polled trade ({ratio:.2f}×), "
        f"{verdict(distinct_ratio)} when every answer is new ({distinct_ratio:.2f}×). "
        f"Failed calls: {failures}. RSA in-process: verifying a request "
        f"{verify_ms:.2f} ms, signing an answer {sign_ms:.2f} ms. A polled trade's answer "
        "repeats byte for byte, and an RSA (PKCS#1 v1.5) signature of the same bytes with the "
        "same key is always the same, so the server signs it once and remembers the signature; "
        f"across {args.trades:,} trades each answer is signed anew. By server CPU per call the "
        f"gateway costs {call_cpu / floor_cpu:.1f}× the floor polled and "
        f"{distinct_cpu / floor_cpu:.1f}× with new answers. The clients run on the same two "
        "cores as the server, and other sessions shared the machine: the ratio to the floor "
        "measured in the same rounds is the figure to compare.",
    ])
    print(text)
    if not args.no_docs:
        write_section("gateway-benchmark", "Open gateway", text)


if __name__ == "__main__":
    main()
