"""Ordering: stores, the catalog, slots and the holds checkout takes on them (docs/ordering.md).

The door for checkout, delivery and the pages above: other domains use these names, not the
tables. Carts, checkout and orders come with the payments they need."""

from townsquare.ordering.catalog.menu import MenuItem, menu
from townsquare.ordering.slots.holds import (
    HoldGone,
    HoldMismatch,
    OutOfStock,
    SlotFull,
    SlotNotOffered,
    SoldOut,
    confirm,
    due,
    expire,
    expire_due,
    hold,
    release,
)
from townsquare.ordering.slots.models import Hold, HoldStatus, Kind
from townsquare.ordering.slots.rules import Slot, offered
from townsquare.ordering.stores.service import OutsideZones, store_by_public_id, zone_for

__all__ = [
    "Hold", "HoldGone", "HoldMismatch", "HoldStatus", "Kind", "MenuItem", "OutOfStock",
    "OutsideZones", "Slot", "SlotFull", "SlotNotOffered", "SoldOut", "confirm", "due",
    "expire", "expire_due", "hold", "menu", "offered", "release", "store_by_public_id",
    "zone_for",
]
