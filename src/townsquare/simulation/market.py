"""The market simulator: mini-apps with a hidden true quality and size, residents who see
exposures, click, visit, order, get served or cancelled, refund, complain and rate accordingly.

One vectorised generator (NumPy + Arrow, a day × a chunk of mini-apps at a time) feeds:
(a) `simulate_history`: the demo city's listed mini-apps get days of history in the database;
(b) `generate_parquet`: N synthetic mini-apps straight to Parquet in the export schema, streamed,
    for the scoring benchmark (100,000,000 events never sit in memory at once);
(c) the hidden truth (`hidden_quality`, `<out>/_market.parquet`) for the correlation evaluation.

Deterministic for a seed. Quality q in 0..1 drives every rate: better apps convert more, fulfil
faster and more often, draw fewer complaints and refunds, rate higher, answer messages sooner,
and keep their buyers (repurchase). About one app in eight is new: it only has its last few days.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.core.clock import clock
from townsquare.core.security import hash_password
from townsquare.core.settings import Settings
from townsquare.events.export import SCHEMA, TS, DayWriter
from townsquare.events.intake import first_party_key, insert_rows, storage_key
from townsquare.events.models import PLATFORM_PREFIX
from townsquare.miniapps.models import MiniApp
from townsquare.simulation import cheaters, city_data

HISTORY_DAYS = 28
HISTORY_EVENTS_PER_APP_DAY = 30.0
NEW_APP_SHARE = 0.12
EVENTS_PER_TABLE = 1_000_000  # generator chunk: a day × this many events' worth of mini-apps
INSERT_ROWS = 5_000
SURFACES = ("feed", "search", "hub", "nearby")
SLOT_REASONS = ("organic", "organic", "organic", "guaranteed", "campaign")
COMPLAINTS = ("quality", "delivery", "service", "price", "hygiene")
COMMUNITIES = ("幸福里", "阳光花园", "东湖小区", "梧桐苑", "江南人家", "滨江苑", "丽景湾", "翠微里")
OPEN_SECONDS = 14 * 3600  # orders and sessions happen in the first 14 h of the UTC day


@dataclass(frozen=True)
class Market:
    """The hidden truth about each simulated mini-app (arrays aligned by position)."""

    miniapp_id: np.ndarray
    merchant_id: np.ndarray
    keys: Sequence[str]  # public ids (database mode): senders' event ids are scoped by them
    category: pa.Array
    city: pa.Array
    quality: np.ndarray
    size: np.ndarray
    start_day: np.ndarray  # first day (0-based in the window) the mini-app has any activity
    days: int
    events_per_app_day: float

    def __len__(self) -> int:
        return len(self.miniapp_id)


def _draw(n: int, days: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    quality = rng.beta(1.5, 1.3, n)  # drawn first: the same seed gives the same quality
    size = rng.lognormal(-0.245, 0.7, n)  # mean 1
    new = rng.random(n) < NEW_APP_SHARE
    start = np.where(new, days - rng.integers(1, 8, n), 0).clip(0, max(days - 1, 0))
    return quality, size, start


def synthetic_market(
    miniapps: int, *, days: int, events_per_app_day: float, seed: int
) -> Market:
    """N synthetic mini-apps (ids 1..N) in random categories and cities."""
    rng = np.random.default_rng([seed, 1])
    quality, size, start = _draw(miniapps, days, rng)
    codes = [code for code, *_ in city_data.CATEGORIES]
    ids = np.arange(1, miniapps + 1, dtype=np.int64)
    return Market(
        miniapp_id=ids, merchant_id=ids.copy(), keys=(),
        category=pa.array(np.array(codes, dtype=object)[rng.integers(0, len(codes), miniapps)],
                          pa.string()),
        city=pa.array(np.array(city_data.CITIES, dtype=object)[
            rng.integers(0, len(city_data.CITIES), miniapps)], pa.string()),
        quality=quality, size=size, start_day=start, days=days,
        events_per_app_day=events_per_app_day,
    )


def market_for(db: Session, *, seed: int, days: int = HISTORY_DAYS,
               events_per_app_day: float = HISTORY_EVENTS_PER_APP_DAY,
               today: date | None = None, showcase: frozenset[int] = frozenset()) -> Market:
    """The listed mini-apps of the database as a market (deterministic for seed and data).

    `showcase` merchants' mini-apps are established, busy and good (the demo tour's merchant)."""
    apps = list(db.scalars(select(MiniApp).where(MiniApp.listed.is_(True)).order_by(MiniApp.id)))
    rng = np.random.default_rng([seed, 2])
    quality, size, start = _draw(len(apps), days, rng)
    today = today or clock.now().date()
    first_day = today - timedelta(days=days)
    for i, app in enumerate(apps):  # no activity before the mini-app existed
        start[i] = max(start[i], min(days - 1, (app.created_at.date() - first_day).days))
        if app.merchant_id in showcase:
            quality[i], size[i], start[i] = max(quality[i], 0.85), max(size[i], 3.0), 0
    return Market(
        miniapp_id=np.array([a.id for a in apps], dtype=np.int64),
        merchant_id=np.array([a.merchant_id for a in apps], dtype=np.int64),
        keys=[a.public_id for a in apps],
        category=pa.array([a.category.code for a in apps], pa.string()),
        city=pa.array([(a.cities or [""])[0] for a in apps], pa.string()),
        quality=quality, size=size, start_day=start, days=days,
        events_per_app_day=events_per_app_day,
    )


def hidden_quality(db: Session, *, seed: int) -> dict[int, float]:
    """Hidden true quality by mini-app (integer) id, as `simulate_history` used with this seed."""
    market = market_for(db, seed=seed)
    return dict(zip(market.miniapp_id.tolist(), market.quality.tolist(), strict=True))


# -- the generator ---------------------------------------------------------------------------
def _spread(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For per-app counts: each item's app (local index), its number k within the app, and
    each app's offset in the flat item arrays."""
    offsets = np.cumsum(counts) - counts
    app = np.repeat(np.arange(len(counts)), counts)
    return app, np.arange(len(app)) - offsets[app], offsets


