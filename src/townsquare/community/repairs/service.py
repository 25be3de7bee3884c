"""Repair tickets: report, assign, the technician's moves, payment, confirmation, cancellation
and rating. Every move is one conditional UPDATE (`_move`: the ticket changes only from the
statuses the move allows, so two racing moves cannot both win) with a timeline row.

Who sees what: the reporter's household (any verified member) its own tickets; a technician the
tickets assigned to them; the staff of an admitted outside merchant the tickets handed to it;
the property manager and committee all of their community's.

A ticket is worked either by one of the property's technicians (`assign`) or by an admitted
outside merchant (`hand_to_provider`: a merchant admitted to the community through the
marketplace's admissions); then whichever of that merchant's staff accepts it first works it, and
its charge is paid to that merchant with the community's commission (`payment.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from townsquare.accounts.models import Role, User
from townsquare.community import access
from townsquare.community import property as property_seller
from townsquare.community.models import Community, CommunityRole, CommunityRoleKind
from townsquare.community.repairs import photos as photo_store
from townsquare.community.repairs.models import (
    Category,
    Place,
    RepairEvent,
    RepairPhoto,
    RepairTargets,
    RepairTicket,
    Status,
)
from townsquare.community.services.models import Admission, AdmissionStatus
from townsquare.core import audit
from townsquare.core.clock import clock
from townsquare.core.database import rows_changed
from townsquare.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from townsquare.core.i18n import N_
from townsquare.core.settings import Settings
from townsquare.core.text import clean_name, clean_text, well_formed
from townsquare.events import intake
from townsquare.events.models import EventType
from townsquare.merchants import access as merchant_access
from townsquare.miniapps.models import MiniApp
from townsquare.miniapps.shell import launch
from townsquare.miniapps.shell import service as shell_service

S = Status
TECHNICIAN = CommunityRoleKind.TECHNICIAN
STAFF = (access.PM, access.COMMITTEE)
PRICE_MAX_FEN = 10_000_000  # ¥100,000
# the household before anyone is on the way; the property until the work starts
RESIDENT_MAY_CANCEL: tuple[Status, ...] = (S.REPORTED, S.ASSIGNED, S.ACCEPTED)
PROPERTY_MAY_CANCEL: tuple[Status, ...] = (S.REPORTED, S.ASSIGNED, S.ACCEPTED, S.ON_THE_WAY)


class RepairStateError(Conflict):
    code = "repair_state"


class NotATechnician(ValidationFailed):
    code = "not_a_technician"


class NotAdmitted(ValidationFailed):
    code = "not_admitted"


# --- targets -----------------------------------------------------------------------------------


def targets_of(db: Session, community: Community) -> RepairTargets:
    """The community's targets (the defaults, unsaved, when it never set them)."""
    found = db.get(RepairTargets, community.id)
    if found is None:
        found = RepairTargets(community_id=community.id, respond_minutes=30, complete_hours=24,
                              auto_confirm_days=3)
    return found


def set_targets(db: Session, *, actor: User | None, community: Community, respond_minutes: int,
                complete_hours: int, auto_confirm_days: int) -> RepairTargets:
    """The property manager sets the targets new tickets are measured against."""
    access.require(db, actor=actor, community=community, roles=[access.PM])
    if not 5 <= respond_minutes <= 24 * 60:
        raise ValidationFailed("Respond within 5 to 1440 minutes.", field="respond_minutes")
    if not 1 <= complete_hours <= 30 * 24:
        raise ValidationFailed("Complete within 1 to 720 hours.", field="complete_hours")
    if not 1 <= auto_confirm_days <= 30:
        raise ValidationFailed("Confirm automatically after 1 to 30 days.",
                               field="auto_confirm_days")
    targets = db.get(RepairTargets, community.id)
    if targets is None:
        targets = RepairTargets(community_id=community.id)
        db.add(targets)
    targets.respond_minutes, targets.complete_hours = respond_minutes, complete_hours
    targets.auto_confirm_days, targets.updated_at = auto_confirm_days, clock.now()
    db.flush()
    audit.record(db, actor_id=actor.id if actor else None, action="community.repairs.targets",
                 subject_type="community", subject_id=community.public_id,
                 respond_minutes=respond_minutes, complete_hours=complete_hours,
                 auto_confirm_days=auto_confirm_days)
    return targets


# --- technicians -------------------------------------------------------------------------------


def technicians(db: Session, *, actor: User | None, community: Community) -> list[User]:
    access.require(db, actor=actor, community=community, roles=STAFF)
    stmt = (select(User).join(CommunityRole, CommunityRole.user_id == User.id)
            .where(CommunityRole.community_id == community.id, CommunityRole.role == TECHNICIAN)
            .order_by(User.username))
    return list(db.scalars(stmt))


