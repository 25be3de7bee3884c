"""Cheating merchants for the market simulator, the kinds of issue 19: fake 5★ ratings, hidden
trouble (cancellations, refunds and complaints left unreported), fake fast replies, and
self-purchase / brushing by staff accounts (orders placed, rated 5★ and refunded later by the
merchant's staff and by residents sharing a staff member's address).

`apply` rewrites one generated day's events of the cheating mini-apps (with its own random
stream: a market without cheaters is generated exactly as before); `staff_accounts` creates the
brushers' platform accounts (staff users, a shared address, the subs issued to the mini-app),
so the detectors find them the way they would find real ones."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
from sqlalchemy.orm import Session

from townsquare.accounts.models import Address, Role, RoleGrant, User
from townsquare.core.clock import clock
from townsquare.events.export import SCHEMA
from townsquare.merchants.models import MerchantStaff
from townsquare.miniapps.models import IssuedSub

KINDS = ("fake_ratings", "hidden_trouble", "fast_replies", "brushing")
HIDDEN = ("order_cancelled", "refund", "complaint")
FAKE_RATINGS_PER_ORDER = 1.2
BRUSH_STAFF = 3  # staff accounts of a brushing merchant …
BRUSH_FRIENDS = 2  # … and residents living at a staff member's address
BRUSH_ORDERS_PER_DAY = 0.8  # per account
BRUSH_REFUNDED = 0.75  # of the brushed orders, paid and refunded a few hours later


@dataclass
class Cheats:
    """Which simulated mini-apps cheat, how, and from which day of the window on."""

    kind: dict[int, str]  # mini-app id → one of KINDS
    start_day: dict[int, int] = field(default_factory=dict)  # default: the whole window
    brushers: dict[int, list[str]] = field(default_factory=dict)  # mini-app id → subs

    def active(self, app: int, day: int) -> str | None:
        kind = self.kind.get(app)
        return kind if kind and day >= self.start_day.get(app, 0) else None


def brusher_subs(miniapp_id: int) -> list[str]:
    return [f"ou_brush_{miniapp_id}_{k}" for k in range(BRUSH_STAFF + BRUSH_FRIENDS)]


def staff_accounts(db: Session, *, cheats: Cheats, merchant_of: dict[int, int],
                   password_hash: str) -> None:
    """The brushers' accounts: staff of the merchant, friends at a staff member's address, and
    the subs the platform issued them for the mini-app."""
    now = clock.now()
    for app, kind in sorted(cheats.kind.items()):
        if kind != "brushing":
            continue
        subs = brusher_subs(app)
        users = [User(username=f"sim_brush_{app}_{k}", display_name=f"刷单{k}",
                      password_hash=password_hash,
                      roles=[RoleGrant(role=Role.MERCHANT_STAFF if k < BRUSH_STAFF
                                       else Role.RESIDENT)])
                 for k in range(len(subs))]
        db.add_all(users)
        db.flush()
        for k, user in enumerate(users):
            if k < BRUSH_STAFF:
                db.add(MerchantStaff(merchant_id=merchant_of[app], user_id=user.id))
            if k == 0 or k >= BRUSH_STAFF:  # the first staff member and the friends share it
                db.add(Address(user_id=user.id, name=f"刷单{k}", phone=f"1390000{app % 10000:04d}",
                               text=f"幸福里{app % 97}号楼", detail="1单元101", lat=30.5,
                               lng=114.3))
            db.add(IssuedSub(miniapp_id=app, sub=subs[k], user_id=user.id, first_at=now))
        cheats.brushers[app] = subs
    db.flush()


def _column(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).to_numpy(zero_copy_only=False)


def apply(cheats: Cheats, day: int, day_start: datetime, table: pa.Table,
          rng: np.random.Generator) -> pa.Table:
    """The day's events as the cheating mini-apps report them."""
    apps = _column(table, "miniapp_id")
    kinds = _column(table, "type")
    active = {int(a): how for a in np.unique(apps) if (how := cheats.active(int(a), day))}
    if not active:
        return table
    hidden = np.array([a for a, k in active.items() if k == "hidden_trouble"], np.int64)
    keep = ~(np.isin(apps, hidden) & np.isin(kinds, HIDDEN))
    fast = np.array([a for a, k in active.items() if k == "fast_replies"], np.int64)
    replies = np.isin(apps, fast) & (kinds == "message_response")
    if replies.any():
        seconds = _column(table, "response_seconds").astype(np.float64)
        seconds[replies] = rng.integers(2, 12, int(replies.sum()))
        index = table.schema.get_field_index("response_seconds")
        table = table.set_column(index, "response_seconds",
                                 pa.array(np.nan_to_num(seconds).astype(np.int64),
                                          pa.int64(), mask=np.isnan(seconds)))
    first = {int(a): i for i, a in reversed(list(enumerate(apps)))}
    bases = {app: {"miniapp_id": app, "community": "", "surface": "", "slot_reason": "",
                   **{name: table.column(name)[first[app]].as_py()
                      for name in ("merchant_id", "category_code", "city")}}
             for app in active}
    table = table.filter(pa.array(keep))
    extra: list[dict] = []
    for app, kind in sorted(active.items()):
        if kind == "fake_ratings":
            orders = int(((apps == app) & (kinds == "order_placed")).sum())
            for k in range(rng.poisson(FAKE_RATINGS_PER_ORDER * max(orders, 2))):
                extra.append({**bases[app], "type": "rating", "rating": 5, "order_id": "",
                              "user_sub": f"ou_fan_{app}_{day}_{k}",
                              "occurred_at": _at(day_start, rng.uniform(0, 23 * 3600))})
        elif kind == "brushing":
            extra.extend(_brush(bases[app], app, day, day_start, cheats.brushers.get(app, []),
                                rng))
    if extra:
        table = pa.concat_tables([table, pa.Table.from_pylist(extra, schema=SCHEMA)])
    return table


def _at(day_start: datetime, seconds: float) -> datetime:
    return datetime.fromtimestamp(day_start.timestamp() + seconds, tz=UTC)


def _brush(base: dict, app: int, day: int, day_start: datetime, subs: list[str],
           rng: np.random.Generator) -> list[dict]:
    rows = []
    for n, sub in enumerate(subs):
        for k in range(rng.poisson(BRUSH_ORDERS_PER_DAY)):
            order = f"b{app}-{day}-{n}-{k}"
            placed = rng.uniform(0, 10 * 3600)
            amount = int(rng.integers(2000, 6000))
            rows.append({**base, "type": "order_placed", "user_sub": sub, "order_id": order,
                         "amount_fen": amount, "occurred_at": _at(day_start, placed)})
            rows.append({**base, "type": "order_fulfilled", "user_sub": sub, "order_id": order,
                         "duration_seconds": 900,
                         "occurred_at": _at(day_start, placed + 900)})
            rows.append({**base, "type": "rating", "user_sub": sub, "order_id": order,
                         "rating": 5, "occurred_at": _at(day_start, placed + 3600)})
            if rng.random() < BRUSH_REFUNDED:
                rows.append({**base, "type": "refund", "user_sub": sub, "order_id": order,
                             "amount_fen": amount,
                             "occurred_at": _at(day_start, placed + rng.uniform(2, 8) * 3600)})
    return rows

