"""Repair pages: the resident's (report with photos, follow, pay, confirm, rate, cancel), the
technician's phone page (their tickets and the moves), the property manager's console page
(assign, cancel, targets, technicians) and the committee's figures per community."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.deps import CurrentUser, FormUser
from townsquare.accounts.models import User
from townsquare.community import access, communities
from townsquare.community.models import Community, Household
from townsquare.community.repairs import figures, payment, photos
from townsquare.community.repairs import service as repairs
from townsquare.community.repairs.models import RepairPhoto, RepairTicket
from townsquare.core.clock import clock
from townsquare.core.errors import NotFound, TownsquareError
from townsquare.core.i18n import N_
from townsquare.core.ids import new_id
from townsquare.core.money import yuan_to_fen
from townsquare.core.text import well_formed
from townsquare.miniapps.models import MiniApp
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.forms import field_problems, rejected, see_other, whole_number
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=1000)]
Photos = Annotated[list[UploadFile] | None, File()]

CATEGORY_LABELS = {
    "plumbing": N_("Water pipes and drains"), "electrical": N_("Electrical"),
    "doors_windows": N_("Doors and windows"), "appliance": N_("Appliances"),
    "lift": N_("Lift (elevator)"), "common_area": N_("Common area"), "other": N_("Other"),
}
PLACE_LABELS = {"room": N_("In our home"), "common": N_("In a common area")}
STATUS_LABELS = {
    "reported": N_("Reported"), "assigned": N_("Technician assigned"),
    "accepted": N_("Accepted by the technician"), "on_the_way": N_("Technician on the way"),
    "in_progress": N_("In progress"), "awaiting_payment": N_("Waiting for payment"),
    "done": N_("Done"), "confirmed": N_("Confirmed"), "cancelled": N_("Cancelled"),
}
ACTOR_LABELS = {"resident": N_("Resident"), "property": N_("Property"),
                "technician": N_("Technician"), "provider": N_("Outside provider"),
                "system": N_("Automatically")}
MOVES = {"accept": repairs.accept, "on_the_way": repairs.on_the_way, "start": repairs.start}
DONE_MESSAGES = {
    "reported": N_("Your repair is reported. The property will send a technician."),
    "paid": N_("Paid. Please confirm once you are satisfied."),
    "confirmed": N_("Thank you for confirming the repair."), "rated": N_("Thank you for rating."),
    "cancelled": N_("The repair is cancelled."), "assigned": N_("Technician assigned."),
    "targets": N_("Targets saved."), "technician": N_("Technician added."),
    "moved": N_("Status updated."), "provider": N_("Handed to the outside provider."),
}


def _labels() -> dict[str, Any]:
    return {"categories": CATEGORY_LABELS, "places": PLACE_LABELS, "statuses": STATUS_LABELS,
            "actors": ACTOR_LABELS, "done_messages": DONE_MESSAGES}


def _community_of(db: Session, ticket: RepairTicket) -> Community:
    return db.get_one(Community, ticket.community_id)


def _provider_name(db: Session, ticket: RepairTicket) -> str:
    """The outside merchant's mini-app a ticket was handed to ("" for the property's own)."""
    admission = repairs.provider_of(db, ticket)
    return db.get_one(MiniApp, admission.miniapp_id).name if admission else ""


# --- residents ---------------------------------------------------------------------------------


def _mine(request: Request, db: Session, user: User, community_id: str,
          exc: TownsquareError | None = None, **form: Any) -> HTMLResponse:
    community = access.get_community(db, community_id=community_id)
    if exc is not None:
        db.rollback()
    context = {"community": community, "form": form, "key": form.get("key") or new_id("rk"),
               "problems": field_problems(exc) if exc else {}, **_labels(),
               "tickets": repairs.household_tickets(db, actor=user, community=community)}
    if exc is not None:
        return rejected(request, db, "community/repairs_mine.html", exc, **context)
    return render(request, "community/repairs_mine.html", **context)


@router.get("/community/{community_id}/repairs", response_class=HTMLResponse)
def mine(request: Request, community_id: str, db: DbSession, user: CurrentUser) -> HTMLResponse:
    return _mine(request, db, user, community_id)


@router.post("/community/{community_id}/repairs")
async def report(request: Request, community_id: str, db: DbSession, settings: AppSettings,
                 user: FormUser, category: Text = "", place: Text = "", location: Text = "",
                 description: Text = "", key: Text = "", photo: Photos = None) -> Response:
    community = access.get_community(db, community_id=community_id)
    uploads = [await f.read(photos.MAX_BYTES + 1) for f in (photo or []) if f.filename]
    try:
        ticket = repairs.report(db, actor=user, community=community, category=category,
                                place=place, location=location, description=description,
                                photos=uploads, idempotency_key=key,
                                data_dir=settings.data_dir)
    except TownsquareError as exc:
        return _mine(request, db, user, community_id, exc, category=category, place=place,
                     location=location, description=description, key=key)
    return see_other(f"/community/{community_id}/repairs/{ticket.public_id}?ok=reported")


def _ticket_page(request: Request, db: Session, user: User, community_id: str,
                 ticket_id: str, exc: TownsquareError | None = None) -> HTMLResponse:
    if exc is not None:
        db.rollback()
    ticket = repairs.get_ticket(db, actor=user, ticket_id=ticket_id)
    community = _community_of(db, ticket)
    if community.public_id != community_id:
        raise NotFound("No such repair ticket.")
    person = access.resident_of(db, actor=user, community=community)
    context = {"community": community, "ticket": ticket, **_labels(),
               "household": person is not None and person.household_id == ticket.household_id,
               "may_cancel": ticket.status in repairs.RESIDENT_MAY_CANCEL,
               "technician": db.get(User, ticket.technician_id) if ticket.technician_id
               else None, "provider": _provider_name(db, ticket)}
    if exc is not None:
        return rejected(request, db, "community/repairs_ticket.html", exc, **context)
    return render(request, "community/repairs_ticket.html", **context)


@router.get("/community/{community_id}/repairs/{ticket_id}", response_class=HTMLResponse)
def ticket_page(request: Request, community_id: str, ticket_id: str, db: DbSession,
                user: CurrentUser) -> HTMLResponse:
    return _ticket_page(request, db, user, community_id, ticket_id)


@router.post("/community/{community_id}/repairs/{ticket_id}/pay")
def pay(request: Request, community_id: str, ticket_id: str, db: DbSession,
        user: FormUser) -> Response:
    try:
        trade = payment.checkout(db, actor=user, ticket_id=ticket_id)
    except TownsquareError as exc:
        return _ticket_page(request, db, user, community_id, ticket_id, exc)
    return see_other(f"/cashier/{trade.trade_no}")


@router.post("/community/{community_id}/repairs/{ticket_id}/confirm")
def confirm(request: Request, community_id: str, ticket_id: str, db: DbSession,
            user: FormUser) -> Response:
    try:
        repairs.confirm(db, actor=user, ticket_id=ticket_id)
    except TownsquareError as exc:
        return _ticket_page(request, db, user, community_id, ticket_id, exc)
    return see_other(f"/community/{community_id}/repairs/{ticket_id}?ok=confirmed")


@router.post("/community/{community_id}/repairs/{ticket_id}/rate")
def rate(request: Request, community_id: str, ticket_id: str, db: DbSession,
         settings: AppSettings, user: FormUser, stars: Text = "", comment: Text = "") -> Response:
    try:
        repairs.rate(db, actor=user, ticket_id=ticket_id, settings=settings,
                     stars=whole_number(stars, field="stars"), comment=comment)
    except TownsquareError as exc:
        return _ticket_page(request, db, user, community_id, ticket_id, exc)
    return see_other(f"/community/{community_id}/repairs/{ticket_id}?ok=rated")


@router.post("/community/{community_id}/repairs/{ticket_id}/cancel")
def cancel(request: Request, community_id: str, ticket_id: str, db: DbSession, user: FormUser,
           reason: Text = "") -> Response:
    try:
        repairs.cancel(db, actor=user, ticket_id=ticket_id, reason=reason)
    except TownsquareError as exc:
        return _ticket_page(request, db, user, community_id, ticket_id, exc)
    return see_other(f"/community/{community_id}/repairs/{ticket_id}?ok=cancelled")


@router.get("/community/repairs/photos/{photo_id}.{size}.jpg")
def photo_file(photo_id: str, size: str, db: DbSession, settings: AppSettings,
               user: CurrentUser) -> FileResponse:
    """A ticket's photo, for whoever may see the ticket (private: not cached by proxies)."""
    found = db.scalar(select(RepairPhoto).where(RepairPhoto.public_id == photo_id)) \
        if well_formed(photo_id, "rph") else None
    if found is None:
        raise NotFound("No such picture.")
    ticket = db.get_one(RepairTicket, found.ticket_id)
    if not repairs.may_see(db, actor=user, ticket=ticket):
        raise NotFound("No such picture.")
    path = photos.path_of(settings.data_dir, photo_id, size)
    if not path.is_file():
        raise NotFound("No such picture.")
    return FileResponse(path, media_type="image/jpeg",
                        headers={"Cache-Control": "private, max-age=86400"})


