"""Repair ticket JSON API. Residents: report with photos (multipart, Idempotency-Key), list and
follow their household's tickets, pay a charge (the answer's `cashier_url`), confirm, rate,
cancel. Property staff: the community's ticket queue, assign, cancel. Technicians: their tickets
and the moves accepted → on the way → in progress → done. The same services as the pages
decide who may do what (docs/community-repairs.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, File, Form, Header, Query, UploadFile
from sqlalchemy.orm import Session

from townsquare.accounts.deps import CurrentUser
from townsquare.accounts.models import User
from townsquare.community import access
from townsquare.community.models import Community, Household
from townsquare.community.repairs import payment, photos
from townsquare.community.repairs import service as repairs
from townsquare.community.repairs.models import RepairTicket, Status
from townsquare.community.repairs.schemas import (
    AssignIn,
    CancelIn,
    EventOut,
    FinishIn,
    PaymentOut,
    PhotoOut,
    RatingIn,
    StatusName,
    TicketOut,
)
from townsquare.core.errors import NotFound, ValidationFailed
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.openapi import PublicId, Responses, error

router = APIRouter(prefix="/api/community", tags=["community repairs"])
ReportKey = Annotated[str, Header(alias="Idempotency-Key", min_length=8, max_length=64)]
Field_ = Annotated[str, Form(max_length=1000)]
Photos = Annotated[list[UploadFile] | None, File(description="Up to 4 JPEG, PNG or WebP "
                                                             "pictures")]
ERRORS: Responses = {
    401: error("Not logged in"),
    403: error("Not allowed for you (not of the household, not the assigned technician, no "
               "staff role here)"),
    404: error("No such community, or no such ticket that you may see"),
    409: error("Not possible in the ticket's status"), 422: error("Invalid input")}


def _photo_url(photo_id: str, size: str) -> str:
    return f"/community/repairs/photos/{photo_id}.{size}.jpg"


def ticket_out(db: Session, ticket: RepairTicket) -> TicketOut:
    household = db.get(Household, ticket.household_id)
    technician = db.get(User, ticket.technician_id) if ticket.technician_id else None
    return TicketOut(
        id=ticket.public_id, community=db.get_one(Community, ticket.community_id).public_id,
        room=household.room.label if household else "", category=ticket.category.value,
        place=ticket.place.value, location=ticket.location, description=ticket.description,
        status=ticket.status.value,
        technician=(technician.display_name or technician.username) if technician else None,
        price_fen=ticket.price_fen, trade_no=ticket.trade_no, reported_at=ticket.reported_at,
        respond_by=ticket.respond_by, complete_by=ticket.complete_by,
        accepted_at=ticket.accepted_at, done_at=ticket.done_at,
        confirmed_at=ticket.confirmed_at, cancelled_at=ticket.cancelled_at,
        cancel_reason=ticket.cancel_reason, work_note=ticket.work_note, rating=ticket.rating,
        photos=[PhotoOut(id=p.public_id, full_url=_photo_url(p.public_id, "full"),
                         thumb_url=_photo_url(p.public_id, "thumb"), width=p.width,
                         height=p.height) for p in ticket.photos],
        events=[EventOut(from_status=e.from_status, to_status=e.to_status,
                         actor_kind=e.actor_kind, note=e.note, at=e.at) for e in ticket.events])


def _ticket(db: Session, user: User, com: str, rep: str) -> RepairTicket:
    """A ticket of this community that the user may see (NotFound otherwise)."""
    community = access.get_community(db, community_id=com)
    ticket = repairs.get_ticket(db, actor=user, ticket_id=rep)
    if ticket.community_id != community.id:
        raise NotFound("No such repair ticket.")
    return ticket


# --- residents ---------------------------------------------------------------------------------


@router.post("/{com}/repairs", response_model=TicketOut, status_code=201, responses=ERRORS)
async def report(com: PublicId, db: DbSession, settings: AppSettings, user: CurrentUser,
                 idempotency_key: ReportKey, category: Field_ = "", place: Field_ = "",
                 location: Field_ = "", description: Field_ = "",
                 photo: Photos = None) -> TicketOut:
    """Report a problem for my household (a verified resident), as multipart/form-data with up
    to four `photo` files, checked and re-encoded as the page does. The same Idempotency-Key
    answers the first ticket again."""
    community = access.get_community(db, community_id=com)
    sent = [f for f in (photo or []) if f.filename]
    if len(sent) > photos.MAX_PER_TICKET:  # refused before reading any of them
        raise ValidationFailed("A report has at most {n} photos.", n=photos.MAX_PER_TICKET,
                               field="photos")
    uploads = [await f.read(photos.MAX_BYTES + 1) for f in sent]
    ticket = repairs.report(db, actor=user, community=community, category=category,
                            place=place, location=location, description=description,
                            photos=uploads, idempotency_key=idempotency_key,
                            data_dir=settings.data_dir)
    return ticket_out(db, ticket)


@router.get("/{com}/repairs", response_model=list[TicketOut], responses=ERRORS)
def household_tickets(com: PublicId, db: DbSession, user: CurrentUser) -> list[TicketOut]:
    """My household's tickets in this community, newest first."""
    community = access.get_community(db, community_id=com)
    return [ticket_out(db, t) for t in repairs.household_tickets(db, actor=user,
                                                                 community=community)]


