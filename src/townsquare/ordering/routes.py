"""Ordering JSON API, public (what a resident's page or a mini-app reads before checkout): a
store, the slots it offers now for a kind of order, its menu for a time, and the delivery zone
an address falls in."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from townsquare.core.errors import NotFound, ValidationFailed
from townsquare.merchants.models import Merchant
from townsquare.ordering.catalog.menu import menu
from townsquare.ordering.schemas import MenuItemOut, SlotOut, StoreOut, ZoneOut
from townsquare.ordering.slots.models import Kind
from townsquare.ordering.slots.rules import offered
from townsquare.ordering.stores.models import Store
from townsquare.ordering.stores.service import store_by_public_id, zone_for
from townsquare.web.deps import DbSession
from townsquare.web.openapi import PublicId, errors

router = APIRouter(prefix="/api/ordering", tags=["ordering"])


def _store(db: Session, store_id: str) -> Store:
    store = store_by_public_id(db, store_id)
    if store is None:
        raise NotFound("No such store.")
    return store


@router.get("/stores/{store_id}", response_model=StoreOut, responses=errors(404))
def get_store(store_id: PublicId, db: DbSession) -> StoreOut:
    """A store: address, hours, closed days, delivery zones and pickup points."""
    store = _store(db, store_id)
    return StoreOut.of(store, db.get_one(Merchant, store.merchant_id).public_id)


@router.get("/stores/{store_id}/slots", response_model=list[SlotOut], responses=errors(404, 422))
def store_slots(store_id: PublicId, db: DbSession, kind: Kind = Kind.PICKUP,
                point: Annotated[str, Query(max_length=40)] = "",
                prep: Annotated[int, Query(ge=0, le=100_000)] = 0) -> list[SlotOut]:
    """The slots offered now (full ones left out): `kind` is pickup, delivery, dine_in or
    community (with the pickup point's id as `point`); `prep` the kitchen minutes the order
    needs."""
    store = _store(db, store_id)
    found = next((p for p in store.points if p.public_id == point and p.active), None)
    if point and found is None:
        raise NotFound("No such pickup point.")
    return [SlotOut.of(s) for s in offered(db, store=store, kind=kind, point=found, prep=prep)]


@router.get("/stores/{store_id}/menu", response_model=list[MenuItemOut],
            responses=errors(404, 422))
def store_menu(store_id: PublicId, db: DbSession, at: datetime | None = None
               ) -> list[MenuItemOut]:
    """Everything on sale, priced in fen, judged for `at` (a slot's start; now by default)."""
    if at is not None and at.tzinfo is None:
        raise ValidationFailed("Give the time with its offset, such as 2026-12-07T12:00:00+08:00.",
                               field="at")
    return [MenuItemOut.of(i) for i in menu(db, store=_store(db, store_id), at=at)]


@router.get("/stores/{store_id}/zone", response_model=ZoneOut, responses=errors(404, 422))
def store_zone(store_id: PublicId, db: DbSession,
               lat: Annotated[float, Query(ge=-90, le=90)],
               lng: Annotated[float, Query(ge=-180, le=180)]) -> ZoneOut:
    """The delivery zone (fee, minimum order) an address falls in; 422 `outside_zones` if none."""
    return ZoneOut.of(zone_for(_store(db, store_id), lat=lat, lng=lng))