# --- technicians -------------------------------------------------------------------------------


@router.get("/community/repairs/work", response_class=HTMLResponse)
def work(request: Request, db: DbSession, user: CurrentUser) -> HTMLResponse:
    tickets = repairs.technician_tickets(db, actor=user)
    names = {t.community_id: _community_of(db, t).name for t in tickets}
    providers = {t.id: _provider_name(db, t) for t in tickets if t.admission_id}
    return render(request, "community/repairs_work.html", tickets=tickets, names=names,
                  providers=providers, now=clock.now(), **_labels())


def _work_ticket(request: Request, db: Session, user: User, ticket_id: str,
                 exc: TownsquareError | None = None, **form: Any) -> HTMLResponse:
    if exc is not None:
        db.rollback()
    ticket = repairs.get_ticket(db, actor=user, ticket_id=ticket_id)
    unclaimed = ticket.technician_id is None and repairs.is_provider_staff(db, actor=user,
                                                                            ticket=ticket)
    if ticket.technician_id != user.id and not unclaimed:
        raise NotFound("No such repair ticket.")
    community = _community_of(db, ticket)
    household = db.get(Household, ticket.household_id)
    context = {"ticket": ticket, "community": community, "form": form,
               "provider": _provider_name(db, ticket),
               "room": household.room.label if household else "", "now": clock.now(),
               "problems": field_problems(exc) if exc else {}, **_labels()}
    if exc is not None:
        return rejected(request, db, "community/repairs_work_ticket.html", exc, **context)
    return render(request, "community/repairs_work_ticket.html", **context)


