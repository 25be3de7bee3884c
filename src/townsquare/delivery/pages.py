"""Delivery's pages: the rider page (phone-sized: on duty, accept, picked up, delivered with the
resident's code), the merchant's delivery console (dispatch policy, riders, every delivery with
its provider, cost and log), and the resident's tracking page (status, times, a locally drawn
map of the city, the delivery code), which follows along by polling a fragment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from townsquare.accounts.deps import CurrentUser, FormUser
from townsquare.accounts.models import User
from townsquare.core import i18n
from townsquare.core.errors import NotFound, TownsquareError
from townsquare.core.i18n import N_
from townsquare.core.money import yuan_to_fen
from townsquare.delivery import dispatch, labels, riders, service, tracking
from townsquare.delivery.adapters import registry
from townsquare.delivery.status import TERMINAL
from townsquare.merchants.access import require_act_for
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.forms import flashes, rejected, see_other, whole_number
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=400)]
DONE = {"saved": N_("Changes saved."), "rider": N_("Rider added."),
        "accepted": N_("Delivery accepted."), "step": N_("Status updated."),
        "delivered": N_("Delivered. Thank you!"), "duty": N_("Duty status changed."),
        "cancelled": N_("Delivery cancelled.")}
HELPERS: dict[str, Any] = {"status_label": labels.status, "provider_label": labels.provider,
           "event_text": labels.event_text}


def _map_labels() -> dict[str, str]:
    return {"map": i18n.gettext("Map of the delivery"), "pickup": i18n.gettext("Shop"),
            "dropoff": i18n.gettext("Your address"), "courier": i18n.gettext("Courier")}


# --- the rider page ---------------------------------------------------------------------------

def _rider_context(db: Session, user: User) -> dict[str, Any]:
    rider = riders.rider_for(db, user)
    return {"rider": rider, "offered": riders.offered(db, actor=user),
            "mine": riders.mine(db, actor=user), "terminal": TERMINAL, "tabbar": False,
            **HELPERS}


@router.get("/rider", response_class=HTMLResponse)
def rider_page(request: Request, user: CurrentUser, db: DbSession) -> HTMLResponse:
    try:
        context = _rider_context(db, user)
    except TownsquareError as exc:
        return render(request, "delivery/rider.html", status_code=exc.status,
                      error=exc.render(i18n.gettext), rider=None, tabbar=False)
    return render(request, "delivery/rider.html", flashes=flashes(request, DONE), **context)


def _rider_act(request: Request, db: Session, user: User, action: Callable[[], object],
               done: str) -> Response:
    try:
        action()
    except TownsquareError as exc:
        db.rollback()
        try:
            context = _rider_context(db, user)
        except TownsquareError:
            context = {"rider": None, "tabbar": False}
        return rejected(request, db, "delivery/rider.html", exc, **context)
    return see_other(f"/rider?ok={done}")


@router.post("/rider/duty")
def rider_duty(request: Request, user: FormUser, db: DbSession, on: Text = "") -> Response:
    return _rider_act(request, db, user,
                      lambda: riders.set_duty(db, actor=user, on_duty=on == "1"), "duty")


@router.post("/rider/{dlv_id}/accept")
def rider_accept(request: Request, dlv_id: str, user: FormUser, db: DbSession) -> Response:
    return _rider_act(request, db, user,
                      lambda: riders.accept(db, actor=user, delivery_id=dlv_id), "accepted")


@router.post("/rider/{dlv_id}/step")
def rider_step(request: Request, dlv_id: str, user: FormUser, db: DbSession,
               settings: AppSettings, step: Text = "", code: Text = "") -> Response:
    steps: dict[str, Callable[[], object]] = {
        "at_pickup": lambda: riders.at_pickup(db, actor=user, delivery_id=dlv_id),
        "picked_up": lambda: riders.picked_up(db, actor=user, delivery_id=dlv_id),
        "at_dropoff": lambda: riders.at_dropoff(db, actor=user, delivery_id=dlv_id),
        "delivered": lambda: riders.delivered(db, actor=user, delivery_id=dlv_id, code=code,
                                           settings=settings),
    }
    if step not in steps:
        raise NotFound("No such step.")
    return _rider_act(request, db, user, steps[step],
                      "delivered" if step == "delivered" else "step")


# --- the merchant's console -------------------------------------------------------------------

def _console(db: Session, user: User, mer_id: str, settings: Any) -> dict[str, Any]:
    merchant = service.merchant_of(db, mer_id)
    require_act_for(db, user, merchant)
    known = sorted({*registry.adapters(settings), *registry.PROVIDERS})
    return {"merchant": merchant, "prefs": service.settings_for(db, merchant.id),
            "riders": riders.merchant_riders(db, actor=user, merchant=merchant),
            "deliveries": service.for_merchant(db, actor=user, merchant=merchant),
            "providers": known, "configured": set(registry.adapters(settings)),
            "policies": labels.POLICY, **HELPERS}


@router.get("/console/merchant/{mer_id}/delivery", response_class=HTMLResponse)
def console(request: Request, mer_id: str, user: CurrentUser, db: DbSession,
            settings: AppSettings) -> HTMLResponse:
    return render(request, "delivery/console.html", flashes=flashes(request, DONE),
                  **_console(db, user, mer_id, settings))


@router.post("/console/merchant/{mer_id}/delivery/settings")
def save_settings(request: Request, mer_id: str, user: FormUser, db: DbSession,
                  settings: AppSettings, policy: Text = "", promise_minutes: Text = "",
                  self_first: Text = "", providers: Text = "",
                  self_fee: Text = "") -> Response:
    def save() -> object:
        return service.update_settings(
            db, actor=user, merchant=mer_id, policy=policy,
            promise_minutes=whole_number(promise_minutes, field="promise_minutes"),
            self_first=self_first == "1",
            providers=[p for p in providers.replace("，", ",").split(",")],
            self_fee_fen=yuan_to_fen(self_fee or "0", field="self_fee"))

    return _console_act(request, db, user, mer_id, settings, save, "saved")


@router.post("/console/merchant/{mer_id}/delivery/riders")
def add_rider(request: Request, mer_id: str, user: FormUser, db: DbSession,
              settings: AppSettings, username: Text = "", phone: Text = "") -> Response:
    return _console_act(request, db, user, mer_id, settings,
                        lambda: riders.add_rider(db, actor=user, merchant=mer_id,
                                                 username=username, phone=phone), "rider")


def _console_act(request: Request, db: Session, user: User, mer_id: str, settings: Any,
                 action: Callable[[], object], done: str) -> Response:
    try:
        action()
    except TownsquareError as exc:
        db.rollback()
        return rejected(request, db, "delivery/console.html", exc,
                        **_console(db, user, mer_id, settings))
    return see_other(f"/console/merchant/{mer_id}/delivery?ok={done}")


@router.get("/console/merchant/{mer_id}/delivery/{dlv_id}", response_class=HTMLResponse)
def console_delivery(request: Request, mer_id: str, dlv_id: str, user: CurrentUser,
                     db: DbSession) -> HTMLResponse:
    merchant = service.merchant_of(db, mer_id)
    require_act_for(db, user, merchant)
    delivery = service.get(db, actor=user, delivery_id=dlv_id)
    if delivery.merchant_id != merchant.id:
        raise NotFound("No such delivery.")
    track = service.track(db, actor=user, delivery_id=dlv_id)
    return render(request, "delivery/detail.html", merchant=merchant, delivery=delivery,
                  events=service.timeline(db, delivery), attempts=delivery.attempts,
                  map_svg=Markup(tracking.svg(track, labels=_map_labels())),
                  flashes=flashes(request, DONE), **HELPERS)


@router.post("/console/merchant/{mer_id}/delivery/{dlv_id}/cancel")
def console_cancel(request: Request, mer_id: str, dlv_id: str, user: FormUser, db: DbSession,
                   settings: AppSettings, reason: Text = "") -> Response:
    try:
        dispatch.cancel(delivery_id=dlv_id, actor=user, reason=reason or "merchant", db=db,
                        settings=settings)
    except TownsquareError as exc:
        db.rollback()
        delivery = service.get(db, actor=user, delivery_id=dlv_id)
        return rejected(request, db, "delivery/detail.html", exc,
                        merchant=service.merchant_of(db, mer_id), delivery=delivery,
                        events=service.timeline(db, delivery), attempts=delivery.attempts,
                        map_svg="", **HELPERS)
    return see_other(f"/console/merchant/{mer_id}/delivery/{dlv_id}?ok=cancelled")


# --- the resident's tracking page -------------------------------------------------------------

def _track_context(db: Session, user: User, dlv_id: str, settings: Any) -> dict[str, Any]:
    delivery = service.get(db, actor=user, delivery_id=dlv_id)
    track = service.track(db, actor=user, delivery_id=dlv_id)
    mine = user.id == delivery.resident_user_id
    code = service.dropoff_code(delivery, settings=settings) if mine else ""
    return {"delivery": delivery, "track": track, "code": code,
            "map_svg": Markup(tracking.svg(track, labels=_map_labels())),
            "ended": delivery.status in TERMINAL, **HELPERS}


@router.get("/delivery/{dlv_id}", response_class=HTMLResponse)
def track_page(request: Request, dlv_id: str, user: CurrentUser, db: DbSession,
               settings: AppSettings) -> HTMLResponse:
    return render(request, "delivery/track.html", **_track_context(db, user, dlv_id, settings))


@router.get("/delivery/{dlv_id}/live", response_class=HTMLResponse)
def track_fragment(request: Request, dlv_id: str, user: CurrentUser, db: DbSession,
                   settings: AppSettings) -> HTMLResponse:
    """The part of the tracking page that follows along (htmx polls it)."""
    return render(request, "delivery/track_live.html",
                  **_track_context(db, user, dlv_id, settings))