@router.get("/{com}/repairs/{rep}", response_model=TicketOut, responses=ERRORS)
def ticket(com: PublicId, rep: PublicId, db: DbSession, user: CurrentUser) -> TicketOut:
    """One ticket, with its photos and timeline (its household, technician or staff)."""
    return ticket_out(db, _ticket(db, user, com, rep))


@router.post("/{com}/repairs/{rep}/payment", response_model=PaymentOut, responses=ERRORS)
def pay(com: PublicId, rep: PublicId, db: DbSession, user: CurrentUser) -> PaymentOut:
    """The trade that pays a chargeable repair (a member of the household): asking again answers
    the same open trade, so it is never paid twice."""
    found = _ticket(db, user, com, rep)
    trade = payment.checkout(db, actor=user, ticket_id=found.public_id)
    return PaymentOut(trade_no=trade.trade_no, total_fen=trade.total_fen,
                      cashier_url=f"/cashier/{trade.trade_no}")


@router.post("/{com}/repairs/{rep}/confirm", response_model=TicketOut, responses=ERRORS)
def confirm(com: PublicId, rep: PublicId, db: DbSession, user: CurrentUser) -> TicketOut:
    """Confirm the repair is done (any member of the household)."""
    found = _ticket(db, user, com, rep)
    return ticket_out(db, repairs.confirm(db, actor=user, ticket_id=found.public_id))


@router.post("/{com}/repairs/{rep}/rating", response_model=TicketOut, responses=ERRORS)
def rate(com: PublicId, rep: PublicId, body: RatingIn, db: DbSession, settings: AppSettings,
         user: CurrentUser) -> TicketOut:
    """Rate a finished repair once (the household)."""
    found = _ticket(db, user, com, rep)
    return ticket_out(db, repairs.rate(db, actor=user, ticket_id=found.public_id,
                                       stars=body.stars, comment=body.comment,
                                       settings=settings))


@router.post("/{com}/repairs/{rep}/cancel", response_model=TicketOut, responses=ERRORS)
def cancel(com: PublicId, rep: PublicId, body: CancelIn, db: DbSession,
           user: CurrentUser) -> TicketOut:
    """Cancel: the household before anyone is on the way; the property manager, with a reason,
    until the work starts."""
    found = _ticket(db, user, com, rep)
    return ticket_out(db, repairs.cancel(db, actor=user, ticket_id=found.public_id,
                                         reason=body.reason))


# --- property staff ----------------------------------------------------------------------------


@router.get("/{com}/repair-queue", response_model=list[TicketOut], responses=ERRORS)
def queue(com: PublicId, db: DbSession, user: CurrentUser,
          status: Annotated[list[StatusName] | None, Query(max_length=9)] = None
          ) -> list[TicketOut]:
    """The community's tickets, newest first, optionally of some statuses (its property manager
    and committee)."""
    community = access.get_community(db, community_id=com)
    found = repairs.community_tickets(db, actor=user, community=community,
                                      statuses=[Status(s) for s in status or []])
    return [ticket_out(db, t) for t in found]


@router.post("/{com}/repairs/{rep}/assign", response_model=TicketOut, responses=ERRORS)
def assign(com: PublicId, rep: PublicId, body: AssignIn, db: DbSession,
           user: CurrentUser) -> TicketOut:
    """Name the technician (the property manager; again to reassign before it is accepted)."""
    found = _ticket(db, user, com, rep)
    return ticket_out(db, repairs.assign(db, actor=user, ticket_id=found.public_id,
                                         technician_username=body.technician))


# --- technicians -------------------------------------------------------------------------------


@router.get("/repairs/assigned", response_model=list[TicketOut], responses=ERRORS)
def assigned(db: DbSession, user: CurrentUser) -> list[TicketOut]:
    """The open tickets assigned to me, in every community, the most urgent first."""
    return [ticket_out(db, t) for t in repairs.technician_tickets(db, actor=user)]


def _move(db: Session, user: User, com: str, rep: str,
          move: Callable[..., RepairTicket]) -> TicketOut:
    found = _ticket(db, user, com, rep)
    return ticket_out(db, move(db, actor=user, ticket_id=found.public_id))


@router.post("/{com}/repairs/{rep}/accept", response_model=TicketOut, responses=ERRORS)
def accept(com: PublicId, rep: PublicId, db: DbSession, user: CurrentUser) -> TicketOut:
    """The assigned technician takes the ticket (the response time stops)."""
    return _move(db, user, com, rep, repairs.accept)


@router.post("/{com}/repairs/{rep}/on-the-way", response_model=TicketOut, responses=ERRORS)
def on_the_way(com: PublicId, rep: PublicId, db: DbSession, user: CurrentUser) -> TicketOut:
    """The assigned technician sets out."""
    return _move(db, user, com, rep, repairs.on_the_way)


@router.post("/{com}/repairs/{rep}/start", response_model=TicketOut, responses=ERRORS)
def start(com: PublicId, rep: PublicId, db: DbSession, user: CurrentUser) -> TicketOut:
    """The assigned technician starts the work."""
    return _move(db, user, com, rep, repairs.start)


@router.post("/{com}/repairs/{rep}/finish", response_model=TicketOut, responses=ERRORS)
def finish(com: PublicId, rep: PublicId, body: FinishIn, db: DbSession,
           user: CurrentUser) -> TicketOut:
    """The work is done: free at once, or awaiting the household's payment of `price_fen`."""
    found = _ticket(db, user, com, rep)
    return ticket_out(db, repairs.finish(db, actor=user, ticket_id=found.public_id,
                                         price_fen=body.price_fen, note=body.note))