@router.get("/community/repairs/work/{ticket_id}", response_class=HTMLResponse)
def work_ticket(request: Request, ticket_id: str, db: DbSession,
                user: CurrentUser) -> HTMLResponse:
    return _work_ticket(request, db, user, ticket_id)


@router.post("/community/repairs/work/{ticket_id}/finish")
def finish(request: Request, ticket_id: str, db: DbSession, user: FormUser,
           price: Text = "", note: Text = "") -> Response:
    try:
        fen = yuan_to_fen(price, field="price") if price.strip() else 0
        repairs.finish(db, actor=user, ticket_id=ticket_id, price_fen=fen, note=note)
    except TownsquareError as exc:
        return _work_ticket(request, db, user, ticket_id, exc, price=price, note=note)
    return see_other(f"/community/repairs/work/{ticket_id}?ok=moved")


@router.post("/community/repairs/work/{ticket_id}/{move}")
def move(request: Request, ticket_id: str, move: str, db: DbSession,
         user: FormUser) -> Response:
    if move not in MOVES:
        raise NotFound("No such page.")
    try:
        MOVES[move](db, actor=user, ticket_id=ticket_id)
    except TownsquareError as exc:
        return _work_ticket(request, db, user, ticket_id, exc)
    return see_other(f"/community/repairs/work/{ticket_id}?ok=moved")


# --- the committee -----------------------------------------------------------------------------


@router.get("/community/committee/repairs", response_class=HTMLResponse)
def committee(request: Request, db: DbSession, user: CurrentUser,
              days: int = 30) -> HTMLResponse:
    days = min(max(days, 1), 365)
    rows = figures.committee(db, actor=user, since=clock.now() - timedelta(days=days))
    return render(request, "community/repairs_committee.html", rows=rows, days=days)


# --- the property manager ----------------------------------------------------------------------


