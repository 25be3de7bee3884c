"""Bookings: a verified resident books a service at one of its store's delivery slots (an
ordering hold of one place), gets a trade to pay in the cashier, and follows the booking as the
payments hook moves it (paid, or cancelled when the trade closes). The provider's staff move it
on the way and done; the resident rates it and may complain (behaviour events for scoring).

The trade is created by the system under the provider's mini-app: the property's official pass
for its own services, the admitted mini-app for an outside merchant's, and then it carries the
community and the admission's commission rate, which the ledger splits off when it is paid (and
gives back in proportion with any refund)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.community import access, property
from townsquare.community.models import Community
from townsquare.community.services import catalog
from townsquare.community.services.models import Booking, BookingStatus, Service
from townsquare.core import audit
from townsquare.core.clock import clock
from townsquare.core.errors import Conflict, NotFound, ValidationFailed
from townsquare.core.ids import new_id
from townsquare.core.settings import Settings, get_settings
from townsquare.core.text import clean_text, well_formed
from townsquare.events import intake
from townsquare.events.models import EventType
from townsquare.gateway import apps as gateway_apps
from townsquare.merchants import access as merchant_access
from townsquare.miniapps.models import MiniApp
from townsquare.miniapps.shell import launch
from townsquare.miniapps.shell import service as shell_service
from townsquare.ordering import Hold, HoldGone, Kind, Slot, confirm, hold, offered, release
from townsquare.ordering.stores.models import Store
from townsquare.payments import trades
from townsquare.payments.trades import hooks
from townsquare.payments.trades.models import Trade

B = BookingStatus
PAY_MINUTES = 15
PRODUCT_CODE = "QUICK_MSECURITY_PAY"
LISTENER = "community.services"
COMPLAINTS = ("quality", "service", "price", "late")


class BookingStateError(Conflict):
    code = "booking_state"


class NotBookable(Conflict):
    code = "service_not_bookable"


def _store(db: Session, service: Service) -> Store:
    if service.store_id is None or service.sku_id is None:
        raise NotBookable("This service is not booked here; open its shop instead.")
    return db.get_one(Store, service.store_id)


def slots(db: Session, *, service: Service, now: datetime | None = None) -> list[Slot]:
    """The times a resident may book now (ordering's delivery slots of the service's store)."""
    if service.store_id is None:
        return []
    return offered(db, store=db.get_one(Store, service.store_id), kind=Kind.DELIVERY, now=now)


def _miniapp(db: Session, community: Community, service: Service) -> MiniApp:
    if service.admission is None:
        return property.property_miniapp(db, community)
    return db.get_one(MiniApp, service.admission.miniapp_id)


def book(db: Session, *, actor: User, community: Community, service_id: str,
         slot_start: datetime, idempotency_key: str,
         settings: Settings | None = None) -> Booking:
    """Hold a place in the slot and create the booking and its trade (waiting for payment), or
    refuse and change nothing. The same key answers the same booking."""
    person = access.require_resident(db, actor=actor, community=community)
    if not 1 <= len(idempotency_key or "") <= 64:
        raise ValidationFailed("A booking needs a request id of 1 to 64 characters.",
                               field="idempotency_key")
    done = db.scalar(select(Booking).where(Booking.user_id == actor.id,
                                           Booking.idempotency_key == idempotency_key))
    if done is not None:
        return done
    service = catalog.get(db, community=community, service_id=service_id)
    if service not in catalog.offered(db, community=community):
        raise NotBookable("This service is not offered now.")
    if service.price_fen <= 0:
        raise NotBookable("This service is free; ask the property office.")
    store = _store(db, service)
    miniapp = _miniapp(db, community, service)
    now = clock.now()
    assert service.sku_id is not None
    held = hold(db, store=store, kind=Kind.DELIVERY, slot_start=slot_start,
                sku_quantities={service.sku_id: 1},
                hold_key=f"service:{actor.id}:{idempotency_key}",
                expires_at=now + timedelta(minutes=PAY_MINUTES), now=now)
    rate = service.admission.commission_bp if service.admission else 0
    booking = Booking(public_id=new_id("svb"), community_id=community.id,
                      service_id=service.id, user_id=actor.id,
                      idempotency_key=idempotency_key, miniapp_id=miniapp.id,
                      merchant_id=miniapp.merchant_id, slot_start=slot_start, hold_id=held.id,
                      trade_no="", price_fen=service.price_fen, commission_bp=rate,
                      address=person.household.room.label)
    secret = (settings or get_settings()).effective_secret_key
    booking.user_sub = launch.pseudonymous_id(secret, actor.public_id, miniapp.public_id)
    shell_service.record_issued(db, miniapp=miniapp, user=actor, sub=booking.user_sub)
    subject = f"{community.name} · {service.name}"[:120]
    app = gateway_apps.app_for_miniapp(db, actor=None, miniapp=miniapp)
    trade = trades.create(
        db, app=app, merchant_id=miniapp.merchant_id, miniapp_id=miniapp.id,
        out_trade_no=booking.public_id, total_fen=service.price_fen, subject=subject,
        product_code=PRODUCT_CODE, timeout_minutes=PAY_MINUTES, notify_url="",
        return_url=f"/community/{community.public_id}/services/bookings/{booking.public_id}",
        buyer_user_id=actor.id,
        content_digest=trades.digest(total_fen=service.price_fen, subject=subject),
        community_id=community.id if service.admission else None, community_rate_bp=rate)
    booking.trade_no = trade.trade_no
    db.add(booking)
    db.flush()
    return booking


def get(db: Session, *, community: Community, booking_id: str) -> Booking:
    found = None
    if well_formed(booking_id, "svb"):
        found = db.scalar(select(Booking).where(Booking.public_id == booking_id,
                                                Booking.community_id == community.id))
    if found is None:
        raise NotFound("No such booking.")
    return found


def mine(db: Session, *, actor: User, community: Community, booking_id: str) -> Booking:
    """The resident's own booking (NotFound for anyone else's)."""
    found = get(db, community=community, booking_id=booking_id)
    if found.user_id != actor.id:
        raise NotFound("No such booking.")
    return found


def my_bookings(db: Session, *, actor: User, community: Community) -> list[Booking]:
    return list(db.scalars(select(Booking).where(Booking.user_id == actor.id,
                                                 Booking.community_id == community.id)
                           .order_by(Booking.id.desc()).limit(50)))


def may_serve(db: Session, *, actor: User | None, community: Community,
              booking: Booking) -> bool:
    """The provider's side: the property manager for the property's services, the merchant's
    staff for an admitted merchant's."""
    if booking.service.admission is None:
        return access.has_role(db, actor=actor, community=community, roles=[access.PM])
    return merchant_access.can_act_for(db, actor, db.get_one(MiniApp,
                                                             booking.miniapp_id).merchant)


