"""Pages of the services marketplace: the residents' services page (book a time, pay in the
cashier, follow, rate, complain), the property manager's catalog, admissions, bookings and
commission statement (`/community/{com}/manage/services`), and the merchant's communities page
(apply, end, serve bookings, the commission its bookings paid)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.deps import CurrentUser, FormUser
from townsquare.accounts.models import User
from townsquare.community import access
from townsquare.community.models import Community
from townsquare.community.services import (
    admissions,
    bookings,
    catalog,
    pickers,
    statements,
)
from townsquare.community.services.models import Admission, BookingStatus
from townsquare.core.clock import clock
from townsquare.core.errors import TownsquareError, ValidationFailed
from townsquare.core.i18n import N_, gettext
from townsquare.core.money import yuan_to_fen
from townsquare.merchants.service import staffed_merchant
from townsquare.miniapps.models import MiniApp
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.forms import rejected, see_other, whole_number
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=400)]
STATUS_LABELS = {
    BookingStatus.CREATED: N_("Waiting for payment"), BookingStatus.PAID: N_("Paid"),
    BookingStatus.ON_THE_WAY: N_("Provider on the way"), BookingStatus.DONE: N_("Done"),
    BookingStatus.CANCELLED: N_("Cancelled"),
}
ADMISSION_LABELS = {
    "applied": N_("Waiting for a decision"), "approved": N_("Admitted"),
    "refused": N_("Refused"), "ended": N_("Ended"),
}
COMPLAINT_LABELS = {
    "quality": N_("Quality of the work"), "service": N_("Service attitude"),
    "price": N_("Price"), "late": N_("Late or did not come"),
}
LABELS = {"statuses": STATUS_LABELS, "admission_labels": ADMISSION_LABELS,
          "complaint_labels": COMPLAINT_LABELS}


def _percent(bp: int) -> str:
    return f"{bp / 100:g}%"


# --- residents ----------------------------------------------------------------------------------

def _services_context(db: Session, user: User, community: Community) -> dict[str, Any]:
    offered = catalog.offered(db, community=community)
    links = {s.id: db.get_one(MiniApp, s.link_miniapp_id).public_id
             for s in offered if s.link_miniapp_id}
    return {"community": community, "services": offered, "links": links,
            "person": access.resident_of(db, actor=user, community=community),
            "providers": {s.id: catalog.provider_name(db, s) for s in offered},
            "slots": {s.id: bookings.slots(db, service=s) for s in offered},
            "mine": bookings.my_bookings(db, actor=user, community=community),
            "request_key": secrets.token_hex(12), **LABELS}


@router.get("/community/{community_id}/services", response_class=HTMLResponse)
def services_page(request: Request, community_id: str, db: DbSession,
                  user: CurrentUser) -> HTMLResponse:
    community = access.get_community(db, community_id=community_id)
    return render(request, "community/services.html", **_services_context(db, user, community))


@router.post("/community/{community_id}/services/{service_id}/book")
def book(request: Request, community_id: str, service_id: str, db: DbSession,
         settings: AppSettings, user: FormUser, slot: Text = "", key: Text = "") -> Response:
    community = access.get_community(db, community_id=community_id)
    try:
        try:
            start = datetime.fromisoformat(slot)
        except ValueError:
            raise ValidationFailed("Choose a time.", field="slot") from None
        booking = bookings.book(db, actor=user, community=community, service_id=service_id,
                                slot_start=start, idempotency_key=key[:64], settings=settings)
    except TownsquareError as exc:
        db.rollback()
        return rejected(request, db, "community/services.html", exc,
                        **_services_context(db, user, community))
    return see_other(f"/cashier/{booking.trade_no}")


def _booking_page(request: Request, db: Session, user: User, community_id: str,
                  booking_id: str, exc: TownsquareError | None = None) -> HTMLResponse:
    if exc is not None:
        db.rollback()
    community = access.get_community(db, community_id=community_id)
    booking = bookings.mine(db, actor=user, community=community, booking_id=booking_id)
    context: dict[str, Any] = {"community": community, "booking": booking,
                               "provider": catalog.provider_name(db, booking.service),
                               **LABELS}
    if exc is not None:
        return rejected(request, db, "community/service_booking.html", exc, **context)
    return render(request, "community/service_booking.html", **context)


@router.get("/community/{community_id}/services/bookings/{booking_id}",
            response_class=HTMLResponse)
def booking_page(request: Request, community_id: str, booking_id: str, db: DbSession,
                 user: CurrentUser) -> HTMLResponse:
    return _booking_page(request, db, user, community_id, booking_id)


@router.post("/community/{community_id}/services/bookings/{booking_id}")
def booking_post(request: Request, community_id: str, booking_id: str, db: DbSession,
                 user: FormUser, action: Text = "", stars: Text = "", category: Text = "",
                 text: Text = "") -> Response:
    community = access.get_community(db, community_id=community_id)
    try:
        if action == "rate":
            bookings.rate(db, actor=user, community=community, booking_id=booking_id,
                          stars=whole_number(stars, field="rating"))
        else:
            bookings.complain(db, actor=user, community=community, booking_id=booking_id,
                              category=category, text=text)
    except TownsquareError as exc:
        return _booking_page(request, db, user, community_id, booking_id, exc)
    return see_other(f"/community/{community_id}/services/bookings/{booking_id}")


# --- the property manager -----------------------------------------------------------------------

KIND_LABELS = {"booking": N_("Booking"), "repair": N_("Repair"), "order": N_("Shop order")}


def _month(request: Request, settings: Any) -> str:
    """The statement's month: ?month=YYYY-MM, or this month (an unreadable one is this one)."""
    wanted = request.query_params.get("month", "").strip()
    try:
        statements.month_bounds(wanted, settings.timezone)
    except ValidationFailed:
        return statements.this_month(clock.now(), settings.timezone)
    return wanted


