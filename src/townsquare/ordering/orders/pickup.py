"""Pickup numbers and pickup codes.

A **pickup number** ("A023") is what the counter calls: one counter per store and local day
(the slot's day), taken by one upsert (`INSERT … ON CONFLICT DO UPDATE SET last = last + 1
RETURNING last`), so racing payments never share a number. The letter says the kind of order.

A **pickup code** is what the resident's QR shows and the counter scans: the order's public id
and an HMAC of it under a key derived from the platform secret, so a code cannot be guessed or
made up from a number, and it works only at the order's own merchant."""

from __future__ import annotations

import hmac
from zoneinfo import ZoneInfo

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from townsquare.core.security import sign_hmac
from townsquare.core.settings import Settings, get_settings
from townsquare.core.text import well_formed
from townsquare.ordering.orders.models import Order, PickupCounter
from townsquare.ordering.slots.models import Kind
from townsquare.ordering.stores.models import Store

LETTERS = {Kind.PICKUP: "A", Kind.DINE_IN: "B", Kind.DELIVERY: "C", Kind.COMMUNITY: "D"}
PURPOSE = "ordering-pickup-code"
SIGNATURE_LENGTH = 22  # base64url characters: 132 bits of the HMAC


def next_number(db: Session, order: Order) -> str:
    store = db.get_one(Store, order.store_id)
    day = order.slot_start.astimezone(ZoneInfo(store.timezone)).date().isoformat()
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    stmt = (dialect.insert(PickupCounter).values(store_id=store.id, day=day, last=1)
            .on_conflict_do_update(index_elements=["store_id", "day"],
                                   set_={"last": PickupCounter.last + 1})
            .returning(PickupCounter.last))
    number = int(db.execute(stmt).scalar_one())
    return f"{LETTERS[order.kind]}{number:03d}"


def _signature(secret: bytes, public_id: str) -> str:
    return sign_hmac(secret, PURPOSE, public_id.encode())[:SIGNATURE_LENGTH]


def pickup_code(order: Order, *, settings: Settings | None = None) -> str:
    """The signed code for the order's QR: "ord_….<signature>"."""
    secret = (settings or get_settings()).effective_secret_key
    return f"{order.public_id}.{_signature(secret, order.public_id)}"


def order_id_of(code: str, *, settings: Settings | None = None) -> str | None:
    """The order public id a genuine code names; None for anything else."""
    if not isinstance(code, str) or len(code) > 80:
        return None
    public_id, _, signature = code.strip().partition(".")
    if not well_formed(public_id, "ord") or len(signature) != SIGNATURE_LENGTH:
        return None
    secret = (settings or get_settings()).effective_secret_key
    if not hmac.compare_digest(signature, _signature(secret, public_id)):
        return None
    return public_id