def is_technician(db: Session, *, actor: User, community: Community) -> bool:
    return access.has_role(db, actor=actor, community=community, roles=[TECHNICIAN])


# --- reading -----------------------------------------------------------------------------------


def _community(db: Session, ticket: RepairTicket) -> Community:
    return db.get_one(Community, ticket.community_id)


def may_see(db: Session, *, actor: User | None, ticket: RepairTicket) -> bool:
    if actor is None or ticket.technician_id == actor.id:
        return True
    if is_provider_staff(db, actor=actor, ticket=ticket):
        return True
    community = _community(db, ticket)
    person = access.resident_of(db, actor=actor, community=community)
    if person is not None and person.household_id == ticket.household_id:
        return True
    return access.has_role(db, actor=actor, community=community, roles=STAFF)


def provider_of(db: Session, ticket: RepairTicket) -> Admission | None:
    """The admission of the outside merchant the ticket was handed to (None: the property's)."""
    return db.get(Admission, ticket.admission_id) if ticket.admission_id else None


def provider_miniapp(db: Session, ticket: RepairTicket) -> MiniApp:
    """The mini-app the ticket's charge is paid to: the admitted merchant's, or the property
    company's (its official pass)."""
    admission = provider_of(db, ticket)
    if admission is not None:
        return db.get_one(MiniApp, admission.miniapp_id)
    return property_seller.property_miniapp(db, _community(db, ticket))


def is_provider_staff(db: Session, *, actor: User, ticket: RepairTicket) -> bool:
    """The actor works for the outside merchant the ticket was handed to."""
    if ticket.admission_id is None or not actor.has_role(Role.MERCHANT_STAFF):
        return False
    admission = db.get_one(Admission, ticket.admission_id)
    return admission.merchant_id in merchant_access.merchant_ids_of(db, actor)


def get_ticket(db: Session, *, actor: User | None, ticket_id: str) -> RepairTicket:
    """A ticket the actor may see (NotFound otherwise, so ids reveal nothing)."""
    ticket = None
    if well_formed(ticket_id, "rep"):
        ticket = db.scalar(select(RepairTicket).where(RepairTicket.public_id == ticket_id))
    if ticket is None or not may_see(db, actor=actor, ticket=ticket):
        raise NotFound("No such repair ticket.")
    return ticket


def household_tickets(db: Session, *, actor: User, community: Community,
                      limit: int = 50) -> list[RepairTicket]:
    """The tickets of the actor's household in this community, newest first."""
    person = access.require_resident(db, actor=actor, community=community)
    stmt = (select(RepairTicket).where(RepairTicket.household_id == person.household_id)
            .order_by(RepairTicket.reported_at.desc(), RepairTicket.id.desc()).limit(limit))
    return list(db.scalars(stmt))


def technician_tickets(db: Session, *, actor: User, open_only: bool = True,
                       limit: int = 100) -> list[RepairTicket]:
    """The tickets assigned to the actor (in any community), and those handed to an outside
    merchant the actor works for that none of its staff accepted yet; the most urgent first."""
    mine = RepairTicket.technician_id == actor.id
    merchant_ids = (merchant_access.merchant_ids_of(db, actor)
                    if actor.has_role(Role.MERCHANT_STAFF) else [])
    if merchant_ids:
        handed = select(Admission.id).where(Admission.merchant_id.in_(merchant_ids))
        mine = or_(mine, and_(RepairTicket.status == S.ASSIGNED,
                              RepairTicket.technician_id.is_(None),
                              RepairTicket.admission_id.in_(handed)))
    stmt = select(RepairTicket).where(mine)
    if open_only:
        stmt = stmt.where(RepairTicket.status.in_(
            [S.ASSIGNED, S.ACCEPTED, S.ON_THE_WAY, S.IN_PROGRESS, S.AWAITING_PAYMENT]))
    stmt = stmt.order_by(RepairTicket.complete_by, RepairTicket.id).limit(limit)
    return list(db.scalars(stmt))


def community_tickets(db: Session, *, actor: User | None, community: Community,
                      statuses: Sequence[Status] = (), limit: int = 200) -> list[RepairTicket]:
    """The community's tickets for its property manager and committee, newest first."""
    access.require(db, actor=actor, community=community, roles=STAFF)
    stmt = select(RepairTicket).where(RepairTicket.community_id == community.id)
    if statuses:
        stmt = stmt.where(RepairTicket.status.in_(list(statuses)))
    stmt = stmt.order_by(RepairTicket.reported_at.desc(), RepairTicket.id.desc()).limit(limit)
    return list(db.scalars(stmt))