def of_community(db: Session, *, actor: User | None, community: Community) -> list[Booking]:
    access.require(db, actor=actor, community=community, roles=[access.PM])
    return list(db.scalars(select(Booking).where(Booking.community_id == community.id)
                           .order_by(Booking.slot_start.desc()).limit(200)))


def of_merchant(db: Session, *, merchant_id: int) -> list[Booking]:
    return list(db.scalars(select(Booking).where(Booking.merchant_id == merchant_id)
                           .order_by(Booking.slot_start.desc()).limit(200)))


def locked(db: Session, booking: Booking) -> Booking:
    """The booking row, locked for this transaction and read afresh (a provider's move and a
    resident's cancel of one booking take turns)."""
    return db.scalars(select(Booking).where(Booking.id == booking.id).with_for_update(of=Booking)
                      .execution_options(populate_existing=True)).one()


def advance(db: Session, *, actor: User | None, community: Community, booking_id: str,
            to: str) -> Booking:
    """The provider moves a paid booking on the way, then done."""
    booking = get(db, community=community, booking_id=booking_id)
    if not may_serve(db, actor=actor, community=community, booking=booking):
        raise NotFound("No such booking.")
    booking = locked(db, booking)
    allowed = {B.ON_THE_WAY: (B.PAID,), B.DONE: (B.PAID, B.ON_THE_WAY)}
    target = B(to) if to in B.__members__.values() else None
    if target not in allowed or booking.status not in allowed[target]:
        raise BookingStateError("The booking cannot move to this status now.")
    booking.status = target
    if target is B.DONE:
        booking.done_at = clock.now()
        _event(db, booking, EventType.ORDER_FULFILLED, "fulfilled",
               duration_seconds=max(0, int((booking.done_at - (booking.paid_at or
                                                                booking.done_at))
                                           .total_seconds())))
    db.flush()
    audit.record(db, actor_id=actor.id if actor else None, action="community.booking.advance",
                 subject_type="booking", subject_id=booking.public_id, to=target.value)
    return booking


