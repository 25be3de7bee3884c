"""Services marketplace JSON API for residents' apps: the community's services and their free
times, booking one (Idempotency-Key; pay at the answer's `cashier_url`), following, cancelling,
rating and complaining about my bookings. The same services as the pages, which check who may
do what (docs/community-services.md)."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

from fastapi import APIRouter, Header
from sqlalchemy.orm import Session

from townsquare.accounts.deps import CurrentUser
from townsquare.community import access
from townsquare.community.services import bookings, cancelling, catalog
from townsquare.community.services.models import Booking, BookingStatus, Service
from townsquare.community.services.schemas import (
    BookingIn,
    BookingOut,
    ComplaintIn,
    RatingIn,
    ServiceOut,
    SlotOut,
)
from townsquare.core.errors import ValidationFailed
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.openapi import PublicId, Responses, error

router = APIRouter(prefix="/api/community", tags=["community services"])
IdempotencyKey = Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=64)]
READ_ERRORS: Responses = {401: error("Not logged in"),
                          404: error("No such community or service"),
                          422: error("Invalid input")}
MINE_ERRORS: Responses = {
    401: error("Not logged in"), 403: error("Not a verified resident of this community"),
    404: error("No such community, or no such booking of mine"),
    409: error("Not possible in the booking's status"), 422: error("Invalid input")}


def service_out(db: Session, service: Service) -> ServiceOut:
    link = None
    if service.link_miniapp_id:
        link = catalog.link_public_id(db, service)
    return ServiceOut(
        id=service.public_id, name=service.name, description=service.description,
        provider=catalog.provider_name(db, service),
        run_by="property" if service.admission is None else "merchant",
        kind="link" if link else "bookable", price_fen=0 if link else service.price_fen,
        link_miniapp=link)


def booking_out(db: Session, booking: Booking) -> BookingOut:
    waiting = booking.status is BookingStatus.CREATED
    return BookingOut(
        id=booking.public_id, service=booking.service.public_id,
        service_name=booking.service.name, provider=catalog.provider_name(db, booking.service),
        status=booking.status.value, slot_start=booking.slot_start, price_fen=booking.price_fen,
        address=booking.address, trade_no=booking.trade_no,
        cashier_url=f"/cashier/{booking.trade_no}" if waiting else None,
        paid_at=booking.paid_at, done_at=booking.done_at, cancelled_at=booking.cancelled_at,
        rating=booking.rating, complained=bool(booking.complaint),
        may_cancel=booking.status in cancelling.RESIDENT_MAY_CANCEL,
        created_at=booking.created_at)


@router.get("/{com}/services", response_model=list[ServiceOut], responses=READ_ERRORS)
def services(com: PublicId, db: DbSession, user: CurrentUser) -> list[ServiceOut]:
    """The services the community offers now: the property's and admitted merchants'."""
    community = access.get_community(db, community_id=com)
    return [service_out(db, s) for s in catalog.offered(db, community=community)]


@router.get("/{com}/services/{svc}/slots", response_model=list[SlotOut],
            responses=READ_ERRORS)
def service_slots(com: PublicId, svc: PublicId, db: DbSession,
                  user: CurrentUser) -> list[SlotOut]:
    """The times a bookable service may be booked now (empty for a link)."""
    community = access.get_community(db, community_id=com)
    service = catalog.get(db, community=community, service_id=svc)
    if service not in catalog.offered(db, community=community):
        return []
    return [SlotOut(start=s.start, end=s.end, places_left=s.places_left)
            for s in bookings.slots(db, service=service)]


@router.post("/{com}/bookings", response_model=BookingOut, status_code=201,
             responses=MINE_ERRORS)
def book(com: PublicId, body: BookingIn, db: DbSession, settings: AppSettings,
         user: CurrentUser, idempotency_key: IdempotencyKey) -> BookingOut:
    """Book a service at one of its slots (a verified resident): the place is held for 15
    minutes while the booking waits for payment at `cashier_url`. The same Idempotency-Key
    answers the same booking."""
    community = access.get_community(db, community_id=com)
    try:
        start = body.slot_start.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValidationFailed("Choose a time.", field="slot_start") from None
    booking = bookings.book(db, actor=user, community=community, service_id=body.service,
                            slot_start=start, idempotency_key=idempotency_key,
                            settings=settings)
    return booking_out(db, booking)


@router.get("/{com}/bookings", response_model=list[BookingOut], responses=MINE_ERRORS)
def my_bookings(com: PublicId, db: DbSession, user: CurrentUser) -> list[BookingOut]:
    """My bookings in this community, newest first (the last 50)."""
    community = access.get_community(db, community_id=com)
    access.require_resident(db, actor=user, community=community)
    return [booking_out(db, b) for b in bookings.my_bookings(db, actor=user,
                                                             community=community)]


@router.get("/{com}/bookings/{svb}", response_model=BookingOut, responses=MINE_ERRORS)
def my_booking(com: PublicId, svb: PublicId, db: DbSession, user: CurrentUser) -> BookingOut:
    """One booking of mine, to follow its status."""
    community = access.get_community(db, community_id=com)
    return booking_out(db, bookings.mine(db, actor=user, community=community, booking_id=svb))


@router.post("/{com}/bookings/{svb}/cancel", response_model=BookingOut, responses=MINE_ERRORS)
def cancel(com: PublicId, svb: PublicId, db: DbSession, user: CurrentUser) -> BookingOut:
    """Cancel my booking before the provider sets out: unpaid, its trade closes; paid, the
    whole price is refunded. Cancelling again answers the cancelled booking."""
    community = access.get_community(db, community_id=com)
    return booking_out(db, cancelling.cancel(db, actor=user, community=community,
                                             booking_id=svb))


@router.post("/{com}/bookings/{svb}/rating", response_model=BookingOut, responses=MINE_ERRORS)
def rate(com: PublicId, svb: PublicId, body: RatingIn, db: DbSession,
         user: CurrentUser) -> BookingOut:
    """Rate a done booking once, 1 to 5 stars (a rating for the provider's service score)."""
    community = access.get_community(db, community_id=com)
    return booking_out(db, bookings.rate(db, actor=user, community=community, booking_id=svb,
                                         stars=body.stars))


@router.post("/{com}/bookings/{svb}/complaint", response_model=BookingOut,
             responses=MINE_ERRORS)
def complain(com: PublicId, svb: PublicId, body: ComplaintIn, db: DbSession,
             user: CurrentUser) -> BookingOut:
    """Complain once about a paid booking (a complaint for the provider's service score)."""
    community = access.get_community(db, community_id=com)
    return booking_out(db, bookings.complain(db, actor=user, community=community,
                                             booking_id=svb, category=body.category,
                                             text=body.text))
