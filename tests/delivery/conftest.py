"""Delivery test fixtures: a merchant with its owner and a rider (staff marked as rider), three
courier providers served over real loopback HTTP (tests/delivery/courier_server.py), and a
helper that asks for a delivery through the door."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from tests.delivery.courier_server import Courier, CourierAdapter, serve
from townsquare.accounts.models import Role, User
from townsquare.core.clock import clock
from townsquare.core.database import Database
from townsquare.core.settings import Settings
from townsquare.delivery import dispatch, riders, service
from townsquare.delivery.adapters import registry
from townsquare.delivery.adapters.base import Place
from townsquare.delivery.breaker import Breakers
from townsquare.merchants import categories
from townsquare.merchants import service as merchants

PICKUP = Place(name="光谷店", phone="027-8888", address="武汉市洪山区光谷大道 1 号",
               lat=30.5052, lng=114.4085)
DROPOFF = Place(name="李女士", phone="13900000000", address="武汉市洪山区珞喻路 100 号",
                lat=30.5200, lng=114.3900)


@dataclass
class Shop:
    owner: User
    rider_user: User
    resident: User
    merchant: str
    merchant_row: int


@dataclass
class Fleet:
    couriers: dict[str, Courier]
    adapters: dict[str, CourierAdapter]
    board: Breakers

    def total_creates(self) -> int:
        return sum(c.creates for c in self.couriers.values())


@pytest.fixture
def shop(database: Database, make_user) -> Shop:
    owner = make_user(Role.RESIDENT, username="boss")
    rider_user = make_user(Role.RESIDENT, username="rider", display_name="小王")
    resident = make_user(Role.RESIDENT, username="lili")
    with database.unit_of_work() as db:
        categories.create_category(db, actor=None, code="food", name_zh="美食", name_en="Food")
        merchant = merchants.create_merchant(db, actor=None, owner_username="boss",
                                             name="热干面馆", category_code="food",
                                             cities=["武汉"])
        merchants.add_staff(db, actor=None, public_id=merchant.public_id, username="rider")
        ids = merchant.public_id, merchant.id
    with database.unit_of_work() as db:
        owner, rider_user = db.get_one(User, owner.id), db.get_one(User, rider_user.id)
    return Shop(owner, rider_user, resident, *ids)


@pytest.fixture
def fleet(settings: Settings) -> Iterator[Fleet]:
    """Three providers on loopback: alpha (¥8, 40 min), beta (¥6, 55 min), gamma (¥10, 30 min)."""
    couriers = {"alpha": Courier("alpha", fee_fen=800, minutes=40),
                "beta": Courier("beta", fee_fen=600, minutes=55),
                "gamma": Courier("gamma", fee_fen=1000, minutes=30)}
    servers, adapters = [], {}
    for name, courier in couriers.items():
        url, server = serve(courier)
        servers.append(server)
        adapters[name] = CourierAdapter(name, url, courier.secret, timeout=0.5)
    registry.reset()
    with registry.installed(*adapters.values()):
        yield Fleet(couriers, adapters, Breakers(failures=3, open_s=30))
    for adapter in adapters.values():
        adapter.close()
    for server in servers:
        server.shutdown()
        server.server_close()
    registry.reset()


def request(database: Database, shop: Shop, *, key: str = "k1", ref: str = "ord_test1",
            promised_in: int | None = 60, settings: Settings | None = None) -> str:
    now = clock.now()
    with database.unit_of_work() as db:
        delivery = service.request(
            db, actor=None, merchant=shop.merchant, source_kind="direct", source_ref=ref,
            pickup=PICKUP, dropoff=DROPOFF, value_fen=3200, items=["热干面 x2"],
            pickup_ready_at=now + timedelta(minutes=10),
            promised_by=now + timedelta(minutes=promised_in) if promised_in else None,
            resident_user_id=shop.resident.id, idempotency_key=key, settings=settings)
        return delivery.public_id


def book(database: Database, fleet: Fleet, delivery_id: str, settings: Settings,
         **kwargs) -> dispatch.Outcome:
    adapters = dispatch.available(database, settings=settings)
    return dispatch.book(database, delivery_id, settings=settings, adapters=adapters,
                         board=fleet.board, **kwargs)


def make_rider(database: Database, shop: Shop, *, on_duty: bool = True) -> None:
    with database.unit_of_work() as db:
        riders.add_rider(db, actor=None, merchant=shop.merchant, username="rider",
                         phone="13700000000")
    with database.unit_of_work() as db:
        riders.set_duty(db, actor=db.get_one(User, shop.rider_user.id), on_duty=on_duty)


def use_providers(database: Database, shop: Shop, *, policy: str = "cheapest",
                  providers: tuple[str, ...] = (), self_first: bool = True) -> None:
    with database.unit_of_work() as db:
        service.update_settings(db, actor=None, merchant=shop.merchant, policy=policy,
                                promise_minutes=60, self_first=self_first,
                                providers=list(providers), self_fee_fen=300)


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, 7, hour, minute, tzinfo=UTC)