def refund(db: Session, *, actor: User | None, community: Community, booking_id: str,
           amount_fen: int, reason: str = "") -> Booking:
    """The provider refunds part or all of a paid booking (the commission comes back in
    proportion, by the ledger's split); a whole refund cancels it."""
    booking = get(db, community=community, booking_id=booking_id)
    if not may_serve(db, actor=actor, community=community, booking=booking):
        raise NotFound("No such booking.")
    if booking.status is B.CREATED or booking.status is B.CANCELLED:
        raise BookingStateError("Only a paid booking can be refunded.")
    trade = trades.get(db, booking.trade_no)
    n = len(trade.refunds) + 1
    trades.refund(db, trade=trade, refund_fen=amount_fen, out_request_no=f"{booking.public_id}:{n}",
                  reason=reason[:200], actor=actor)
    db.refresh(booking)
    return booking


def rate(db: Session, *, actor: User, community: Community, booking_id: str,
         stars: int) -> Booking:
    booking = mine(db, actor=actor, community=community, booking_id=booking_id)
    if booking.status is not B.DONE:
        raise BookingStateError("A booking can be rated once it is done.")
    if booking.rating is not None:
        raise BookingStateError("This booking is rated already.")
    if isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5:
        raise ValidationFailed("Choose 1 to 5 stars.", field="rating")
    booking.rating = stars
    db.flush()
    _event(db, booking, EventType.RATING, "rating", rating=stars)
    return booking


def complain(db: Session, *, actor: User, community: Community, booking_id: str,
             category: str, text: str) -> Booking:
    booking = mine(db, actor=actor, community=community, booking_id=booking_id)
    if booking.status in (B.CREATED, B.CANCELLED):
        raise BookingStateError("Only a paid booking can be complained about.")
    if category not in COMPLAINTS:
        raise ValidationFailed("Choose what went wrong.", field="category")
    if booking.complaint:
        raise BookingStateError("You have complained about this booking already.")
    text = clean_text(text, field="text", max_length=400, required=True,
                      message="Tell what happened (at most {n} characters).")
    booking.complaint = text
    db.flush()
    _event(db, booking, EventType.COMPLAINT, f"complaint:{category}",
           complaint_category=category)
    return booking


def _event(db: Session, booking: Booking, kind: EventType, suffix: str,
           **measures: object) -> bool:
    if not booking.user_sub:
        return False
    return intake.record(db, miniapp=db.get_one(MiniApp, booking.miniapp_id), type=kind,
                         event_id=f"{booking.public_id}:{suffix}", occurred_at=clock.now(),
                         sub=booking.user_sub, order_id=booking.public_id, **measures)


# --- following the trade (payments' hook) ------------------------------------------------------

def _hold(db: Session, booking: Booking) -> Hold:
    return db.get_one(Hold, booking.hold_id)


def _paid(db: Session, booking: Booking, trade: Trade) -> None:
    if booking.status is not B.CREATED:
        return
    now = clock.now()
    try:
        confirm(db, _hold(db, booking), now=now)
    except HoldGone:  # the place ran out before the money came: give the money back
        booking.status, booking.cancelled_at = B.CANCELLED, now
        db.flush()
        trades.refund(db, trade=trade, refund_fen=trade.total_fen - trade.refunded_fen,
                      out_request_no=f"{booking.public_id}:hold", reason="hold_expired")
        return
    booking.status, booking.paid_at = B.PAID, trade.paid_at or now
    db.flush()


def _closed(db: Session, booking: Booking, event: str) -> None:
    if booking.status is not B.CREATED:
        return
    booking.status, booking.cancelled_at = B.CANCELLED, clock.now()
    db.flush()
    if event != "timed_out":  # at a timeout the hold's own expiry job gives the place back
        release(db, _hold(db, booking))


def _refunded(db: Session, booking: Booking, trade: Trade) -> None:
    if trade.refunded_fen >= trade.total_fen and booking.status in (B.PAID, B.ON_THE_WAY):
        booking.status, booking.cancelled_at = B.CANCELLED, clock.now()
        db.flush()
        release(db, _hold(db, booking))


def on_trade_changed(db: Session, change: hooks.TradeChanged) -> None:
    if not change.trade.out_trade_no.startswith("svb_"):
        return
    booking = db.scalar(select(Booking).where(Booking.trade_no == change.trade.trade_no))
    if booking is None:
        return
    if change.event == "paid":
        _paid(db, booking, change.trade)
    elif change.event in ("closed", "timed_out", "cancelled"):
        _closed(db, booking, change.event)
    elif change.event == "refunded":
        _refunded(db, booking, change.trade)


def connect() -> None:
    """Called by the composition roots (townsquare.app.connect_hooks)."""
    hooks.trade_changed.connect(LISTENER, on_trade_changed)