def _manage_context(db: Session, user: User, community: Community, month: str = "",
                    zone: str = "Asia/Shanghai", **form: str) -> dict[str, Any]:
    access.require(db, actor=user, community=community, roles=[access.PM])
    all_services = catalog.all_of(db, community=community)
    found = admissions.of_community(db, actor=user, community=community)
    return {"community": community, "page": "services", "is_pm": True,
            "services": all_services,
            "providers": {s.id: catalog.provider_name(db, s) for s in all_services},
            "admissions": found, "apps": {a.id: db.get_one(MiniApp, a.miniapp_id)
                                          for a in found},
            "bookings": bookings.of_community(db, actor=user, community=community),
            "statement": statements.for_property(db, actor=user, community=community,
                                                 month=month, zone=zone),
            "pickers": pickers.providers(db, actor=user, community=community,
                                         property_name=gettext("The property")),
            "kinds": KIND_LABELS, "form": form, "percent": _percent, **LABELS}


@router.get("/community/{community_id}/manage/services", response_class=HTMLResponse)
def manage_page(request: Request, community_id: str, db: DbSession, settings: AppSettings,
                user: CurrentUser) -> HTMLResponse:
    community = access.get_community(db, community_id=community_id)
    return render(request, "community/manage_services.html",
                  **_manage_context(db, user, community, _month(request, settings),
                                    settings.timezone))


def _serve(db: Session, user: User, community: Community, action: str, target: str,
           amount: str, reason: str) -> None:
    if action in ("on_the_way", "done"):
        bookings.advance(db, actor=user, community=community, booking_id=target, to=action)
    elif action == "refund":
        bookings.refund(db, actor=user, community=community, booking_id=target,
                        amount_fen=yuan_to_fen(amount, field="amount"), reason=reason)
    else:
        raise ValidationFailed("Choose what to do.", field="action")


