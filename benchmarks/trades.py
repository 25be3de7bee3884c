"""Paid trades benchmark (not a test): trades created, paid and notified per second over the open
gateway, against the floor of the same server's trivial endpoint, in interleaved rounds.

  floor  GET /api/health on the same uvicorn process (no database, no signature);
  paid   POST /gateway.do `alipay.trade.pay`, pre-signed with RSA2 by the client, each with its
         own resident's payment code: the gateway verifies the call, the trade is created, the
         code resolved, the resident's limits checked, the payment posted as one ledger entry
         split by the fee rules, the trade set TRADE_SUCCESS and its notification queued in the
         outbox, all in one transaction, and the answer signed.

Afterwards it checks what the run did: every answered trade is paid once, one payment entry and
one notification each, and the ledger reconciles. Updates the "Paid trades" section of
docs/benchmarks.md.

    .venv/bin/python benchmarks/trades.py                      # SQLite in a temp dir
    .venv/bin/python benchmarks/trades.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench
(the database given is emptied and rebuilt: give one of its own)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

from harness import drive, percentile, uvicorn_server, write_section

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
SECRET = "trades-benchmark-secret"
METHOD = "alipay.trade.pay"
RESIDENTS = 200  # one code per call; the calls spread over this many wallets


def settings_for(url: str, tmp: str):
    from townsquare.core.settings import Settings

    return Settings(database_url=url, secret_key=SECRET, data_dir=Path(tmp))


def seed(url: str, tmp: str) -> dict:
    """A merchant's mini-app with a gateway app granted `payment`, and funded residents."""
    from townsquare.accounts.models import Role, RoleGrant, User
    from townsquare.core.database import Database
    from townsquare.gateway import keys
    from townsquare.gateway.models import AppKey, GatewayApp, GrantStatus, PackageGrant
    from townsquare.gateway.protocol import signing
    from townsquare.merchants.models import Category, Merchant
    from townsquare.miniapps.models import MiniApp, MiniAppKind
    from townsquare.models import metadata
    from townsquare.payments import ledger
    from townsquare.payments.ledger import accounts

    database = Database(url)
    metadata.drop_all(database.engine)
    metadata.create_all(database.engine)
    key = signing.new_private_key()
    with database.unit_of_work() as db:
        category = Category(code="grocery", name_zh="生鲜超市", name_en="Groceries")
        merchant = Merchant(name="基准鲜果店", description="", category=category, cities=[])
        db.add_all([category, merchant])
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
        keys.ensure_platform_key(db, secret=SECRET.encode())
        residents = [User(username=f"bench{i}", display_name="居民", password_hash="x",
                          roles=[RoleGrant(role=Role.RESIDENT)]) for i in range(RESIDENTS)]
        db.add_all(residents)
        db.flush()
        for user in residents:
            ledger.post(db, kind="top_up", reference=f"bench-{user.id}",
                        legs={accounts.BANK_CLEARING: -1_000_000, accounts.wallet(user.id):
                              1_000_000})
        world = {"app_id": app.app_id, "private_key": signing.private_key_pkcs1(key),
                 "residents": [u.id for u in residents]}
    database.dispose()
    return world


def codes(url: str, tmp: str, world: dict, n: int) -> list[str]:
    """`n` fresh payment codes, round-robin over the residents (each works once)."""
    from townsquare.accounts.models import User
    from townsquare.core.database import Database
    from townsquare.payments.wallet import payment_codes

    database = Database(url)
    settings = settings_for(url, tmp)
    with database.unit_of_work() as db:
        users = [db.get(User, i) for i in world["residents"]]
        found = [payment_codes.issue(db, settings=settings, actor=users[i % len(users)]).code
                 for i in range(n)]
    database.dispose()
    return found


