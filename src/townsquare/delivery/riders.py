"""Self-delivery: the merchant's own riders (its staff marked as riders) and the `self` adapter
that books them.

The self adapter quotes only while one of the merchant's riders is on duty and free (that is
what puts the shop's riders first); a booked self delivery is offered to the merchant's riders
on duty, the first to accept gets it (one conditional UPDATE), and the rider moves it on from
the rider page: picked up, then delivered with the resident's delivery code."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.core.database import rows_changed
from townsquare.core.errors import NotFound, PermissionDenied, ValidationFailed
from townsquare.core.settings import Settings
from townsquare.delivery import service
from townsquare.delivery.adapters.base import (
    DeliveryUnknown,
    NotCancellable,
    Parcel,
    ProviderDelivery,
    ProviderQuote,
    ProviderRejected,
    WebhookEvent,
)
from townsquare.delivery.models import AttemptState, Delivery, Rider
from townsquare.delivery.status import RANK, TERMINAL, DeliveryStatus
from townsquare.merchants.access import require_act_for
from townsquare.merchants.models import Merchant, MerchantStaff

S = DeliveryStatus
NAME = "self"
SPEED_KMH = 15.0  # an e-bike in city traffic
HANDOVER_MINUTES = 5
QUOTE_MINUTES = 10


def distance_km(a_lat: float, a_lng: float, b_lat: float, b_lng: float) -> float:
    """Great-circle distance."""
    r = 6371.0
    p1, p2 = math.radians(a_lat), math.radians(b_lat)
    dp, dl = p2 - p1, math.radians(b_lng - a_lng)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(h))


def free_riders(db: Session, merchant_id: int) -> int:
    """Riders on duty minus the self deliveries they are on or that wait for one."""
    on_duty = db.scalar(select(func.count()).select_from(Rider).where(
        Rider.merchant_id == merchant_id, Rider.active, Rider.on_duty)) or 0
    busy = db.scalar(select(func.count()).select_from(Delivery).where(
        Delivery.merchant_id == merchant_id, Delivery.provider == NAME,
        Delivery.status.not_in(list(TERMINAL)))) or 0
    return int(on_duty) - int(busy)


class SelfAdapter:
    """The `self` provider: its "remote side" is the rider tables, read through `session`."""

    name = NAME

    def __init__(self, session: Callable[[], AbstractContextManager[Session]], *,
                 merchant_id: int | None = None) -> None:
        self.session = session
        self.merchant_id = merchant_id  # whose riders quote a parcel not booked yet

    def _delivery(self, db: Session, delivery_id: str) -> Delivery:
        found = db.scalar(select(Delivery).where(Delivery.public_id == delivery_id))
        if found is None:
            raise DeliveryUnknown("No such delivery.")
        return found

    def quote(self, parcel: Parcel) -> ProviderQuote:
        with self.session() as db:
            found = db.scalar(select(Delivery.merchant_id)
                              .where(Delivery.public_id == parcel.delivery_id))
            merchant_id = found if found is not None else self.merchant_id
            if merchant_id is None:
                raise DeliveryUnknown("No such delivery.")
            if free_riders(db, merchant_id) <= 0:
                raise ProviderRejected("No rider of the shop is free.")
            fee = service.settings_for(db, merchant_id).self_fee_fen
        now = clock.now()
        ride = distance_km(parcel.pickup.lat, parcel.pickup.lng, parcel.dropoff.lat,
                           parcel.dropoff.lng) / SPEED_KMH
        pickup_eta = max(now + timedelta(minutes=HANDOVER_MINUTES), parcel.pickup_ready_at)
        return ProviderQuote(provider=NAME, quote_id=f"self:{parcel.delivery_id}", fee_fen=fee,
                             pickup_eta=pickup_eta,
                             dropoff_eta=pickup_eta + timedelta(hours=ride),
                             expires_at=now + timedelta(minutes=QUOTE_MINUTES))

    def create(self, parcel: Parcel, quote: ProviderQuote | None) -> ProviderDelivery:
        with self.session() as db:
            delivery = self._delivery(db, parcel.delivery_id)
            if free_riders(db, delivery.merchant_id) <= 0:
                raise ProviderRejected("No rider of the shop is free.")
        return ProviderDelivery(
            provider=NAME, external_id=parcel.delivery_id, status=S.CREATED,
            fee_fen=quote.fee_fen if quote else None, courier_name="", courier_phone="",
            courier_lat=None, courier_lng=None, tracking_url="",
            pickup_eta=quote.pickup_eta if quote else None,
            dropoff_eta=quote.dropoff_eta if quote else None)

    def get(self, delivery_id: str) -> ProviderDelivery:
        with self.session() as db:
            delivery = self._delivery(db, delivery_id)
            if delivery.provider != NAME:
                raise DeliveryUnknown("Not a self delivery.")
            return ProviderDelivery(
                provider=NAME, external_id=delivery_id, status=delivery.status,
                fee_fen=delivery.fee_fen, courier_name=delivery.courier_name,
                courier_phone=delivery.courier_phone, courier_lat=delivery.courier_lat,
                courier_lng=delivery.courier_lng, tracking_url="",
                pickup_eta=delivery.pickup_eta, dropoff_eta=delivery.dropoff_eta)

    def cancel(self, delivery_id: str, reason: str) -> ProviderDelivery:
        found = self.get(delivery_id)
        if RANK[found.status] >= RANK[S.PICKED_UP]:
            raise NotCancellable("The rider has already picked it up.")
        return ProviderDelivery(**{**found.__dict__, "status": S.CANCELLED})

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        return []  # the shop's riders report through the rider page, not webhooks


# --- riders -----------------------------------------------------------------------------------

def riders_of_user(db: Session, user: User) -> list[Rider]:
    stmt = select(Rider).where(Rider.user_id == user.id, Rider.active).order_by(Rider.id)
    return list(db.scalars(stmt))


def rider_for(db: Session, actor: User | None) -> Rider:
    if actor is None:
        raise PermissionDenied("Sign in as a rider.")
    found = riders_of_user(db, actor)
    if not found:
        raise PermissionDenied("You are not a rider of any shop.", code="not_a_rider")
    return found[0]


def merchant_riders(db: Session, *, actor: User | None, merchant: Merchant | str) -> list[Rider]:
    found = service.merchant_of(db, merchant)
    require_act_for(db, actor, found)
    stmt = select(Rider).where(Rider.merchant_id == found.id).order_by(Rider.id)
    return list(db.scalars(stmt))


def add_rider(db: Session, *, actor: User | None, merchant: Merchant | str, username: str,
              phone: str = "") -> Rider:
    """Mark one of the merchant's staff as its rider."""
    found = service.merchant_of(db, merchant)
    require_act_for(db, actor, found)
    user = db.scalar(select(User).where(User.username == username.strip()))
    staff = user and db.scalar(select(MerchantStaff).where(
        MerchantStaff.merchant_id == found.id, MerchantStaff.user_id == user.id))
    if user is None or staff is None:
        raise ValidationFailed("Only the shop's staff can be its riders.", field="username")
    if len(phone) > 32:
        raise ValidationFailed("A phone number is at most 32 characters.", field="phone")
    rider = db.scalar(select(Rider).where(Rider.merchant_id == found.id,
                                          Rider.user_id == user.id))
    if rider is None:
        rider = Rider(merchant_id=found.id, user_id=user.id, name=user.display_name)
        db.add(rider)
    rider.active, rider.phone = True, phone or rider.phone
    db.flush()
    return rider