# --- moves -------------------------------------------------------------------------------------


def _move(db: Session, ticket: RepairTicket, *, from_: Sequence[Status], to: Status,
          actor: User | None, actor_kind: str, note: str = "", **values: Any) -> RepairTicket:
    """One conditional UPDATE: the ticket moves only from `from_`; a timeline row with it."""
    db.flush()
    before = ticket.status
    result = db.execute(
        update(RepairTicket)
        .where(RepairTicket.id == ticket.id, RepairTicket.status.in_(list(from_)))
        .values(status=to, **values)
        .execution_options(synchronize_session=False)
    )
    if rows_changed(result) != 1:
        db.refresh(ticket)
        raise RepairStateError("This repair cannot be moved that way now.",
                               state=ticket.status.value)
    db.add(RepairEvent(ticket_id=ticket.id, from_status=before.value, to_status=to.value,
                       actor_id=actor.id if actor else None, actor_kind=actor_kind,
                       note=note[:200], at=clock.now()))
    db.flush()
    db.refresh(ticket)
    return ticket


def report(db: Session, *, actor: User, community: Community, category: str, place: str,
           location: str, description: str, photos: Sequence[bytes], idempotency_key: str,
           data_dir: Path) -> RepairTicket:
    """A verified resident reports a problem for their household (with up to four photos).
    The same idempotency key answers the first ticket again."""
    person = access.require_resident(db, actor=actor, community=community)
    key = (idempotency_key or "").strip()
    if not 8 <= len(key) <= 64:
        raise ValidationFailed("An idempotency key of 8 to 64 characters is needed.",
                               field="idempotency_key")
    existing = db.scalar(select(RepairTicket).where(
        RepairTicket.reporter_id == actor.id, RepairTicket.idempotency_key == key))
    if existing is not None:
        return existing
    try:
        kind = Category(category)
    except ValueError:
        raise ValidationFailed("Choose what kind of problem it is.", field="category") from None
    try:
        where = Place(place)
    except ValueError:
        raise ValidationFailed("Choose where the problem is.", field="place") from None
    location = clean_name(location, field="location", max_length=100,
                          message=N_("Say where it is, in 1 to {n} characters."))
    description = clean_text(description, field="description", max_length=1000, required=True,
                             message=N_("Describe the problem in 1 to {n} characters."))
    prepared = photo_store.prepare(list(photos))
    now = clock.now()
    targets = targets_of(db, community)
    ticket = RepairTicket(
        community_id=community.id, household_id=person.household_id, reporter_id=actor.id,
        idempotency_key=key, category=kind, place=where, location=location,
        description=description, status=S.REPORTED, reported_at=now,
        respond_by=now + timedelta(minutes=targets.respond_minutes),
        complete_by=now + timedelta(hours=targets.complete_hours),
    )
    db.add(ticket)
    db.flush()
    for position, (full, thumb, width, height) in enumerate(prepared):
        photo = RepairPhoto(ticket_id=ticket.id, position=position, width=width, height=height,
                            size_bytes=len(full))
        ticket.photos.append(photo)
        db.flush()
        photo_store.store(data_dir, photo.public_id, full, thumb)
    db.add(RepairEvent(ticket_id=ticket.id, to_status=S.REPORTED.value, actor_id=actor.id,
                       actor_kind="resident", at=now))
    db.flush()
    return ticket


def assign(db: Session, *, actor: User | None, ticket_id: str,
           technician_username: str) -> RepairTicket:
    """The property manager names the technician (again, to reassign before it is accepted)."""
    ticket = get_ticket(db, actor=actor, ticket_id=ticket_id)
    community = _community(db, ticket)
    access.require(db, actor=actor, community=community, roles=[access.PM])
    technician = db.scalar(select(User).where(User.username == technician_username.strip()))
    if technician is None or not is_technician(db, actor=technician, community=community):
        raise NotATechnician("Choose one of this community's technicians.", field="technician")
    return _move(db, ticket, from_=[S.REPORTED, S.ASSIGNED], to=S.ASSIGNED, actor=actor,
                 actor_kind="property", note=technician.username, technician_id=technician.id,
                 admission_id=None, commission_bp=0, assigned_at=clock.now())


def providers(db: Session, *, actor: User | None, community: Community) -> list[Admission]:
    """The outside merchants admitted to the community a repair can be handed to."""
    access.require(db, actor=actor, community=community, roles=STAFF)
    return list(db.scalars(select(Admission).where(
        Admission.community_id == community.id, Admission.status == AdmissionStatus.APPROVED)
        .order_by(Admission.id)))