def _ints_to_str(prefix: str, values: np.ndarray, width: int = 0) -> pa.Array:
    text = pc.cast(pa.array(values, pa.int64()), pa.string())
    if width:
        text = pc.utf8_lpad(text, width=width, padding="0")
    return pc.binary_join_element_wise(prefix, text, "")


def _choice(options: Sequence[str], n: int, rng: np.random.Generator) -> pa.Array:
    return pa.array(np.array(options, dtype=object)[rng.integers(0, len(options), n)],
                    pa.string())


class _Day:
    """Events of one day for mini-apps lo..hi, as one Arrow table in SCHEMA."""

    def __init__(self, market: Market, lo: int, hi: int, day: int, start: datetime,
                 rng: np.random.Generator) -> None:
        self.m, self.lo, self.day, self.rng = market, lo, day, rng
        self.start_us = int(start.timestamp()) * 1_000_000
        self.q = market.quality[lo:hi]
        full = market.events_per_app_day * market.size[lo:hi]
        self.lam = full * (market.start_day[lo:hi] <= day)
        # buyers over the window, with high quality concentrating orders on returning buyers
        self.pool = 3 + np.ceil(1.2 * 0.06 * full * market.days)
        self.parts: list[pa.Table] = []

    def subs(self, app: np.ndarray, pool_factor: float, loyalty: float) -> np.ndarray:
        u = self.rng.random(len(app))
        return np.floor(self.pool[app] * pool_factor * u ** (1 + loyalty * self.q[app]))

    def communities(self, glob: np.ndarray) -> pa.Array:
        # each app serves a few neighbouring communities, more when it is bigger; some events
        # carry none
        reach = np.clip(1 + np.floor(1.5 * self.m.size[glob]), 1, len(COMMUNITIES))
        pick = (glob * 5 + np.floor(self.rng.random(len(glob)) * reach)) % len(COMMUNITIES)
        names = np.array(COMMUNITIES, dtype=object)[pick.astype(np.int64)]
        names[self.rng.random(len(glob)) < 0.2] = ""
        return pa.array(names, pa.string())

    def add(self, kind: str, app: np.ndarray, seconds: np.ndarray, user: np.ndarray | None,
            **measures: Any) -> None:
        n = len(app)
        if n == 0:
            return
        glob = self.lo + app
        ids = self.m.miniapp_id[glob]
        take = pa.array(glob, pa.int64())
        columns: dict[str, Any] = {
            "event_id": pa.nulls(n, pa.string()),  # numbered once the day is assembled
            "type": pa.repeat(pa.scalar(kind), n),
            "occurred_at": pa.array(self.start_us + (seconds * 1e6).astype(np.int64), TS),
            "miniapp_id": pa.array(ids, pa.int64()),
            "merchant_id": pa.array(self.m.merchant_id[glob], pa.int64()),
            "category_code": pc.take(self.m.category, take),
            "user_sub": pa.repeat(pa.scalar(""), n) if user is None else _ints_to_str(
                "ou_", ids * 10_000_000 + user.astype(np.int64), 32),
            "city": pc.take(self.m.city, take),
            "community": self.communities(glob),
            "surface": pa.repeat(pa.scalar(""), n),
            "slot_reason": pa.repeat(pa.scalar(""), n),
        }
        columns.update(measures)
        self.parts.append(pa.table(
            [columns.get(f.name, pa.nulls(n, f.type)) for f in SCHEMA], schema=SCHEMA
        ))

    def build(self) -> pa.Table | None:
        rng, q, lam = self.rng, self.q, self.lam
        n = len(q)
        exposures = rng.poisson(0.6 * lam)
        clicks = rng.binomial(exposures, 0.04 + 0.12 * q)
        visits = clicks + rng.poisson(0.12 * lam * (0.5 + q))
        orders = rng.binomial(visits, 0.15 + 0.35 * q)
        fulfilled = rng.binomial(orders, 0.80 + 0.18 * q)
        cancelled = orders - fulfilled
        refunds = rng.binomial(fulfilled, 0.01 + 0.10 * (1 - q) ** 2)
        complaints = rng.binomial(orders, 0.004 + 0.12 * (1 - q) ** 2)
        ratings = rng.binomial(fulfilled, 0.35)
        responses = rng.binomial(orders, 0.3) + rng.poisson(0.02 * lam)
        day_long = 23 * 3600

        for kind, counts in (("exposure", exposures), ("click", clicks)):
            app, _, _ = _spread(counts)
            self.add(kind, app, rng.uniform(0, day_long, len(app)), self.subs(app, 3, 1),
                     surface=_choice(SURFACES, len(app), rng),
                     slot_reason=_choice(SLOT_REASONS, len(app), rng))
        app, _, _ = _spread(visits)
        self.add("visit", app, rng.uniform(0, day_long, len(app)), self.subs(app, 2, 2))

        # orders, and everything that refers back to one (same buyer, later time)
        o_app, o_k, o_off = _spread(orders)
        placed = rng.uniform(0, OPEN_SECONDS, len(o_app))
        buyer = self.subs(o_app, 1, 2)
        amount = np.round(rng.lognormal(np.log(3000 * (0.8 + 0.4 * q[o_app])), 0.6)).astype(
            np.int64) if len(o_app) else np.zeros(0, np.int64)
        glob_ids = self.m.miniapp_id[self.lo + o_app]
        order_id = pc.binary_join_element_wise(
            _ints_to_str("o", glob_ids), _ints_to_str("", np.full(len(o_app), self.day)),
            _ints_to_str("", o_k), "-")
        self.add("order_placed", o_app, placed, buyer, order_id=order_id,
                 amount_fen=pa.array(amount, pa.int64()))

        def refer(counts: np.ndarray, among: np.ndarray | None, shift: np.ndarray | None = None):
            app, k, _ = _spread(counts)
            if among is not None:  # a random order among the first `among` of the app's day
                k = np.floor(rng.random(len(app)) * among[app]).astype(np.int64)
            if shift is not None:
                k = k + shift[app]
            oi = o_off[app] + k
            return app, oi, pc.take(order_id, pa.array(oi, pa.int64())) if len(oi) else \
                pa.array([], pa.string())

        f_app, f_oi, f_order = refer(fulfilled, None)
        scale = 900 * (0.6 + 1.8 * (1 - q[f_app]))
        duration = np.minimum(rng.gamma(2.0, scale), 9 * 3600).astype(np.int64)
        self.add("order_fulfilled", f_app, placed[f_oi] + duration, buyer[f_oi],
                 order_id=f_order, duration_seconds=pa.array(duration, pa.int64()))

        c_app, c_oi, c_order = refer(cancelled, None, shift=fulfilled)
        by_merchant = rng.random(len(c_app)) < 0.2 + 0.6 * (1 - q[c_app])
        by = np.where(by_merchant, "merchant",
                      np.where(rng.random(len(c_app)) < 0.8, "user", "system")).astype(object)
        self.add("order_cancelled", c_app, placed[c_oi] + rng.uniform(60, 3600, len(c_app)),
                 buyer[c_oi], order_id=c_order, cancelled_by=pa.array(by, pa.string()))

        r_app, r_oi, r_order = refer(refunds, fulfilled)
        self.add("refund", r_app, placed[r_oi] + rng.uniform(3600, 8 * 3600, len(r_app)),
                 buyer[r_oi], order_id=r_order, amount_fen=pa.array(amount[r_oi], pa.int64()))

        p_app, p_oi, p_order = refer(complaints, orders)
        u = rng.random(len(p_app))
        resolved = 0.25 + 0.65 * q[p_app]
        resolution = np.where(u < resolved, "resolved",
                              np.where(u < resolved + 0.1, "", "unresolved")).astype(object)
        self.add("complaint", p_app, placed[p_oi] + rng.uniform(1800, 9 * 3600, len(p_app)),
                 buyer[p_oi], order_id=p_order,
                 complaint_category=_choice(COMPLAINTS, len(p_app), rng),
                 resolution=pa.array(resolution, pa.string()))

        g_app, g_oi, g_order = refer(ratings, None)
        stars = np.clip(np.round(rng.normal(1.3 + 3.7 * q[g_app], 0.8)), 1, 5).astype(np.int64)
        self.add("rating", g_app, placed[g_oi] + rng.uniform(3600, 9 * 3600, len(g_app)),
                 buyer[g_oi], order_id=g_order, rating=pa.array(stars, pa.int64()))

        m_app, _, _ = _spread(responses)
        reply = rng.lognormal(np.log(90 + 3600 * (1 - q[m_app]) ** 2), 0.6).astype(np.int64)
        self.add("message_response", m_app, rng.uniform(0, day_long, len(m_app)),
                 self.subs(m_app, 1, 2), response_seconds=pa.array(reply, pa.int64()))
        del n
        return pa.concat_tables(self.parts) if self.parts else None


