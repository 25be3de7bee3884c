"""Checkout benchmark (not a test): checkouts per second over the JSON API with 200 buyers
contending for 20 pickup slots, against the floor of the same server's trivial endpoint, in
interleaved rounds.

  floor     GET /api/health on the same uvicorn process (no database);
  checkout  POST /api/ordering/orders (bearer token, Idempotency-Key): the shop's settings read
            from its published mini-app version, the cart priced, the slot checked, the hold
            taken (one conditional UPDATE on the slot's load row, one on the stock row), the
            trade created under the mini-app's gateway app, the order, its lines and timeline
            row written and the cart emptied, in one transaction. Each round, 200 buyers (one
            request each, a slot picked at random) contend for 20 slots of 5 places: 100 win,
            100 are refused `slot_full` (409) — the contention is the point.

Afterwards it checks that nothing was oversold: no slot holds more than its places, every
slot's load equals its orders, holds and trades match the orders one for one, and stock is
not negative. Updates the "Checkout" section of docs/benchmarks.md.

    .venv/bin/python benchmarks/checkout.py --database-url postgresql+psycopg://postgres@127.0.0.1/test
(a database of its own is created next to the one given, and dropped afterwards)
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import uuid
from datetime import date
from pathlib import Path

from harness import drive, percentile, uvicorn_server, write_section

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
SECRET = "checkout-benchmark-secret"
BUYERS = 200
SLOTS = 20
PLACES = 5
PRICE, PACKAGING = 350, 100


def settings_for(url: str, tmp: str):
    from townsquare.core.settings import Settings

    return Settings(database_url=url, secret_key=SECRET, data_dir=Path(tmp))


def seed(url: str, tmp: str, rounds: int) -> dict:
    """A grocery mini-app made from an ISV's template, selling from a store open day and
    night with pickup slots of 5 places; 200 residents with bearer tokens."""
    from townsquare.accounts import service as accounts
    from townsquare.core.database import Database
    from townsquare.core.security import use_cheap_password_hashing
    from townsquare.merchants import categories, providers
    from townsquare.merchants import service as merchants
    from townsquare.miniapps import review, templates_service
    from townsquare.models import metadata
    from townsquare.ordering import offered
    from townsquare.ordering.catalog import service as catalog
    from townsquare.ordering.slots import rules
    from townsquare.ordering.stores import service as stores

    use_cheap_password_hashing()
    settings = settings_for(url, tmp)
    database = Database(url)
    metadata.drop_all(database.engine)
    metadata.create_all(database.engine)
    with database.unit_of_work() as db:
        categories.create_category(db, actor=None, code="grocery", name_zh="买菜",
                                   name_en="Groceries")
        for name in ("owner", "isv"):
            accounts.create_user(db, actor=None, username=name, password="bench-password-1",
                                 display_name=name)
        merchant = merchants.create_merchant(db, actor=None, owner_username="owner",
                                             name="基准菜场", category_code="grocery",
                                             cities=["武汉"])
        store = stores.create_store(db, actor=None, merchant_id=merchant.public_id,
                                    name="基准店", address="武汉市洪山区 1 号", lat=30.5,
                                    lng=114.4)
        stores.set_hours(db, actor=None, store_id=store.public_id,
                         week={d: "00:00-24:00" for d in range(7)}, closed_days="")
        product = catalog.create_product(db, actor=None, merchant_id=merchant.public_id,
                                         name="本地小白菜", category="蔬菜", unit="斤")
        sku = catalog.add_sku(db, actor=None, product_id=product.public_id, code="B-1",
                              spec="约1斤", price_fen=PRICE)
        catalog.set_stock(db, actor=None, sku_id=sku.public_id, store_id=store.public_id,
                          quantity=1_000_000)
        rules.set_rule(db, actor=None, store_id=store.public_id, kind="pickup",
                       capacity_orders=PLACES, lead_minutes=30, days_ahead=3)
        provider = providers.create_provider(db, actor=None, name="基准开发商",
                                             staff_username="isv")
        template = templates_service.create_template(
            db, actor=None, provider_id=provider.public_id, runtime="grocery", name="买菜模板",
            category="grocery", defaults={"welcome": "欢迎", "stores": store.public_id,
                                          "pickup": True})
        templates_service.publish_template(db, actor=None, template_id=template.public_id)
        created = templates_service.create_from_template(
            db, actor=None, settings=settings, template_id=template.public_id,
            merchant_id=merchant.public_id, name="基准买菜", cities=["武汉"],
            config={"welcome": "欢迎", "stores": store.public_id, "pickup": True,
                    "packaging_fen": PACKAGING}, submit=True)
        review.approve(db, actor=None, version_id=created.version.public_id)
        starts = [s.start for s in offered(db, store=store, kind="pickup")][8:]
        users = [accounts.create_user(db, actor=None, username=f"buyer{i:03d}",
                                      password="bench-password-1", display_name="买家")
                 for i in range(BUYERS)]
        tokens = [accounts.start_session(db, settings=settings, user=u, kind="bearer").token
                  for u in users]
        world = {"miniapp": created.miniapp.public_id, "sku": sku.public_id,
                 "users": [u.id for u in users], "tokens": tokens,
                 "slots": [[s.isoformat() for s in starts[r * SLOTS:(r + 1) * SLOTS]]
                           for r in range(rounds + 1)]}
    database.dispose()
    assert all(len(s) == SLOTS for s in world["slots"]), "not enough slots offered"
    return world


def fill_carts(url: str, world: dict) -> None:
    """Each buyer's cart: one of the SKU (checkout empties it)."""
    from townsquare.accounts.models import User
    from townsquare.core.database import Database
    from townsquare.ordering import orders

    database = Database(url)
    with database.unit_of_work() as db:
        for user_id in world["users"]:
            orders.set_line(db, actor=db.get_one(User, user_id), miniapp_id=world["miniapp"],
                            sku_id=world["sku"], quantity=1)
    database.dispose()


