"""The delivery door's business rules: requesting a delivery, reading and cancelling it, the
merchant's dispatch settings, and `apply_update`, the one place where a provider's news (a
webhook, a poll, the shop's rider, a booking's answer) changes a delivery.

Services take the acting user (`None` is the system) and never commit. Nothing here calls a
provider while it changes rows except `cancel` (the caller's transaction waits for the answer);
booking runs in its own units of work (dispatch.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.core.errors import Conflict, NotFound, ValidationFailed
from townsquare.core.hooks import Hook
from townsquare.core.settings import Settings, get_settings
from townsquare.delivery import codes, tracking
from townsquare.delivery.adapters.base import Parcel, Place, ProviderDelivery
from townsquare.delivery.models import (
    AttemptState,
    CourierPosition,
    Delivery,
    DeliveryAttempt,
    DeliveryEvent,
    DispatchSettings,
    Policy,
    SourceKind,
)
from townsquare.delivery.status import RANK, TERMINAL, DeliveryStatus, advances
from townsquare.merchants.access import can_act_for, require_act_for
from townsquare.merchants.models import Merchant

S = DeliveryStatus
MAX_ITEMS = 50
KICK = "townsquare.delivery.kick"  # session.info: deliveries to book once this commits


@dataclass(frozen=True)
class DeliveryChanged:
    """What delivery announces on every status change (ordering moves its order on it)."""

    delivery_id: str
    source_kind: str
    source_ref: str
    merchant_id: int
    old: DeliveryStatus
    new: DeliveryStatus
    at: datetime
    on_time: bool | None  # delivered: by the promised time (None: nothing was promised)
    incident: str  # "" or what went wrong (courier cancelled, returned …)


delivery_changed: Hook[DeliveryChanged] = Hook("delivery.changed")

# Called with the ids of deliveries to book once the transaction that asked for them commits
# (the serving process's worker, jobs.py); unset, they wait for the next poll or a test's call.
on_commit_book: Callable[[list[str]], None] | None = None


class DeliveryEnded(Conflict):
    code = "delivery_ended"


class NotCancellableNow(Conflict):
    code = "not_cancellable"


class WrongCode(ValidationFailed):
    code = "wrong_code"


# --- reading ----------------------------------------------------------------------------------

def merchant_of(db: Session, merchant: Merchant | str | int) -> Merchant:
    if isinstance(merchant, Merchant):
        return merchant
    found = (db.get(Merchant, merchant) if isinstance(merchant, int)
             else db.scalar(select(Merchant).where(Merchant.public_id == merchant)))
    if found is None:
        raise NotFound("No such merchant.")
    return found


def by_public_id(db: Session, delivery_id: str, *, lock: bool = False) -> Delivery:
    stmt = select(Delivery).where(Delivery.public_id == delivery_id)
    if lock:
        stmt = stmt.with_for_update()
    found = db.scalar(stmt)
    if found is None:
        raise NotFound("No such delivery.")
    return found


def can_see(db: Session, actor: User | None, delivery: Delivery) -> bool:
    if actor is None or actor.id == delivery.resident_user_id:
        return True
    return can_act_for(db, actor, db.get_one(Merchant, delivery.merchant_id))


def get(db: Session, *, actor: User | None, delivery_id: str) -> Delivery:
    """A delivery its resident, its merchant (staff or authorized provider) or the system sees."""
    delivery = by_public_id(db, delivery_id)
    if not can_see(db, actor, delivery):
        raise NotFound("No such delivery.")  # do not reveal what exists
    return delivery


def by_source(db: Session, *, source_kind: str, source_ref: str,
              merchant_id: int | None = None) -> Delivery | None:
    """The latest delivery asked for an order (or a gateway app's out id)."""
    stmt = select(Delivery).where(Delivery.source_kind == SourceKind(source_kind),
                                  Delivery.source_ref == source_ref)
    if merchant_id is not None:
        stmt = stmt.where(Delivery.merchant_id == merchant_id)
    return db.scalar(stmt.order_by(Delivery.id.desc()).limit(1))


def for_merchant(db: Session, *, actor: User | None, merchant: Merchant | str,
                 limit: int = 100) -> list[Delivery]:
    found = merchant_of(db, merchant)
    require_act_for(db, actor, found)
    stmt = (select(Delivery).where(Delivery.merchant_id == found.id)
            .order_by(Delivery.id.desc()).limit(limit))
    return list(db.scalars(stmt))


def timeline(db: Session, delivery: Delivery) -> list[DeliveryEvent]:
    stmt = select(DeliveryEvent).where(DeliveryEvent.delivery_id == delivery.id)
    return list(db.scalars(stmt.order_by(DeliveryEvent.id)))


def trail(db: Session, delivery: Delivery, *, limit: int = 500) -> list[CourierPosition]:
    stmt = (select(CourierPosition).where(CourierPosition.delivery_id == delivery.id)
            .order_by(CourierPosition.at.desc(), CourierPosition.id.desc()).limit(limit))
    return list(reversed(list(db.scalars(stmt))))


def current_attempt(delivery: Delivery) -> DeliveryAttempt | None:
    return next((a for a in delivery.attempts if a.id == delivery.current_attempt_id), None)


def dropoff_code(delivery: Delivery, *, settings: Settings | None = None) -> str:
    """The code the resident gives the courier (shown on the resident's order page only)."""
    return codes.dropoff_code((settings or get_settings()).effective_secret_key,
                              delivery.public_id)


def place_of(data: dict[str, Any]) -> Place:
    return Place(name=str(data.get("name", "")), phone=str(data.get("phone", "")),
                 address=str(data.get("address", "")), lat=float(data["lat"]),
                 lng=float(data["lng"]))


def parcel_of(delivery: Delivery, *, settings: Settings | None = None) -> Parcel:
    return Parcel(
        delivery_id=delivery.public_id, pickup=place_of(delivery.pickup),
        dropoff=place_of(delivery.dropoff), value_fen=delivery.value_fen,
        items=[str(i) for i in delivery.items], pickup_ready_at=delivery.pickup_ready_at,
        dropoff_code=dropoff_code(delivery, settings=settings),
    )


# --- settings ---------------------------------------------------------------------------------

def settings_for(db: Session, merchant_id: int) -> DispatchSettings:
    """The merchant's dispatch settings (the defaults, unsaved, while it has none)."""
    found = db.scalar(select(DispatchSettings).where(DispatchSettings.merchant_id == merchant_id))
    return found or DispatchSettings(merchant_id=merchant_id, policy=Policy.CHEAPEST,
                                     promise_minutes=45, self_first=True, providers=[],
                                     self_fee_fen=0)


def update_settings(db: Session, *, actor: User | None, merchant: Merchant | str, policy: str,
                    promise_minutes: int, self_first: bool, providers: Sequence[str],
                    self_fee_fen: int) -> DispatchSettings:
    found = merchant_of(db, merchant)
    require_act_for(db, actor, found)
    try:
        chosen = Policy(policy)
    except ValueError:
        raise ValidationFailed("Choose a dispatch policy.", field="policy") from None
    if not 10 <= promise_minutes <= 240:
        raise ValidationFailed("The promised time is 10 to 240 minutes.", field="promise_minutes")
    if not 0 <= self_fee_fen <= 100_00:
        raise ValidationFailed("Own riders cost ¥0 to ¥100 a delivery.", field="self_fee_fen")
    names = [p.strip() for p in providers if p.strip()]
    if any(not n.replace("_", "").isalnum() or len(n) > 24 for n in names):
        raise ValidationFailed("Unknown provider.", field="providers")
    row = db.scalar(select(DispatchSettings).where(DispatchSettings.merchant_id == found.id))
    if row is None:
        row = DispatchSettings(merchant_id=found.id)
        db.add(row)
    row.policy, row.promise_minutes, row.self_first = chosen, promise_minutes, self_first
    row.providers, row.self_fee_fen = list(dict.fromkeys(names)), self_fee_fen
    db.flush()
    return row


# --- the log ----------------------------------------------------------------------------------

def log(db: Session, delivery: Delivery, kind: str, message: str, *,
        provider: str | None = None, status: DeliveryStatus | None = None,
        **params: Any) -> DeliveryEvent:
    """Write one line of the delivery's log (shown to the merchant)."""
    event = DeliveryEvent(delivery_id=delivery.id, at=clock.now(), kind=kind, provider=provider,
                          status=status, message=message, params=params)
    db.add(event)
    return event


def kick(db: Session, delivery: Delivery) -> None:
    """Book `delivery` as soon as this transaction commits."""
    db.info.setdefault(KICK, set()).add(delivery.public_id)


# --- requesting -------------------------------------------------------------------------------

def check_place(place: Place, field: str) -> None:
    if not (-90 <= place.lat <= 90 and -180 <= place.lng <= 180):
        raise ValidationFailed("A place needs a latitude and longitude.", field=field)
    if not place.address.strip() or len(place.address) > 200 or len(place.name) > 64:
        raise ValidationFailed("A place needs an address.", field=field)
    if len(place.phone) > 32:
        raise ValidationFailed("A phone number is at most 32 characters.", field=field)


def require_act(db: Session, actor: User | None, merchant: Merchant) -> None:
    require_act_for(db, actor, merchant)


def request(db: Session, *, actor: User | None, merchant: Merchant | str | int,
            source_kind: str, source_ref: str, pickup: Place, dropoff: Place,
            value_fen: int, items: Sequence[str], pickup_ready_at: datetime,
            promised_by: datetime | None = None, resident_user_id: int | None = None,
            idempotency_key: str, settings: Settings | None = None) -> Delivery:
    """Ask for a delivery once: it is booked when this transaction commits (dispatch.py).

    The same idempotency key for the merchant returns the first delivery (with other content:
    `idempotency_mismatch`)."""
    found = merchant_of(db, merchant)
    require_act_for(db, actor, found)
    check_place(pickup, "pickup")
    check_place(dropoff, "dropoff")
    if not 0 <= value_fen <= 10**9:
        raise ValidationFailed("The parcel's value is out of range.", field="value_fen")
    if pickup_ready_at.tzinfo is None or (promised_by and promised_by.tzinfo is None):
        raise ValidationFailed("Give times with their offset.", field="pickup_ready_at")
    if not idempotency_key or len(idempotency_key) > 128:
        raise ValidationFailed("An idempotency key is needed.", field="idempotency_key")
    if not source_ref or len(source_ref) > 64:
        raise ValidationFailed("The order reference is 1 to 64 characters.", field="source_ref")
    kind = SourceKind(source_kind)
    item_list = [str(i)[:80] for i in items][:MAX_ITEMS]
    stmt = select(Delivery).where(Delivery.merchant_id == found.id,
                                  Delivery.idempotency_key == idempotency_key)
    existing = db.scalar(stmt)
    if existing is not None:
        return _same_or_refuse(existing, kind, source_ref)
    delivery = Delivery(
        merchant_id=found.id, source_kind=kind, source_ref=source_ref,
        idempotency_key=idempotency_key, resident_user_id=resident_user_id,
        pickup=asdict(pickup), dropoff=asdict(dropoff), value_fen=value_fen, items=item_list,
        pickup_ready_at=pickup_ready_at, promised_by=promised_by, status=S.QUOTED,
        dropoff_code_digest="", last_news_at=clock.now(), excluded=[],
    )
    secret = (settings or get_settings()).effective_secret_key
    try:
        with db.begin_nested():
            db.add(delivery)
            db.flush()
    except IntegrityError:
        # a racing request with the same key won: return its delivery
        existing = db.scalar(stmt)
        if existing is None:
            raise
        return _same_or_refuse(existing, kind, source_ref)
    delivery.dropoff_code_digest = codes.digest(
        secret, delivery.public_id, codes.dropoff_code(secret, delivery.public_id))
    log(db, delivery, "requested", "Delivery requested for {ref}.", status=S.QUOTED,
        ref=source_ref)
    kick(db, delivery)
    return delivery


def _same_or_refuse(existing: Delivery, kind: SourceKind, source_ref: str) -> Delivery:
    if existing.source_kind != kind or existing.source_ref != source_ref:
        raise Conflict("This idempotency key was used for another delivery.",
                       code="idempotency_mismatch")
    return existing


# --- news from providers ----------------------------------------------------------------------

def _copy_info(db: Session, delivery: Delivery, info: ProviderDelivery, at: datetime) -> None:
    if info.courier_name:
        delivery.courier_name = info.courier_name[:64]
    if info.courier_phone:
        delivery.courier_phone = info.courier_phone[:32]
    if info.tracking_url:
        delivery.tracking_url = info.tracking_url[:255]
    if info.pickup_eta:
        delivery.pickup_eta = info.pickup_eta
    if info.dropoff_eta:
        delivery.dropoff_eta = info.dropoff_eta
    if info.fee_fen is not None:
        delivery.fee_fen = info.fee_fen
    if info.external_id and not delivery.external_id:
        delivery.external_id = info.external_id[:96]
    move_courier(db, delivery, info.courier_lat, info.courier_lng, at)


def move_courier(db: Session, delivery: Delivery, lat: float | None, lng: float | None,
                 at: datetime) -> None:
    if lat is None or lng is None:
        return
    if (lat, lng) == (delivery.courier_lat, delivery.courier_lng):
        return
    delivery.courier_lat, delivery.courier_lng = lat, lng
    db.add(CourierPosition(delivery_id=delivery.id, at=at, lat=lat, lng=lng))


def apply_update(db: Session, *, delivery: Delivery, provider: str, status: DeliveryStatus,
                 occurred_at: datetime | None = None, info: ProviderDelivery | None = None,
                 via: str) -> bool:
    """Apply a provider's status for `delivery` (its row locked by the caller, or locked here).

    Only the current attempt's provider counts; a status that does not advance the attempt (a
    repeat, a late one, anything after the end) changes nothing but the log. A cancellation or
    rejection by the provider before pickup sends the delivery back to be booked elsewhere.
    True if something changed."""
    now = clock.now()
    at = occurred_at or now
    db.flush()
    db.refresh(delivery, with_for_update=True)
    attempt = current_attempt(delivery)
    if attempt is None or attempt.provider != provider or attempt.state != AttemptState.ACTIVE:
        log(db, delivery, "ignored", "Ignored {status} from {provider}: not its delivery now.",
            provider=provider, status=status, via=via)
        return False
    delivery.last_news_at = now
    old_attempt = attempt.provider_status or S.CREATED
    if not advances(old_attempt, status):
        if info is not None and status == old_attempt and status not in TERMINAL:
            _copy_info(db, delivery, info, at)  # a position or ETA without a new status
        return False
    attempt.provider_status = status
    if info is not None:
        _copy_info(db, delivery, info, at)
    old = delivery.status
    if status in (S.CANCELLED, S.REJECTED) and not delivery.cancel_reason \
            and RANK[old] < RANK[S.PICKED_UP]:
        _rebook(db, delivery, attempt, status, via=via)
        _announce(db, delivery, old, incident=f"{provider}.{status.value}")
        return True
    if not advances(old, status):
        return False
    delivery.status = status
    stamp = {S.ASSIGNED: "assigned_at", S.PICKED_UP: "picked_up_at",
             S.DELIVERED: "delivered_at"}.get(status)
    if stamp and getattr(delivery, stamp) is None:
        setattr(delivery, stamp, at)
    incident = ""
    if status in TERMINAL:
        attempt.state, attempt.finished_at = AttemptState.ENDED, now
        delivery.ended_at = now
        if status is not S.DELIVERED and not delivery.cancel_reason:
            incident = f"{provider}.{status.value}"
    elif status is S.RETURNING:
        incident = f"{provider}.returning"
    log(db, delivery, "status", "{provider}: {status}.", provider=provider, status=status,
        via=via)
    _announce(db, delivery, old, incident=incident)
    return True


def _rebook(db: Session, delivery: Delivery, attempt: DeliveryAttempt, status: DeliveryStatus,
            *, via: str) -> None:
    now = clock.now()
    attempt.state, attempt.finished_at = AttemptState.ENDED, now
    attempt.error_code = f"provider_{status.value}"
    delivery.excluded = sorted({*delivery.excluded, attempt.provider})
    delivery.status, delivery.current_attempt_id = S.QUOTED, None
    delivery.provider = delivery.external_id = None
    delivery.fee_fen = delivery.rider_id = None
    delivery.courier_name = delivery.courier_phone = delivery.tracking_url = ""
    delivery.courier_lat = delivery.courier_lng = None
    delivery.pickup_eta = delivery.dropoff_eta = delivery.assigned_at = None
    log(db, delivery, "failover", "{provider} gave it up ({status}): booking another provider.",
        provider=attempt.provider, status=status, via=via)
    kick(db, delivery)


def _announce(db: Session, delivery: Delivery, old: DeliveryStatus, *, incident: str = "") -> None:
    on_time = None
    if delivery.status is S.DELIVERED and delivery.promised_by and delivery.delivered_at:
        on_time = delivery.delivered_at <= delivery.promised_by
    if delivery.status is not old or incident:
        db.flush()
        delivery_changed.fire(db, DeliveryChanged(
            delivery_id=delivery.public_id, source_kind=delivery.source_kind.value,
            source_ref=delivery.source_ref, merchant_id=delivery.merchant_id, old=old,
            new=delivery.status, at=clock.now(), on_time=on_time, incident=incident))


def end(db: Session, delivery: Delivery, status: DeliveryStatus, message: str, **params: Any
        ) -> None:
    """End a delivery that is not with any provider now (nobody took it, cancelled before
    booking)."""
    old = delivery.status
    delivery.status, delivery.ended_at = status, clock.now()
    delivery.current_attempt_id = None
    log(db, delivery, "ended", message, status=status, **params)
    _announce(db, delivery, old)


def check_code(delivery: Delivery, code: str, *, settings: Settings | None = None) -> None:
    secret = (settings or get_settings()).effective_secret_key
    if not codes.matches(secret, delivery.public_id, delivery.dropoff_code_digest, code):
        raise WrongCode("That is not the resident's delivery code.", field="code")


def require_open(delivery: Delivery) -> None:
    if delivery.status in TERMINAL:
        raise DeliveryEnded("This delivery has ended.")


def track(db: Session, *, actor: User | None, delivery_id: str) -> tracking.Track:
    """What the resident (or the merchant) may follow: positions and times."""
    delivery = get(db, actor=actor, delivery_id=delivery_id)
    courier = (tracking.Point(delivery.courier_lat, delivery.courier_lng)
               if delivery.courier_lat is not None and delivery.courier_lng is not None
               else None)
    return tracking.Track(
        status=delivery.status.value, provider=delivery.provider,
        courier_name=delivery.courier_name, courier=courier,
        pickup=tracking.Point(float(delivery.pickup["lat"]), float(delivery.pickup["lng"])),
        dropoff=tracking.Point(float(delivery.dropoff["lat"]), float(delivery.dropoff["lng"])),
        trail=[tracking.Point(p.lat, p.lng) for p in trail(db, delivery)],
        pickup_eta=delivery.pickup_eta, dropoff_eta=delivery.dropoff_eta,
        picked_up_at=delivery.picked_up_at, delivered_at=delivery.delivered_at,
        promised_by=delivery.promised_by)


def can_act_for_merchant(db: Session, actor: User | None, delivery: Delivery) -> bool:
    return can_act_for(db, actor, db.get_one(Merchant, delivery.merchant_id))