def _manage(request: Request, db: Session, user: User, community_id: str,
            exc: TownsquareError | None = None, **form: Any) -> HTMLResponse:
    if exc is not None:
        db.rollback()
    community = access.get_community(db, community_id=community_id)
    access.require(db, actor=user, community=community, roles=repairs.STAFF)
    is_pm = access.has_role(db, actor=user, community=community, roles=[access.PM])
    context = {
        "community": community, "page": "repairs", "is_pm": is_pm, "form": form,
        "tickets": repairs.community_tickets(db, actor=user, community=community),
        "technicians": repairs.technicians(db, actor=user, community=community),
        "targets": repairs.targets_of(db, community), "now": clock.now(),
        "problems": field_problems(exc) if exc else {}, **_labels(),
    }
    names = {u.id: u.display_name or u.username for u in context["technicians"]}
    context["technician_names"] = names
    context["providers"] = repairs.providers(db, actor=user, community=community)
    context["provider_names"] = {t.id: _provider_name(db, t) for t in context["tickets"]
                                 if t.admission_id}
    context["apps"] = {a.id: db.get_one(MiniApp, a.miniapp_id) for a in context["providers"]}
    if exc is not None:
        return rejected(request, db, "community/repairs_manage.html", exc, **context)
    return render(request, "community/repairs_manage.html", **context)


@router.get("/community/{community_id}/manage/repairs", response_class=HTMLResponse)
def manage(request: Request, community_id: str, db: DbSession,
           user: CurrentUser) -> HTMLResponse:
    return _manage(request, db, user, community_id)


@router.get("/community/{community_id}/manage/repairs/{ticket_id}")
def manage_ticket(community_id: str, ticket_id: str) -> Response:
    """Where reminders link to: the console's list, at the ticket."""
    return see_other(f"/community/{community_id}/manage/repairs#{ticket_id}")


@router.post("/community/{community_id}/manage/repairs/{ticket_id}/assign")
def assign(request: Request, community_id: str, ticket_id: str, db: DbSession,
           user: FormUser, technician: Text = "") -> Response:
    try:
        repairs.assign(db, actor=user, ticket_id=ticket_id, technician_username=technician)
    except TownsquareError as exc:
        return _manage(request, db, user, community_id, exc)
    return see_other(f"/community/{community_id}/manage/repairs?ok=assigned")


@router.post("/community/{community_id}/manage/repairs/{ticket_id}/provider")
def hand_to_provider(request: Request, community_id: str, ticket_id: str, db: DbSession,
                     user: FormUser, provider: Text = "") -> Response:
    try:
        repairs.hand_to_provider(db, actor=user, ticket_id=ticket_id, admission_id=provider)
    except TownsquareError as exc:
        return _manage(request, db, user, community_id, exc)
    return see_other(f"/community/{community_id}/manage/repairs?ok=provider")


@router.post("/community/{community_id}/manage/repairs/{ticket_id}/cancel")
def manage_cancel(request: Request, community_id: str, ticket_id: str, db: DbSession,
                  user: FormUser, reason: Text = "") -> Response:
    try:
        repairs.cancel(db, actor=user, ticket_id=ticket_id, reason=reason)
    except TownsquareError as exc:
        return _manage(request, db, user, community_id, exc)
    return see_other(f"/community/{community_id}/manage/repairs?ok=cancelled")


@router.post("/community/{community_id}/manage/repairs-targets")
def targets(request: Request, community_id: str, db: DbSession, user: FormUser,
            respond_minutes: Text = "", complete_hours: Text = "",
            auto_confirm_days: Text = "") -> Response:
    community = access.get_community(db, community_id=community_id)
    try:
        repairs.set_targets(
            db, actor=user, community=community,
            respond_minutes=whole_number(respond_minutes, field="respond_minutes"),
            complete_hours=whole_number(complete_hours, field="complete_hours"),
            auto_confirm_days=whole_number(auto_confirm_days, field="auto_confirm_days"))
    except TownsquareError as exc:
        return _manage(request, db, user, community_id, exc, respond_minutes=respond_minutes,
                       complete_hours=complete_hours, auto_confirm_days=auto_confirm_days)
    return see_other(f"/community/{community_id}/manage/repairs?ok=targets")


@router.post("/community/{community_id}/manage/repairs-technicians")
def add_technician(request: Request, community_id: str, db: DbSession, user: FormUser,
                   username: Text = "") -> Response:
    community = access.get_community(db, community_id=community_id)
    try:
        access.require(db, actor=user, community=community, roles=[access.PM])
        communities.grant_role(db, actor=user, community=community, username=username,
                               role="technician")
    except TownsquareError as exc:
        return _manage(request, db, user, community_id, exc, username=username)
    return see_other(f"/community/{community_id}/manage/repairs?ok=technician")


# Fixed paths (/community/committee/repairs, /community/repairs/…) before the parameterised
# /community/{community_id}/…, which would otherwise take "committee" for a community id.
router.routes.sort(key=lambda route: "{community_id}" in getattr(route, "path", ""))