def hand_to_provider(db: Session, *, actor: User | None, ticket_id: str,
                     admission_id: str) -> RepairTicket:
    """The property manager hands the ticket to an admitted outside merchant (again, to hand it
    elsewhere before anyone accepted it). The admission's commission rate at this moment is the
    one the repair's payment owes the community."""
    ticket = get_ticket(db, actor=actor, ticket_id=ticket_id)
    community = _community(db, ticket)
    access.require(db, actor=actor, community=community, roles=[access.PM])
    admission = db.scalar(select(Admission).where(Admission.public_id == admission_id.strip(),
                                                  Admission.community_id == community.id)) \
        if well_formed(admission_id.strip(), "adm") else None
    if admission is None or admission.status is not AdmissionStatus.APPROVED:
        raise NotAdmitted("Choose an outside merchant admitted to this community.",
                          field="provider")
    merchant = db.get_one(MiniApp, admission.miniapp_id).merchant
    return _move(db, ticket, from_=[S.REPORTED, S.ASSIGNED], to=S.ASSIGNED, actor=actor,
                 actor_kind="property", note=merchant.name, technician_id=None,
                 admission_id=admission.id, commission_bp=admission.commission_bp,
                 assigned_at=clock.now())


def _worker_kind(ticket: RepairTicket) -> str:
    return "provider" if ticket.admission_id is not None else "technician"


def _require_technician(db: Session, actor: User | None, ticket: RepairTicket) -> None:
    if actor is not None and ticket.technician_id != actor.id:
        raise PermissionDenied("Only the technician assigned to this repair may do this.")


def accept(db: Session, *, actor: User | None, ticket_id: str) -> RepairTicket:
    """The assigned technician accepts; a ticket handed to an outside merchant is accepted by
    the first of its staff (the conditional move lets exactly one of two racing staff win), who
    then works it."""
    ticket = get_ticket(db, actor=actor, ticket_id=ticket_id)
    if (ticket.admission_id is not None and actor is not None
            and is_provider_staff(db, actor=actor, ticket=ticket)):
        # whether or not a colleague's acceptance was read already, the conditional move
        # decides: a loser gets the state conflict, never a refusal
        return _move(db, ticket, from_=[S.ASSIGNED], to=S.ACCEPTED, actor=actor,
                     actor_kind="provider", note=actor.display_name or actor.username,
                     technician_id=actor.id, accepted_at=clock.now())
    if ticket.admission_id is not None and ticket.technician_id is None:
        raise PermissionDenied("Only the staff of the merchant this repair went to may accept it.")
    _require_technician(db, actor, ticket)
    return _move(db, ticket, from_=[S.ASSIGNED], to=S.ACCEPTED, actor=actor,
                 actor_kind="technician", accepted_at=clock.now())


def on_the_way(db: Session, *, actor: User | None, ticket_id: str) -> RepairTicket:
    ticket = get_ticket(db, actor=actor, ticket_id=ticket_id)
    _require_technician(db, actor, ticket)
    return _move(db, ticket, from_=[S.ACCEPTED], to=S.ON_THE_WAY, actor=actor,
                 actor_kind=_worker_kind(ticket), on_the_way_at=clock.now())


def start(db: Session, *, actor: User | None, ticket_id: str) -> RepairTicket:
    ticket = get_ticket(db, actor=actor, ticket_id=ticket_id)
    _require_technician(db, actor, ticket)
    return _move(db, ticket, from_=[S.ON_THE_WAY], to=S.IN_PROGRESS, actor=actor,
                 actor_kind=_worker_kind(ticket), started_at=clock.now())


def finish(db: Session, *, actor: User | None, ticket_id: str, price_fen: int = 0,
           note: str = "") -> RepairTicket:
    """The work is done: free repairs are done at once, chargeable ones wait for the resident's
    payment in the cashier (the property company's trade; `payment.py`)."""
    ticket = get_ticket(db, actor=actor, ticket_id=ticket_id)
    _require_technician(db, actor, ticket)
    if not 0 <= price_fen <= PRICE_MAX_FEN:
        raise ValidationFailed("A price is between ¥0 and ¥100,000.", field="price")
    note = clean_text(note, field="note", max_length=500,
                      message=N_("A note is at most {n} characters."))
    if price_fen:
        provider_miniapp(db, ticket)  # whoever is paid can charge at all
    to = S.AWAITING_PAYMENT if price_fen else S.DONE
    return _move(db, ticket, from_=[S.IN_PROGRESS], to=to, actor=actor,
                 actor_kind=_worker_kind(ticket),
                 note=f"¥{price_fen / 100:.2f}" if price_fen else "", price_fen=price_fen,
                 work_note=note, done_at=clock.now())


