"""The resident's address book: where orders are delivered (name, phone, place, room, location).

Only the owner reads or changes an entry; someone else's id answers as if it did not exist.
Checkout copies an entry into the order (`snapshot`), so the book may change freely afterwards.
"""

from __future__ import annotations

import math
import re
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from townsquare.accounts import places
from townsquare.accounts.identity import is_valid_phone
from townsquare.accounts.models import Address, User
from townsquare.core.errors import NotFound, ValidationFailed
from townsquare.core.i18n import N_
from townsquare.core.text import clean_name, clean_text, well_formed

MAX_ADDRESSES = 20
LABEL_MAX, NAME_MAX, TEXT_MAX, DETAIL_MAX = 16, 32, 120, 80
_NUMBER = re.compile(r"^-?\d{1,3}(\.\d{1,8})?$")


class AddressNotFound(NotFound):
    code = "address_not_found"


class TooManyAddresses(ValidationFailed):
    code = "too_many_addresses"


def mine(db: Session, *, actor: User) -> list[Address]:
    """The actor's addresses: the default first, then the newest."""
    return list(db.scalars(
        select(Address).where(Address.user_id == actor.id)
        .order_by(Address.is_default.desc(), Address.id.desc())))


def get(db: Session, *, actor: User, address_id: str) -> Address:
    found = None
    if well_formed(address_id, "adr"):
        found = db.scalar(select(Address).where(Address.public_id == address_id,
                                                Address.user_id == actor.id))
    if found is None:
        raise AddressNotFound("No such address.")
    return found


def coordinate(value: str | float, *, field: str, limit: int) -> float:
    """A latitude (limit 90) or longitude (180) typed as decimal degrees ("30.5905")."""
    text = str(value).strip().replace("，", ".").replace("。", ".")
    if not _NUMBER.fullmatch(text) or not math.isfinite(float(text)) or abs(float(text)) > limit:
        raise ValidationFailed(N_("Enter decimal degrees, such as 30.5905 and 114.3450."),
                               field=field)
    return float(text)


def save(db: Session, *, actor: User, address_id: str | None = None, label: str = "",
         name: str, phone: str, place_key: str = "", text: str = "", detail: str = "",
         lat: str | float = "", lng: str | float = "", default: bool = False) -> Address:
    """Add an address (`address_id` None) or change one. `place_key` names a known place
    (accounts.places) that gives the place's text and location; without it `text`, `lat` and
    `lng` are required. Nothing is stored when any field is refused."""
    values = _values(label=label, name=name, phone=phone, place_key=place_key, text=text,
                     detail=detail, lat=lat, lng=lng)
    if address_id:
        address = get(db, actor=actor, address_id=address_id)
    else:
        count = db.scalar(select(func.count()).select_from(Address)
                          .where(Address.user_id == actor.id)) or 0
        if count >= MAX_ADDRESSES:
            raise TooManyAddresses(N_("An address book holds at most {n} addresses."),
                                   n=MAX_ADDRESSES)
        address = Address(user_id=actor.id)
        db.add(address)
        default = default or count == 0  # the first address is the default
    for key, value in values.items():
        setattr(address, key, value)
    db.flush()
    if default:
        make_default(db, actor=actor, address_id=address.public_id)
    return address


def _values(*, label: str, name: str, phone: str, place_key: str, text: str, detail: str,
            lat: str | float, lng: str | float) -> dict[str, Any]:
    label = (label or "").strip()
    if label:
        label = clean_name(label, field="label", max_length=LABEL_MAX,
                           message=N_("A label is at most {n} characters."))
    name = clean_name(name, field="name", max_length=NAME_MAX,
                      message=N_("Enter the receiver's name (1 to {n} characters)."))
    phone = (phone or "").strip().replace(" ", "").replace("-", "")
    if not is_valid_phone(phone):
        raise ValidationFailed(N_("That is not a valid mobile number."), field="phone")
    detail = clean_text(detail, field="detail", max_length=DETAIL_MAX,
                        message=N_("Building and room: at most {n} characters, one line."))
    if "\n" in detail:
        raise ValidationFailed(N_("Building and room: at most {n} characters, one line."),
                               n=DETAIL_MAX, field="detail")
    if place_key:
        known = places.place(place_key)
        if known is None:
            raise ValidationFailed(N_("Choose a place from the list."), field="place")
        text, lat_value, lng_value = known.address, known.lat, known.lng
    else:
        text = clean_name(text, field="text", max_length=TEXT_MAX, message=N_(
            "Choose a place, or type the street address (1 to {n} characters)."))
        lat_value = coordinate(lat, field="lat", limit=90)
        lng_value = coordinate(lng, field="lng", limit=180)
    return {"label": label, "name": name, "phone": phone, "text": text, "detail": detail,
            "lat": lat_value, "lng": lng_value}


def make_default(db: Session, *, actor: User, address_id: str) -> Address:
    address = get(db, actor=actor, address_id=address_id)
    db.execute(update(Address).where(Address.user_id == actor.id, Address.id != address.id)
               .values(is_default=False))
    address.is_default = True
    db.flush()
    return address


def delete(db: Session, *, actor: User, address_id: str) -> None:
    """Remove an address (orders keep their own copy); the newest left becomes the default."""
    address = get(db, actor=actor, address_id=address_id)
    was_default = address.is_default
    db.delete(address)
    db.flush()
    if was_default:
        rest = mine(db, actor=actor)
        if rest:
            rest[0].is_default = True
            db.flush()


def snapshot(address: Address) -> dict[str, Any]:
    """What an order keeps of an address: the text a rider reads and the location."""
    return {"label": address.label, "name": address.name, "phone": address.phone,
            "text": address.full_text, "lat": address.lat, "lng": address.lng}
