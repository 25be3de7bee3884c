"""Stores: create and edit them, their hours, closed days, delivery zones and pickup points.

Every function takes the acting user and checks it may act for the store's merchant; the
read-only door for residents and checkout (`zone_for`, `open_stores`) needs no actor."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core.errors import NotFound, TownsquareError, ValidationFailed
from townsquare.core.text import clean_name, clean_text, well_formed
from townsquare.ordering import access
from townsquare.ordering.stores import geo, hours
from townsquare.ordering.stores.models import DeliveryZone, PickupPoint, Store, ZoneKind

MAX_RADIUS_M = 50_000
MAX_CORNERS = 64


class OutsideZones(TownsquareError):
    code = "outside_zones"
    status = 422


def _coordinates(lat: float, lng: float) -> tuple[float, float]:
    if not geo.valid_lat_lng(lat, lng):
        raise ValidationFailed("Enter a latitude and longitude, such as 31.2304, 121.4737.",
                               field="location")
    return float(lat), float(lng)


def _address(value: str) -> str:
    return clean_name(value, field="address", max_length=200,
                      message="An address is 1 to {n} characters.")


def _phone(value: str) -> str:
    return clean_text(value, field="phone", max_length=32,
                      message="A phone number is at most {n} characters.")


def create_store(db: Session, *, actor: User | None, merchant_id: str, name: str, address: str,
                 lat: float, lng: float, phone: str = "", pickup: bool = True,
                 delivery: bool = False) -> Store:
    merchant = access.merchant(db, actor=actor, merchant_id=merchant_id)
    lat, lng = _coordinates(lat, lng)
    store = Store(merchant_id=merchant.id, name=clean_name(name), address=_address(address),
                  lat=lat, lng=lng, phone=_phone(phone), pickup=pickup, delivery=delivery,
                  hours={}, closed_days=[])
    db.add(store)
    db.flush()
    return store


def stores_of(db: Session, *, actor: User | None, merchant_id: str) -> list[Store]:
    merchant = access.merchant(db, actor=actor, merchant_id=merchant_id)
    return list(db.scalars(select(Store).where(Store.merchant_id == merchant.id)
                           .order_by(Store.id)))


def get_store(db: Session, *, actor: User | None, store_id: str) -> Store:
    """A store the actor may manage (the same refusal for missing and not yours)."""
    store = store_by_public_id(db, store_id)
    if store is None:
        raise NotFound("No such store.")
    access.require(db, actor, store.merchant_id)
    return store


def store_by_public_id(db: Session, store_id: str) -> Store | None:
    if not well_formed(store_id, "sto"):
        return None
    return db.scalar(select(Store).where(Store.public_id == store_id))


def update_store(db: Session, *, actor: User | None, store_id: str, name: str, address: str,
                 lat: float, lng: float, phone: str, pickup: bool, delivery: bool,
                 active: bool) -> Store:
    store = get_store(db, actor=actor, store_id=store_id)
    store.name, store.address = clean_name(name), _address(address)
    store.lat, store.lng = _coordinates(lat, lng)
    store.phone = _phone(phone)
    store.pickup, store.delivery, store.active = pickup, delivery, active
    db.flush()
    return store


def set_hours(db: Session, *, actor: User | None, store_id: str, week: Mapping[int, str],
              closed_days: str) -> Store:
    """Opening hours per weekday as typed ("08:00-12:00, 13:30-21:00") and closed days."""
    store = get_store(db, actor=actor, store_id=store_id)
    store.hours = hours.parse_week(week)
    store.closed_days = hours.parse_closed_days(closed_days)
    db.flush()
    return store


def parse_polygon(text: str) -> list[list[float]]:
    """"31.23,121.47; 31.24,121.48; …" → [[31.23, 121.47], …] (3 to 64 corners)."""
    corners: list[list[float]] = []
    for part in (text or "").replace("；", ";").replace("，", ",").split(";"):
        if not part.strip():
            continue
        try:
            lat_text, lng_text = part.split(",")
            corners.append(list(_coordinates(float(lat_text), float(lng_text))))
        except (ValueError, ValidationFailed) as exc:
            raise ValidationFailed("Enter corners as latitude,longitude separated by semicolons.",
                                   field="polygon") from exc
    if not 3 <= len(corners) <= MAX_CORNERS:
        raise ValidationFailed("A zone has 3 to {n} corners.", n=MAX_CORNERS, field="polygon")
    return corners


def add_zone(db: Session, *, actor: User | None, store_id: str, name: str, kind: str,
             fee_fen: int, min_order_fen: int, radius_m: int | None = None,
             polygon: Sequence[Sequence[float]] = ()) -> DeliveryZone:
    store = get_store(db, actor=actor, store_id=store_id)
    if kind not in ZoneKind.__members__.values():
        raise ValidationFailed("Choose a radius or a polygon.", field="kind")
    if fee_fen < 0 or min_order_fen < 0:
        raise ValidationFailed("Amounts may not be negative.", field="fee")
    zone = DeliveryZone(store_id=store.id, name=clean_name(name), kind=ZoneKind(kind),
                        fee_fen=fee_fen, min_order_fen=min_order_fen,
                        position=len(store.zones), polygon=[])
    if zone.kind is ZoneKind.RADIUS:
        if radius_m is None or not 1 <= radius_m <= MAX_RADIUS_M:
            raise ValidationFailed("A radius is 1 to {n} metres.", n=MAX_RADIUS_M,
                                   field="radius_m")
        zone.radius_m = radius_m
    else:
        zone.polygon = [[float(a), float(b)] for a, b in polygon]
        if not 3 <= len(zone.polygon) <= MAX_CORNERS or not all(
                geo.valid_lat_lng(a, b) for a, b in zone.polygon):
            raise ValidationFailed("A zone has 3 to {n} corners.", n=MAX_CORNERS,
                                   field="polygon")
    store.zones.append(zone)
    db.flush()
    return zone


def remove_zone(db: Session, *, actor: User | None, store_id: str, zone_id: str) -> None:
    store = get_store(db, actor=actor, store_id=store_id)
    zone = next((z for z in store.zones if z.public_id == zone_id), None)
    if zone is None:
        raise NotFound("No such delivery zone.")
    store.zones.remove(zone)
    db.flush()


def zone_covers(zone: DeliveryZone, store: Store, lat: float, lng: float) -> bool:
    if zone.kind is ZoneKind.RADIUS:
        return geo.distance_m(store.lat, store.lng, lat, lng) <= (zone.radius_m or 0)
    return geo.inside(lat, lng, zone.polygon)


def zone_for(store: Store, *, lat: float, lng: float) -> DeliveryZone:
    """The zone an address falls in (the cheapest where zones overlap), or OutsideZones."""
    if not (store.delivery and geo.valid_lat_lng(lat, lng)) or math.isnan(lat):
        raise OutsideZones("This address is outside the store's delivery area.")
    covering = [z for z in store.zones if zone_covers(z, store, lat, lng)]
    if not covering:
        raise OutsideZones("This address is outside the store's delivery area.")
    return min(covering, key=lambda z: (z.fee_fen, z.min_order_fen, z.position))


def add_point(db: Session, *, actor: User | None, store_id: str, name: str, address: str,
              lat: float, lng: float) -> PickupPoint:
    store = get_store(db, actor=actor, store_id=store_id)
    lat, lng = _coordinates(lat, lng)
    point = PickupPoint(store_id=store.id, name=clean_name(name), address=_address(address),
                        lat=lat, lng=lng)
    store.points.append(point)
    db.flush()
    return point


def set_point_active(db: Session, *, actor: User | None, store_id: str, point_id: str,
                     active: bool) -> PickupPoint:
    store = get_store(db, actor=actor, store_id=store_id)
    point = next((p for p in store.points if p.public_id == point_id), None)
    if point is None:
        raise NotFound("No such pickup point.")
    point.active = active
    db.flush()
    return point
