"""Merchant console pages for stores: the list, one store's profile, opening hours and closed
days, delivery zones, community pickup points and slot settings (the slot forms post to
`slots/pages.py` and come back here). Forms take yuan and times as people type them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from townsquare.accounts.deps import CurrentUser, FormUser
from townsquare.accounts.models import User
from townsquare.core.errors import NotFound, TownsquareError, ValidationFailed
from townsquare.core.i18n import N_
from townsquare.core.money import fen_to_yuan, yuan_to_fen
from townsquare.ordering import access
from townsquare.ordering.slots import rules
from townsquare.ordering.slots.labels import KIND_LABELS, rule_form
from townsquare.ordering.stores import hours
from townsquare.ordering.stores import service as stores
from townsquare.ordering.stores.models import Store
from townsquare.web.deps import DbSession
from townsquare.web.forms import attempt, flashes, rejected, see_other
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=4000)]
DONE = {
    "created": N_("Store created. Set its opening hours next."),
    "saved": N_("Changes saved."),
    "zone": N_("Delivery zone added."),
    "zone_removed": N_("Delivery zone removed."),
    "point": N_("Pickup point added."),
    "slots": N_("Slot settings saved."),
}
WEEKDAY_NAMES = (N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"),
                 N_("Saturday"), N_("Sunday"))


def number(text: str, *, field: str) -> float:
    try:
        return float((text or "").strip())
    except ValueError as exc:
        raise ValidationFailed("Enter a latitude and longitude, such as 31.2304, 121.4737.",
                               field=field) from exc


def own_store(db: Session, user: User, mer_id: str, sto_id: str) -> Store:
    """The store, if it is this merchant's and the user may act for it."""
    merchant = access.merchant(db, actor=user, merchant_id=mer_id)
    store = stores.get_store(db, actor=user, store_id=sto_id)
    if store.merchant_id != merchant.id:
        raise NotFound("No such store.")
    return store


def _list(db: Session, user: User, mer_id: str) -> dict[str, Any]:
    return {"merchant": access.merchant(db, actor=user, merchant_id=mer_id),
            "stores": stores.stores_of(db, actor=user, merchant_id=mer_id)}


@router.get("/console/merchant/{mer_id}/stores", response_class=HTMLResponse)
def store_list(request: Request, mer_id: str, user: CurrentUser, db: DbSession) -> HTMLResponse:
    return render(request, "ordering/stores.html", flashes=flashes(request, DONE), form={},
                  **_list(db, user, mer_id))


@router.post("/console/merchant/{mer_id}/stores")
def create_store(request: Request, mer_id: str, user: FormUser, db: DbSession,
                 name: Text = "", address: Text = "", lat: Text = "", lng: Text = "",
                 phone: Text = "") -> Response:
    form = {"name": name, "address": address, "lat": lat, "lng": lng, "phone": phone}
    try:
        store = stores.create_store(db, actor=user, merchant_id=mer_id, name=name,
                                    address=address, lat=number(lat, field="lat"),
                                    lng=number(lng, field="lng"), phone=phone)
    except TownsquareError as exc:
        db.rollback()
        return rejected(request, db, "ordering/stores.html", exc, form=form,
                        **_list(db, user, mer_id))
    return see_other(f"/console/merchant/{mer_id}/stores/{store.public_id}?ok=created")


def store_context(db: Session, user: User, mer_id: str, sto_id: str) -> dict[str, Any]:
    store = own_store(db, user, mer_id, sto_id)
    return {
        "merchant": access.merchant(db, actor=user, merchant_id=mer_id), "store": store,
        "weekdays": [(day, WEEKDAY_NAMES[day], hours.day_text(store.hours.get(str(day), [])))
                     for day in hours.WEEKDAYS],
        "rules": [(rule, rule_form(rule)) for rule in rules.rules_of(db, store=store)],
        "kind_labels": KIND_LABELS, "yuan": fen_to_yuan,
        "new_rule": rule_form(None),
    }


@router.get("/console/merchant/{mer_id}/stores/{sto_id}", response_class=HTMLResponse)
def store_page(request: Request, mer_id: str, sto_id: str, user: CurrentUser,
               db: DbSession) -> HTMLResponse:
    return render(request, "ordering/store.html", flashes=flashes(request, DONE), form={},
                  **store_context(db, user, mer_id, sto_id))


