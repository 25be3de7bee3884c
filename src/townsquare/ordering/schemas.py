"""JSON shapes of the ordering API: a store as residents see it, its slots, its menu, the zone
an address falls in. Money is integer fen; times are UTC ISO 8601."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from townsquare.ordering.catalog.menu import MenuItem
from townsquare.ordering.slots.rules import Slot
from townsquare.ordering.stores.hours import day_text
from townsquare.ordering.stores.models import DeliveryZone, PickupPoint, Store


class ZoneOut(BaseModel):
    id: str
    name: str
    kind: str
    radius_m: int | None
    polygon: list[list[float]]
    fee_fen: int
    min_order_fen: int

    @classmethod
    def of(cls, zone: DeliveryZone) -> ZoneOut:
        return cls(id=zone.public_id, name=zone.name, kind=zone.kind.value,
                   radius_m=zone.radius_m, polygon=zone.polygon, fee_fen=zone.fee_fen,
                   min_order_fen=zone.min_order_fen)


class PointOut(BaseModel):
    id: str
    name: str
    address: str
    lat: float
    lng: float

    @classmethod
    def of(cls, point: PickupPoint) -> PointOut:
        return cls(id=point.public_id, name=point.name, address=point.address, lat=point.lat,
                   lng=point.lng)


class StoreOut(BaseModel):
    id: str
    merchant_id: str
    name: str
    address: str
    lat: float
    lng: float
    phone: str
    timezone: str
    hours: dict[str, str]  # weekday (Monday = "0") → "08:00-12:00, 13:30-21:00"; "" closed
    closed_days: list[str]
    pickup: bool
    delivery: bool
    active: bool
    zones: list[ZoneOut]
    pickup_points: list[PointOut]

    @classmethod
    def of(cls, store: Store, merchant_id: str) -> StoreOut:
        return cls(id=store.public_id, merchant_id=merchant_id, name=store.name,
                   address=store.address, lat=store.lat, lng=store.lng, phone=store.phone,
                   timezone=store.timezone,
                   hours={str(d): day_text(store.hours.get(str(d), [])) for d in range(7)},
                   closed_days=list(store.closed_days), pickup=store.pickup,
                   delivery=store.delivery, active=store.active,
                   zones=[ZoneOut.of(z) for z in store.zones],
                   pickup_points=[PointOut.of(p) for p in store.points if p.active])


class SlotOut(BaseModel):
    start: datetime
    end: datetime
    places_left: int | None
    prep_minutes_left: int | None

    @classmethod
    def of(cls, slot: Slot) -> SlotOut:
        return cls(start=slot.start, end=slot.end, places_left=slot.places_left,
                   prep_minutes_left=slot.prep_left)


class MenuItemOut(BaseModel):
    category: str
    product_id: str
    name: str
    unit: str
    options: list[dict[str, Any]]
    picture: str | None  # the thumbnail's path
    sku_id: str
    spec: str
    price_fen: int
    left: int | None
    unavailable: str | None  # "sold_out", "not_now" (outside its time of day) or null

    @classmethod
    def of(cls, item: MenuItem) -> MenuItemOut:
        picture = f"/ordering/pictures/{item.picture_id}.thumb.jpg" if item.picture_id else None
        return cls(category=item.category, product_id=item.product_id, name=item.name,
                   unit=item.unit, options=item.options, picture=picture, sku_id=item.sku_id,
                   spec=item.spec, price_fen=item.price_fen, left=item.left,
                   unavailable=item.unavailable)