def _require_household(db: Session, actor: User | None, ticket: RepairTicket) -> None:
    if actor is None:
        return
    person = access.resident_of(db, actor=actor, community=_community(db, ticket))
    if person is None or person.household_id != ticket.household_id:
        raise PermissionDenied("Only the household that reported this repair may do this.")


def confirm(db: Session, *, actor: User | None, ticket_id: str) -> RepairTicket:
    """The resident confirms the repair is done (any member of the household)."""
    ticket = get_ticket(db, actor=actor, ticket_id=ticket_id)
    _require_household(db, actor, ticket)
    return _move(db, ticket, from_=[S.DONE], to=S.CONFIRMED, actor=actor, actor_kind="resident",
                 confirmed_at=clock.now())


def auto_confirm(db: Session, ticket: RepairTicket) -> RepairTicket:
    return _move(db, ticket, from_=[S.DONE], to=S.CONFIRMED, actor=None, actor_kind="system",
                 note="auto", confirmed_at=clock.now(), auto_confirmed=True)


def cancel(db: Session, *, actor: User | None, ticket_id: str, reason: str = "") -> RepairTicket:
    """The household cancels before anyone is on the way; the property manager until the work
    starts, with a reason. Nothing is cancelled once the work has begun."""
    ticket = get_ticket(db, actor=actor, ticket_id=ticket_id)
    community = _community(db, ticket)
    reason = clean_text(reason, field="reason", max_length=200,
                        message=N_("A reason is at most {n} characters."))
    if actor is not None and access.has_role(db, actor=actor, community=community,
                                             roles=[access.PM]):
        if not reason:
            raise ValidationFailed("Say why the repair is cancelled.", field="reason")
        by, allowed = "property", PROPERTY_MAY_CANCEL
    else:
        _require_household(db, actor, ticket)
        by, allowed = ("resident", RESIDENT_MAY_CANCEL) if actor else (
            "system", PROPERTY_MAY_CANCEL)
    return _move(db, ticket, from_=allowed, to=S.CANCELLED, actor=actor, actor_kind=by,
                 note=reason, cancelled_at=clock.now(), cancelled_by=by, cancel_reason=reason)


def rate(db: Session, *, actor: User, ticket_id: str, stars: int, comment: str = "",
         settings: Settings) -> RepairTicket:
    """The household rates a finished repair once: a rating event of the property mini-app
    for scoring, as ordering's feed records a rated order."""
    ticket = get_ticket(db, actor=actor, ticket_id=ticket_id)
    _require_household(db, actor, ticket)
    if ticket.status not in (S.DONE, S.CONFIRMED):
        raise RepairStateError("Rate a repair once it is done.")
    if ticket.rating is not None:
        raise RepairStateError("This repair is rated already.")
    if not 1 <= stars <= 5:
        raise ValidationFailed("Give 1 to 5 stars.", field="stars")
    comment = clean_text(comment, field="comment", max_length=200,
                         message=N_("A comment is at most {n} characters."))
    now = clock.now()
    result = db.execute(
        update(RepairTicket).where(RepairTicket.id == ticket.id, RepairTicket.rating.is_(None))
        .values(rating=stars, rating_comment=comment, rated_at=now)
        .execution_options(synchronize_session=False))
    if rows_changed(result) != 1:
        raise RepairStateError("This repair is rated already.")
    db.add(RepairEvent(ticket_id=ticket.id, from_status=ticket.status.value,
                       to_status=ticket.status.value, actor_id=actor.id, actor_kind="resident",
                       note=f"rating:{stars}", at=now))
    db.flush()
    db.refresh(ticket)
    _rating_event(db, ticket, actor, stars, settings)
    return ticket


def _rating_event(db: Session, ticket: RepairTicket, user: User, stars: int,
                  settings: Settings) -> bool:
    try:
        miniapp = provider_miniapp(db, ticket)  # the outside merchant's, when it did the work
    except property_seller.NoPropertyMerchant:
        return False  # no property mini-app to score
    sub = launch.pseudonymous_id(settings.effective_secret_key, user.public_id,
                                 miniapp.public_id)
    shell_service.record_issued(db, miniapp=miniapp, user=user, sub=sub)
    if not ticket.user_sub:
        ticket.user_sub = sub
    return intake.record(db, miniapp=miniapp, type=EventType.RATING,
                         event_id=f"{ticket.public_id}:rating", occurred_at=clock.now(),
                         sub=sub, order_id=ticket.public_id, rating=stars)


def minutes_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds() / 60