def store_form(request: Request, db: Session, user: User, mer_id: str, sto_id: str,
               action: Callable[[], object], done: str, **form: Any) -> Response:
    own_store(db, user, mer_id, sto_id)  # outsiders get the error page
    return attempt(request, db, action, template="ordering/store.html",
                   context=lambda: store_context(db, user, mer_id, sto_id),
                   done_url=f"/console/merchant/{mer_id}/stores/{sto_id}?ok={done}", form=form)


@router.post("/console/merchant/{mer_id}/stores/{sto_id}/profile")
def edit_store(request: Request, mer_id: str, sto_id: str, user: FormUser, db: DbSession,
               name: Text = "", address: Text = "", lat: Text = "", lng: Text = "",
               phone: Text = "", pickup: Text = "", delivery: Text = "",
               active: Text = "") -> Response:
    return store_form(request, db, user, mer_id, sto_id, lambda: stores.update_store(
        db, actor=user, store_id=sto_id, name=name, address=address,
        lat=number(lat, field="lat"), lng=number(lng, field="lng"), phone=phone,
        pickup=bool(pickup), delivery=bool(delivery), active=bool(active)), "saved")


@router.post("/console/merchant/{mer_id}/stores/{sto_id}/hours")
async def edit_hours(request: Request, mer_id: str, sto_id: str, user: FormUser,
                     db: DbSession) -> Response:
    posted = await request.form()
    week = {day: str(posted.get(f"hours_{day}", ""))[:200] for day in hours.WEEKDAYS}
    closed = str(posted.get("closed_days", ""))[:8000]
    return store_form(request, db, user, mer_id, sto_id, lambda: stores.set_hours(
        db, actor=user, store_id=sto_id, week=week, closed_days=closed), "saved")


@router.post("/console/merchant/{mer_id}/stores/{sto_id}/zones")
def add_zone(request: Request, mer_id: str, sto_id: str, user: FormUser, db: DbSession,
             name: Text = "", kind: Text = "radius", radius_m: Text = "", polygon: Text = "",
             fee: Text = "0", min_order: Text = "0") -> Response:
    def add() -> object:
        radius = int(radius_m) if kind == "radius" and radius_m.strip().isdigit() else None
        return stores.add_zone(
            db, actor=user, store_id=sto_id, name=name, kind=kind, radius_m=radius,
            polygon=stores.parse_polygon(polygon) if kind == "polygon" else (),
            fee_fen=yuan_to_fen(fee, field="fee"),
            min_order_fen=yuan_to_fen(min_order, field="min_order"))

    return store_form(request, db, user, mer_id, sto_id, add, "zone",
                      zone={"name": name, "kind": kind, "radius_m": radius_m,
                            "polygon": polygon, "fee": fee, "min_order": min_order})


@router.post("/console/merchant/{mer_id}/stores/{sto_id}/zones/{zone_id}/remove")
def remove_zone(request: Request, mer_id: str, sto_id: str, zone_id: str, user: FormUser,
                db: DbSession) -> Response:
    return store_form(request, db, user, mer_id, sto_id, lambda: stores.remove_zone(
        db, actor=user, store_id=sto_id, zone_id=zone_id), "zone_removed")


@router.post("/console/merchant/{mer_id}/stores/{sto_id}/points")
def add_point(request: Request, mer_id: str, sto_id: str, user: FormUser, db: DbSession,
              name: Text = "", address: Text = "", lat: Text = "", lng: Text = "") -> Response:
    return store_form(request, db, user, mer_id, sto_id, lambda: stores.add_point(
        db, actor=user, store_id=sto_id, name=name, address=address,
        lat=number(lat, field="lat"), lng=number(lng, field="lng")), "point",
        point={"name": name, "address": address, "lat": lat, "lng": lng})


@router.post("/console/merchant/{mer_id}/stores/{sto_id}/points/{point_id}/{action}")
def pause_point(request: Request, mer_id: str, sto_id: str, point_id: str, action: str,
                user: FormUser, db: DbSession) -> Response:
    """Pause a pickup point (its slots are no longer offered) or resume it."""
    if action not in ("pause", "resume"):
        raise NotFound("No such pickup point.")
    return store_form(request, db, user, mer_id, sto_id, lambda: stores.set_point_active(
        db, actor=user, store_id=sto_id, point_id=point_id, active=action == "resume"), "saved")