def checkouts(base: str, world: dict, round_no: int, clients: int) -> dict[str, float]:
    slots = world["slots"][round_no]
    rng = random.Random(round_no)
    chosen = [rng.choice(slots) for _ in world["tokens"]]
    refused = 0

    def send(session, i: int) -> bool:
        nonlocal refused
        response = session.post("/api/ordering/orders", json={
            "miniapp_id": world["miniapp"], "kind": "pickup", "slot_start": chosen[i],
            "expected_total_fen": PRICE + PACKAGING}, headers={
            "Authorization": f"Bearer {world['tokens'][i]}",
            "Idempotency-Key": f"bench-{round_no}-{i}"})
        if response.status_code == 409 and '"slot_full"' in response.text:
            refused += 1
        return response.status_code == 201

    run = drive(base, clients, len(world["tokens"]), send)
    latencies = run["latencies"]
    return {"rate": run["good"] / run["wall"], "requests": len(latencies) / run["wall"],
            "p50": statistics.median(latencies) * 1000,
            "p99": percentile(latencies, 0.99) * 1000, "good": run["good"],
            "refused": refused, "failures": len(latencies) - run["good"] - refused}


def floor(base: str, n: int, clients: int) -> dict[str, float]:
    run = drive(base, clients, n, lambda s, i: s.get("/api/health").status_code == 200)
    latencies = run["latencies"]
    return {"rate": len(latencies) / run["wall"], "p50": statistics.median(latencies) * 1000,
            "p99": percentile(latencies, 0.99) * 1000}


def check(url: str) -> tuple[str, bool]:
    """Counted in the database: oversold slots, loads against orders, holds and trades."""
    from sqlalchemy import func, select

    from townsquare.core.database import Database
    from townsquare.ordering.catalog.models import Stock
    from townsquare.ordering.orders.models import Order
    from townsquare.ordering.slots.models import Hold, SlotLoad
    from townsquare.payments.trades.models import Trade

    database = Database(url)
    with database.unit_of_work(read_only=True) as db:
        loads = {row.slot_start: row.orders for row in db.scalars(select(SlotLoad))}
        per_slot = dict(db.execute(select(Order.slot_start, func.count(Order.id))
                                   .group_by(Order.slot_start)).all())
        orders = sum(per_slot.values())
        holds = db.scalar(select(func.count(Hold.id))) or 0
        trades = db.scalar(select(func.count(Trade.id))) or 0
        negative = db.scalar(select(func.count(Stock.id)).where(Stock.quantity < 0)) or 0
    database.dispose()
    oversold = sum(1 for n in per_slot.values() if n > PLACES)
    mismatched = sum(1 for start, n in loads.items() if per_slot.get(start, 0) != n)
    ok = not oversold and not mismatched and holds == trades == orders and not negative
    return (f"{orders} orders in {len(per_slot)} slots, {oversold} slots oversold, "
            f"{mismatched} slot loads differing from their orders, {holds} holds and "
            f"{trades} trades, {negative} stock rows below zero"
            + ("" if ok else " — MISMATCH")), ok


