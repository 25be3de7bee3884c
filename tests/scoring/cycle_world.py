"""A small scored market for the cycle, dispute and page tests: one category, our merchant's
mini-app ("ours", good service), a competitor merchant with nine mini-apps of known quality and one
brand-new mini-app with a handful of events. Events are written straight into the events table
with a seeded generator, so the tests do not depend on the market simulator."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert

from tests.miniapps.registry_world import _users
from townsquare.accounts.models import Role, User
from townsquare.core.clock import clock
from townsquare.core.database import Database
from townsquare.events.models import BehaviourEvent
from townsquare.merchants.models import (
    Authorization,
    Category,
    Merchant,
    MerchantStaff,
    ProviderStaff,
    ServiceProvider,
)
from townsquare.miniapps.models import MiniApp, MiniAppKind

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
AS_OF = NOW.date()
QUALITIES = (0.35, 0.45, 0.55, 0.6, 0.7, 0.75, 0.8, 0.85, 0.95)


@dataclass
class Market:
    owner: User
    other_owner: User
    isv: User  # authorized by our merchant
    stranger_isv: User
    resident: User
    operator: User
    ours: str  # public ids
    new_app: str
    competitors: dict[str, float] = field(default_factory=dict)  # public id → true quality
    complaint_ids: list[str] = field(default_factory=list)  # complaints of "ours"
    visit_id: str = ""  # one non-complaint event of "ours"

    @property
    def outsiders(self) -> dict[str, User]:
        return {
            "other merchant": self.other_owner,
            "unauthorized ISV": self.stranger_isv,
            "resident": self.resident,
        }


def _events(app: MiniApp, quality: float, days: int, orders_per_day: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows: list[dict] = []
    base = dict(miniapp_id=app.id, merchant_id=app.merchant_id, category_code="food", city="武汉")

    def add(kind: str, at: datetime, **measures) -> None:
        rows.append(
            {
                **base,
                "event_id": f"{app.public_id}-{len(rows)}",
                "type": kind,
                "occurred_at": at,
                "received_at": at,
                **measures,
            }
        )

    for day in range(days):
        start = NOW - timedelta(days=day, hours=1)
        for v in range(orders_per_day * 3):
            add(
                "visit",
                start - timedelta(minutes=v),
                user_sub=f"u{rng.randrange(60)}",
                community=f"c{rng.randrange(5)}",
            )
        for n in range(orders_per_day):
            at = start - timedelta(minutes=30 + n)
            order, sub = f"{app.public_id}-o{day}-{n}", f"u{rng.randrange(40)}"
            add(
                "order_placed",
                at,
                user_sub=sub,
                order_id=order,
                amount_fen=2000 + n * 100,
                community=f"c{rng.randrange(5)}",
            )
            if rng.random() < quality:
                add(
                    "order_fulfilled",
                    at,
                    user_sub=sub,
                    order_id=order,
                    duration_seconds=int(3600 * (2 - quality)),
                )
                stars = max(1, min(5, round(1 + 4 * quality + rng.uniform(-0.6, 0.6))))
                add("rating", at, user_sub=sub, order_id=order, rating=stars)
            else:
                add("order_cancelled", at, user_sub=sub, order_id=order, cancelled_by="merchant")
                if rng.random() < 0.5:
                    add("refund", at, user_sub=sub, order_id=order, amount_fen=2000)
            if rng.random() < (1 - quality) * 0.25 or (day == 1 and n == 0):
                add(
                    "complaint",
                    at,
                    user_sub=sub,
                    complaint_category="late",
                    resolution="resolved" if rng.random() < quality else "unresolved",
                )
            add(
                "message_response",
                at,
                user_sub=sub,
                response_seconds=int(600 * (1.2 - quality) + rng.randrange(60)),
            )
    return rows


def build_market(database: Database) -> Market:
    clock.freeze(NOW)
    owner, other_owner, isv, stranger, resident, operator = _users(
        database,
        ("owner", Role.MERCHANT_STAFF),
        ("other_owner", Role.MERCHANT_STAFF),
        ("isv_dev", Role.ISV_STAFF),
        ("stranger_dev", Role.ISV_STAFF),
        ("resident", Role.RESIDENT),
        ("operator", Role.OPERATOR),
    )
    with database.unit_of_work() as db:
        food = Category(code="food", name_zh="美食", name_en="Food", urgent=False)
        db.add(food)
        db.flush()
        ours_merchant = Merchant(name="城东面馆", category_id=food.id, cities=["武汉"])
        rival = Merchant(name="城西餐饮", category_id=food.id, cities=["武汉"])
        pine, quartz = ServiceProvider(name="好帮手科技"), ServiceProvider(name="陌生科技")
        db.add_all([ours_merchant, rival, pine, quartz])
        db.flush()
        db.add_all(
            [
                MerchantStaff(merchant_id=ours_merchant.id, user_id=owner.id, is_owner=True),
                MerchantStaff(merchant_id=rival.id, user_id=other_owner.id, is_owner=True),
                ProviderStaff(provider_id=pine.id, user_id=isv.id),
                ProviderStaff(provider_id=quartz.id, user_id=stranger.id),
                Authorization(
                    merchant_id=ours_merchant.id,
                    provider_id=pine.id,
                    granted_by_id=owner.id,
                    granted_at=NOW,
                ),
            ]
        )

        def app(merchant: Merchant, name: str) -> MiniApp:
            created = MiniApp(
                merchant_id=merchant.id,
                category_id=food.id,
                kind=MiniAppKind.EXTERNAL,
                client_secret_digest="x" * 64,
                name=name,
                cities=["武汉"],
                listed=True,
            )
            db.add(created)
            db.flush()
            return created

        ours = app(ours_merchant, "好面馆")
        competitors = {app(rival, f"对手{i}"): q for i, q in enumerate(QUALITIES)}
        new_app = app(rival, "新开小店")
        rows = _events(ours, 0.9, 28, 6, seed=1)
        for i, (competitor, quality) in enumerate(competitors.items()):
            rows += _events(competitor, quality, 28, 6, seed=10 + i)
        rows += _events(new_app, 1.0, 1, 1, seed=99)  # two days old, one perfect order
        db.execute(insert(BehaviourEvent), rows)
        market = Market(
            owner,
            other_owner,
            isv,
            stranger,
            resident,
            operator,
            ours.public_id,
            new_app.public_id,
            {a.public_id: q for a, q in competitors.items()},
            [
                r["event_id"]
                for r in rows
                if r["miniapp_id"] == ours.id and r["type"] == "complaint"
            ],
            next(
                r["event_id"] for r in rows if r["miniapp_id"] == ours.id and r["type"] == "visit"
            ),
        )
    return market


def as_of() -> date:
    return AS_OF