def _tables(market: Market, first_day: date, progress: Callable[[int], None] | None,
            seed: int, cheats: cheaters.Cheats | None = None):
    """Yield (day index, date, table) for the whole window, chunk by chunk, deterministically;
    `cheats` rewrites the cheating mini-apps' events with a random stream of its own."""
    per_app = max(market.events_per_app_day, 1e-9)
    chunk = max(1, int(EVENTS_PER_TABLE / per_app))
    for d in range(market.days):
        day = first_day + timedelta(days=d)
        start = datetime.combine(day, time(), tzinfo=UTC)
        for c, lo in enumerate(range(0, len(market), chunk)):
            rng = np.random.default_rng([seed, 3, d, c])
            table = _Day(market, lo, min(lo + chunk, len(market)), d, start, rng).build()
            if table is not None and cheats is not None:
                table = cheaters.apply(cheats, d, start, table,
                                       np.random.default_rng([seed, 9, d, c]))
            if table is not None:
                yield d, day, table
                if progress:
                    progress(table.num_rows)


# -- (a) demo history in the database ---------------------------------------------------------
def simulate_history(
    db: Session,
    *,
    settings: Settings,
    days: int = HISTORY_DAYS,
    seed: int,
    progress: Callable[[int], None] | None = None,
    events_per_app_day: float = HISTORY_EVENTS_PER_APP_DAY,
    showcase: frozenset[int] = frozenset(),
    cheats: cheaters.Cheats | None = None,
) -> int:
    """Write `days` days (ending yesterday) of events for every listed mini-app; the count.
    `cheats` makes some of them cheat (`simulation/cheaters.py`), brushers with real accounts."""
    del settings  # kept for symmetry with the demo city's steps
    today = clock.now().date()
    market = market_for(db, seed=seed, days=days, events_per_app_day=events_per_app_day,
                        today=today, showcase=showcase)
    if cheats is not None:
        merchant_of = dict(zip(market.miniapp_id.tolist(), market.merchant_id.tolist(),
                               strict=True))
        cheaters.staff_accounts(db, cheats=cheats, merchant_of=merchant_of,
                                password_hash=hash_password(secrets.token_urlsafe(16)))
    key_of = dict(zip(market.miniapp_id.tolist(), market.keys, strict=True))
    written, number = 0, 0
    for d, _day, table in _tables(market, today - timedelta(days=days), progress, seed,
                                  cheats):
        rows = table.to_pylist()
        for row in rows:
            number += 1
            # the simulated residents use the platform's own services (payments, ordering,
            # messaging, its rating and complaint forms): the platform observed every event,
            # except a cheater's, which its own backend reports (that is how it lies)
            lying = cheats is not None and cheats.active(row["miniapp_id"], d) is not None
            keyed = storage_key if lying else first_party_key
            row["event_id"] = keyed(key_of[row["miniapp_id"]], f"sim-{seed}-{number}")
            row["received_at"] = row["occurred_at"]
        for i in range(0, len(rows), INSERT_ROWS):
            written += insert_rows(db, rows[i:i + INSERT_ROWS])
    return written