def own_database(url: str) -> tuple[str, str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"bench_checkout_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False), name


def drop_database(url: str, name: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--database-url", default="",
                        help="PostgreSQL server (a database of its own is made); empty: SQLite")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="checkout-bench-")
    made = None
    if args.database_url.startswith("postgresql"):
        url, made = own_database(args.database_url)
    else:
        url = f"sqlite:///{tmp}/checkout.db"
    backend = url.split(":", 1)[0].split("+", 1)[0]
    try:
        world = seed(url, tmp, args.rounds)
        env = {"TOWNSQUARE_DATABASE_URL": url, "TOWNSQUARE_SECRET_KEY": SECRET,
               "TOWNSQUARE_DATA_DIR": tmp, "TOWNSQUARE_GATEWAY_NOTIFY_INTERVAL_MS": "0",
               "TOWNSQUARE_TRADE_JOBS_INTERVAL_MS": "0",
               "TOWNSQUARE_ORDERING_HOLD_EXPIRY_INTERVAL_MS": "0",
               "TOWNSQUARE_ORDERING_ORDER_JOBS_INTERVAL_MS": "0"}
        floors, runs = [], []
        with uvicorn_server(env, seconds=120) as (base, _server):
            floor(base, 200, args.clients)
            fill_carts(url, world)
            checkouts(base, world, 0, args.clients)  # warm-up round (its own 20 slots)
            for round_no in range(1, args.rounds + 1):
                floors.append(floor(base, 400, args.clients))
                fill_carts(url, world)
                runs.append(checkouts(base, world, round_no, args.clients))
        verdict, ok = check(url)
    finally:
        if made:
            drop_database(args.database_url, made)
    ratio = statistics.median(r["rate"] / f["rate"] for r, f in zip(runs, floors, strict=True))
    ratio_requests = statistics.median(r["requests"] / f["rate"]
                                       for r, f in zip(runs, floors, strict=True))
    command = (f"`.venv/bin/python benchmarks/checkout.py --rounds {args.rounds} "
               f"--clients {args.clients}"
               + (" --database-url postgresql+psycopg://…`" if made else "`"))
    med = statistics.median
    text = "\n".join([
        f"Run on {date.today()}, {os.cpu_count()} CPUs, {backend}, one uvicorn worker, "
        f"{args.clients} keep-alive clients: {command}",
        "",
        f"Each round: {BUYERS} buyers, one checkout each, for a slot picked at random among "
        f"{SLOTS} slots of {PLACES} places ({SLOTS * PLACES} places for {BUYERS} buyers).",
        "",
        "| path | per second (median of paired rounds) | p50 ms | p99 ms | vs. floor |",
        "|---|---:|---:|---:|---:|",
        f"| `GET /api/health` (floor) | {med(f['rate'] for f in floors):,.0f} | "
        f"{med(f['p50'] for f in floors):.1f} | {med(f['p99'] for f in floors):.1f} | 1.00× |",
        f"| `POST /api/ordering/orders`: checkouts that won (hold + trade + order) | "
        f"{med(r['rate'] for r in runs):,.1f} | {med(r['p50'] for r in runs):.1f} | "
        f"{med(r['p99'] for r in runs):.1f} | {ratio:.2f}× |",
        f"| the same, every answer (won, or refused `slot_full`) | "
        f"{med(r['requests'] for r in runs):,.1f} | | | {ratio_requests:.2f}× |",
        "",
        f"Won per round: {', '.join(str(r['good']) for r in runs)}; refused `slot_full`: "
        f"{', '.join(str(r['refused']) for r in runs)}; other failures: "
        f"{sum(r['failures'] for r in runs)}. Afterwards (warm-up round included): {verdict}. "
        "A winning checkout is one transaction of 54 statements, BEGIN and COMMIT "
        "included (counted on SQLite: the shop's published config and template, the cart, "
        "the menu, the offered slots, the hold's three conditional writes, the gateway app, "
        "the trade, the order, its line and timeline row, the cart emptied, the order read "
        "back); a refused one stops at the slot's conditional UPDATE and rolls back. Winners "
        "for one slot queue on its load row. The clients run on the same cores as the server "
        "and other sessions shared the machine: compare the ratio to the "
        "floor measured in the same rounds.",
    ])
    print(text)
    if not ok:
        sys.exit(1)
    if not args.no_docs:
        write_section("checkout-benchmark", "Checkout", text)


if __name__ == "__main__":
    main()