def set_duty(db: Session, *, actor: User | None, on_duty: bool) -> Rider:
    rider = rider_for(db, actor)
    rider.on_duty = on_duty
    return rider


def offered(db: Session, *, actor: User | None) -> list[Delivery]:
    """Self deliveries of the rider's shop waiting for a rider."""
    rider = rider_for(db, actor)
    stmt = select(Delivery).where(
        Delivery.merchant_id == rider.merchant_id, Delivery.provider == NAME,
        Delivery.status == S.CREATED, Delivery.rider_id.is_(None)).order_by(Delivery.id)
    return list(db.scalars(stmt))


def mine(db: Session, *, actor: User | None, include_ended: int = 5) -> list[Delivery]:
    """The rider's open deliveries, then the last few ended ones."""
    rider = rider_for(db, actor)
    base = select(Delivery).where(Delivery.rider_id == rider.id)
    open_ = list(db.scalars(base.where(Delivery.status.not_in(list(TERMINAL)))
                            .order_by(Delivery.id)))
    ended = list(db.scalars(base.where(Delivery.status.in_(list(TERMINAL)))
                            .order_by(Delivery.id.desc()).limit(include_ended)))
    return open_ + ended


def _own(db: Session, actor: User | None, delivery_id: str) -> tuple[Rider, Delivery]:
    rider = rider_for(db, actor)
    delivery = service.by_public_id(db, delivery_id, lock=True)
    if delivery.merchant_id != rider.merchant_id or delivery.provider != NAME:
        raise NotFound("No such delivery.")
    return rider, delivery