# -- (b) synthetic mini-apps straight to Parquet -----------------------------------------------
def generate_parquet(
    out_dir: Path,
    *,
    miniapps: int,
    days: int,
    events_per_app_day: float,
    seed: int,
    progress: Callable[[int], None] | None = None,
    end: date | None = None,
    summarise: Callable[[Path], None] | None = None,
) -> int:
    """Write synthetic events by day (the export's layout and schema) and `_market.parquet`
    (the hidden truth); returns the number of events. `end` is the last day (default yesterday);
    `summarise` writes each day's summaries beside its events, as the export does."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    market = synthetic_market(miniapps, days=days, events_per_app_day=events_per_app_day,
                              seed=seed)
    first_day = (end or clock.now().date() - timedelta(days=1)) - timedelta(days=days - 1)
    written, current, writer = 0, None, None
    try:
        for d, day, table in _tables(market, first_day, progress, seed):
            if writer is None or d != current:  # (the first day has no writer yet)
                if writer:
                    writer.commit()
                current, writer = d, DayWriter(out_dir, day, summarise)
            numbers = np.arange(written, written + table.num_rows, dtype=np.int64)
            table = table.set_column(0, "event_id", _ints_to_str(  # observed by the platform
                f"{PLATFORM_PREFIX}ev{seed}-", numbers))
            writer.write(table)
            written += table.num_rows
        if writer:
            writer.commit()
    except BaseException:
        if writer:
            writer.abort()
        raise
    pq.write_table(pa.table({
        "miniapp_id": market.miniapp_id, "quality": market.quality, "size": market.size,
        "start_day": market.start_day, "category_code": market.category, "city": market.city,
    }), out_dir / "_market.parquet")
    return written