@router.post("/community/{community_id}/manage/services")
def manage_post(request: Request, community_id: str, db: DbSession, user: FormUser,
                action: Text = "", target: Text = "", name: Text = "", price: Text = "",
                description: Text = "", store: Text = "", sku: Text = "", link: Text = "",
                admission: Text = "", commission: Text = "", reason: Text = "",
                amount: Text = "") -> Response:
    community = access.get_community(db, community_id=community_id)
    try:
        if action == "add":
            catalog.add(db, actor=user, community=community, name=name,
                        price_fen=yuan_to_fen(price or "0", field="price"),
                        description=description, store_id=store, sku_id=sku,
                        admission_id=admission, link_miniapp_id=link)
        elif action in ("hide", "show"):
            catalog.set_active(db, actor=user, community=community, service_id=target,
                               active=action == "show")
        elif action == "approve":
            percent = yuan_to_fen(commission, field="commission")  # "8.5" → 850 bp
            admissions.approve(db, actor=user, community=community, admission_id=target,
                               commission_bp=percent)
        elif action == "refuse":
            admissions.refuse(db, actor=user, community=community, admission_id=target,
                              reason=reason)
        elif action == "end":
            admissions.end(db, actor=user, community=community, admission_id=target,
                           reason=reason)
        else:
            _serve(db, user, community, action, target, amount, reason)
    except TownsquareError as exc:
        db.rollback()
        kept = {"name": name, "price": price, "description": description, "store": store,
                "sku": sku, "link": link, "admission": admission} if action == "add" else {}
        return rejected(request, db, "community/manage_services.html", exc,
                        **_manage_context(db, user, community, **kept))
    return see_other(f"/community/{community_id}/manage/services")


# --- the merchant ------------------------------------------------------------------------------

def _merchant_context(db: Session, user: User, mer_id: str, month: str = "",
                      zone: str = "Asia/Shanghai") -> dict[str, Any]:
    merchant = staffed_merchant(db, actor=user, public_id=mer_id)
    found = admissions.of_merchant(db, actor=user, merchant_id=merchant.id)
    return {
        "merchant": merchant, "admissions": found,
        "communities": {a.id: db.get_one(Community, a.community_id) for a in found},
        "apps": list(db.scalars(select(MiniApp).where(MiniApp.merchant_id == merchant.id)
                                .order_by(MiniApp.name))),
        "bookings": bookings.of_merchant(db, merchant_id=merchant.id),
        "statement": statements.for_merchant(db, merchant=merchant, month=month, zone=zone),
        "kinds": KIND_LABELS, "percent": _percent, **LABELS,
    }


@router.get("/console/merchant/{mer_id}/communities", response_class=HTMLResponse)
def merchant_page(request: Request, mer_id: str, db: DbSession, settings: AppSettings,
                  user: CurrentUser) -> HTMLResponse:
    return render(request, "community/merchant_services.html",
                  **_merchant_context(db, user, mer_id, _month(request, settings),
                                      settings.timezone))


@router.post("/console/merchant/{mer_id}/communities")
def merchant_post(request: Request, mer_id: str, db: DbSession, user: FormUser,
                  action: Text = "", community: Text = "", miniapp: Text = "",
                  offer: Text = "", target: Text = "", reason: Text = "",
                  amount: Text = "") -> Response:
    merchant = staffed_merchant(db, actor=user, public_id=mer_id)
    try:
        if action == "apply":
            admissions.apply(db, actor=user,
                             community=access.get_community(db, community_id=community.strip()),
                             miniapp_id=miniapp, offer=offer)
        elif action == "end":
            row = db.scalar(select(Admission).where(Admission.public_id == target,
                                                    Admission.merchant_id == merchant.id))
            if row is None:
                raise ValidationFailed("No such admission.", field="target")
            admissions.end(db, actor=user, community=db.get_one(Community, row.community_id),
                           admission_id=target, reason=reason)
        else:
            booking = next((b for b in bookings.of_merchant(db, merchant_id=merchant.id)
                            if b.public_id == target), None)
            if booking is None:
                raise ValidationFailed("No such booking.", field="target")
            _serve(db, user, db.get_one(Community, booking.community_id), action, target,
                   amount, reason)
    except TownsquareError as exc:
        db.rollback()
        return rejected(request, db, "community/merchant_services.html", exc,
                        **_merchant_context(db, user, mer_id))
    return see_other(f"/console/merchant/{mer_id}/communities")