def _info(rider: Rider, delivery: Delivery, status: DeliveryStatus,
          lat: float | None = None, lng: float | None = None) -> ProviderDelivery:
    return ProviderDelivery(
        provider=NAME, external_id=delivery.public_id, status=status, fee_fen=None,
        courier_name=rider.name, courier_phone=rider.phone, courier_lat=lat,
        courier_lng=lng, tracking_url="", pickup_eta=None, dropoff_eta=None)


def accept(db: Session, *, actor: User | None, delivery_id: str) -> Delivery:
    """Take an offered delivery: the first rider to accept gets it."""
    rider, delivery = _own(db, actor, delivery_id)
    won = rows_changed(db.execute(
        update(Delivery).where(Delivery.id == delivery.id, Delivery.rider_id.is_(None),
                               Delivery.status == S.CREATED)
        .values(rider_id=rider.id).execution_options(synchronize_session=False)))
    if not won:
        service.require_open(delivery)
        raise service.DeliveryEnded("Another rider has taken this delivery.",
                                    code="already_taken")
    pickup = delivery.pickup
    service.apply_update(db, delivery=delivery, provider=NAME, status=S.ASSIGNED,
                         info=_info(rider, delivery, S.ASSIGNED, rider.lat, rider.lng),
                         via="rider")
    if rider.lat is None:
        service.move_courier(db, delivery, float(pickup["lat"]), float(pickup["lng"]),
                             clock.now())
    return delivery


def _step(db: Session, actor: User | None, delivery_id: str, status: DeliveryStatus,
          at_place: str | None, code: str | None = None,
          settings: Settings | None = None) -> Delivery:
    rider, delivery = _own(db, actor, delivery_id)
    if delivery.rider_id != rider.id:
        raise NotFound("No such delivery.")
    service.require_open(delivery)
    attempt = service.current_attempt(delivery)
    if attempt is None or attempt.state != AttemptState.ACTIVE:
        raise service.DeliveryEnded("This delivery is not yours any more.")
    if code is not None:
        service.check_code(delivery, code, settings=settings)
    place = getattr(delivery, at_place) if at_place else None
    lat = float(place["lat"]) if place else None
    lng = float(place["lng"]) if place else None
    if not service.apply_update(db, delivery=delivery, provider=NAME, status=status,
                                info=_info(rider, delivery, status, lat, lng), via="rider"):
        raise service.NotCancellableNow("This step is done already.", code="delivery_state")
    return delivery


def at_pickup(db: Session, *, actor: User | None, delivery_id: str) -> Delivery:
    return _step(db, actor, delivery_id, S.AT_PICKUP, "pickup")


def picked_up(db: Session, *, actor: User | None, delivery_id: str) -> Delivery:
    return _step(db, actor, delivery_id, S.PICKED_UP, "pickup")


def at_dropoff(db: Session, *, actor: User | None, delivery_id: str) -> Delivery:
    return _step(db, actor, delivery_id, S.AT_DROPOFF, "dropoff")


def delivered(db: Session, *, actor: User | None, delivery_id: str, code: str,
              settings: Settings | None = None) -> Delivery:
    """Hand it over: the resident's delivery code proves it."""
    return _step(db, actor, delivery_id, S.DELIVERED, "dropoff", code=code, settings=settings)


def report_position(db: Session, *, actor: User | None, lat: float, lng: float) -> None:
    """The rider's phone reports where it is: every open delivery of the rider moves."""
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise ValidationFailed("Not a position.", field="lat")
    rider = rider_for(db, actor)
    rider.lat, rider.lng = lat, lng
    stmt = select(Delivery).where(Delivery.rider_id == rider.id,
                                  Delivery.status.not_in(list(TERMINAL)))
    for delivery in db.scalars(stmt):
        service.move_courier(db, delivery, lat, lng, clock.now())