def signed_bodies(world: dict, auth_codes: list[str], round_no: int) -> list[bytes]:
    from townsquare.gateway.protocol import signing

    key = signing.load_private_key(world["private_key"])
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
    bodies = []
    for i, code in enumerate(auth_codes):
        biz = {"out_trade_no": f"B{round_no}-{i}", "scene": "bar_code", "auth_code": code,
               "total_amount": "12.50", "subject": "基准订单"}
        params = {"app_id": world["app_id"], "method": METHOD, "charset": "utf-8",
                  "format": "JSON", "sign_type": "RSA2", "version": "1.0", "timestamp": stamp,
                  "notify_url": "http://merchant.example/notify",
                  "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":"))}
        params["sign"] = signing.sign(key, signing.string_to_sign(params))
        bodies.append(urlencode(params).encode())
    return bodies


def load(base: str, requests: list[tuple[str, bytes | None]], clients: int) -> dict[str, float]:
    headers = {"content-type": "application/x-www-form-urlencoded;charset=utf-8"}

    def send(session, i: int) -> bool:
        path, body = requests[i]
        if body is None:
            return session.get(path).status_code == 200
        response = session.post(path, content=body, headers=headers)
        return response.status_code == 200 and '"code":"10000"' in response.text

    run = drive(base, clients, len(requests), send)
    latencies = run["latencies"]
    return {"rate": len(latencies) / run["wall"], "p50": statistics.median(latencies) * 1000,
            "p99": percentile(latencies, 0.99) * 1000, "good": run["good"],
            "failures": len(latencies) - run["good"]}


def check(url: str, expected: int) -> str:
    """What the run left behind, counted in the database."""
    from sqlalchemy import func, select

    from townsquare.core.database import Database
    from townsquare.gateway.models import Notification
    from townsquare.payments import ledger
    from townsquare.payments.ledger.models import JournalEntry
    from townsquare.payments.trades.models import Trade, TradeStatus

    database = Database(url)
    with database.unit_of_work(read_only=True) as db:
        paid = db.scalar(select(func.count(Trade.id))
                         .where(Trade.status == TradeStatus.TRADE_SUCCESS)) or 0
        entries = db.scalar(select(func.count(JournalEntry.id))
                            .where(JournalEntry.kind == "payment")) or 0
        notices = db.scalar(select(func.count(Notification.id))) or 0
        sound = ledger.reconcile(db).sound
    database.dispose()
    ok = paid == entries == notices == expected and sound
    return (f"{paid} trades paid, {entries} payment entries, {notices} notifications queued "
            f"(expected {expected} of each), ledger {'sound' if sound else 'NOT SOUND'}"
            + ("" if ok else " — MISMATCH"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="per round and kind")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="trades-bench-")
    url = args.database_url or f"sqlite:///{tmp}/trades.db"
    backend = url.split(":", 1)[0].split("+", 1)[0]
    world = seed(url, tmp)
    env = {"TOWNSQUARE_DATABASE_URL": url, "TOWNSQUARE_SECRET_KEY": SECRET,
           "TOWNSQUARE_DATA_DIR": tmp, "TOWNSQUARE_GATEWAY_NOTIFY_INTERVAL_MS": "0",
           "TOWNSQUARE_TRADE_JOBS_INTERVAL_MS": "0", "TZ": "Asia/Shanghai",
           "TOWNSQUARE_PAYMENT_LIMIT_PER_DAY_FEN": str(10**12)}
    os.environ["TZ"] = "Asia/Shanghai"  # the client stamps calls in Beijing time, as ISVs do
    time.tzset()
    floors, paid = [], []
    with uvicorn_server(env, seconds=120) as (base, _server):
        load(base, [("/api/health", None)] * 200, args.clients)  # warm up both paths
        warm = signed_bodies(world, codes(url, tmp, world, 50), 0)
        paid_total = load(base, [("/gateway.do", b) for b in warm], args.clients)["good"]
        for round_no in range(1, args.rounds + 1):
            floors.append(load(base, [("/api/health", None)] * args.requests, args.clients))
            bodies = signed_bodies(world, codes(url, tmp, world, args.requests), round_no)
            paid.append(load(base, [("/gateway.do", b) for b in bodies], args.clients))
            paid_total += paid[-1]["good"]
    ratio = statistics.median(p["rate"] / f["rate"] for p, f in zip(paid, floors, strict=True))
    floor_rate = statistics.median(f["rate"] for f in floors)
    rate = statistics.median(p["rate"] for p in paid)
    failures = sum(p["failures"] for p in paid)
    command = (f"`.venv/bin/python benchmarks/trades.py --requests {args.requests} "
               f"--rounds {args.rounds} --clients {args.clients}`")
    text = "\n".join([
        f"Run on {date.today()}, {os.cpu_count()} CPUs, {backend}, one uvicorn worker, "
        f"{args.clients} keep-alive clients: {command}",
        "",
        "| path | per second (median of paired rounds) | p50 ms | p99 ms | vs. floor |",
        "|---|---:|---:|---:|---:|",
        f"| `GET /api/health` (floor) | {floor_rate:,.0f} | "
        f"{statistics.median(f['p50'] for f in floors):.1f} | "
        f"{statistics.median(f['p99'] for f in floors):.1f} | 1.00× |",
        f"| `POST /gateway.do` `{METHOD}`: create + pay + notification queued | {rate:,.0f} | "
        f"{statistics.median(p['p50'] for p in paid):.1f} | "
        f"{statistics.median(p['p99'] for p in paid):.1f} | {ratio:.2f}× |",
        "",
        f"Failed calls: {failures}. Afterwards: {check(url, paid_total)}. Each paid trade is one "
        "transaction that writes the trade, the spend record, one balanced ledger entry over "
        "the wallet, the merchant's pending funds and the platform's fee account (a row every "
        "payment updates, so payments serialise on it at commit), the notification row and "
        "the call log. The clients run on the same cores as the server, and other sessions "
        "shared the machine: the ratio to the floor measured in the same rounds is the figure "
        "to compare.",
    ])
    print(text)
    if not args.no_docs:
        write_section("trades-benchmark", "Paid trades over the gateway", text)


if __name__ == "__main__":
    main()
