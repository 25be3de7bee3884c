"""The resident's orders: `/me/orders` (newest first) and `/me/orders/{ord}` (status and
timeline, the pickup number and the QR of the signed pickup code, cancel, reorder, confirm
receipt, rate, complain), kept current by `/me/orders/{ord}/stream` (server-sent events: the
server polls `orders.changes_since` each second and tells the page when the order changed; the
page then fetches its live part, `?part=live`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from townsquare.accounts.deps import CurrentUser, FormUser
from townsquare.accounts.models import User
from townsquare.core import i18n
from townsquare.core.errors import TownsquareError, ValidationFailed
from townsquare.core.i18n import N_
from townsquare.core.settings import Settings
from townsquare.miniapps.models import MiniApp
from townsquare.ordering import orders
from townsquare.ordering.orders import delivery_link, labels
from townsquare.ordering.orders import resident_views as views
from townsquare.ordering.orders.models import ENDED, Order, OrderStatus
from townsquare.ordering.slots.models import Kind
from townsquare.ordering.stores.models import PickupPoint, Store
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.forms import flashes, see_other, whole_number
from townsquare.web.qr import qr_svg
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=600)]
PAGE_SIZE = 20
POLL_SECONDS = 1.0
STREAM_SECONDS = 300  # a stream ends after this; the browser's EventSource reconnects
DONE = {
    "cancelled": N_("Order cancelled."),
    "rated": N_("Thank you for your rating."),
    "complained": N_("Complaint sent. The platform follows it up with the shop."),
    "received": N_("Thank you for confirming."),
}


@router.get("/me/orders", response_class=HTMLResponse)
def my_orders(request: Request, db: DbSession, user: CurrentUser,
              page: int = 1) -> HTMLResponse:
    page = max(1, min(page, 500))
    found = orders.mine(db, actor=user, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    return render(request, "ordering/shop_orders.html", orders=found[:PAGE_SIZE], page=page,
                  more=len(found) > PAGE_SIZE, labels=views.STATUS_LABELS,
                  kind_words=views.KIND_WORDS, names=_names(db, found))


def _names(db: Session, found: list[Order]) -> dict[int, str]:
    """The shop (mini-app) name of each order."""
    ids = {o.miniapp_id for o in found}
    return {app.id: app.name for app in (db.get(MiniApp, i) for i in ids) if app is not None}


def _detail(request: Request, db: Session, settings: Settings, user: User, order_id: str,
            **extra: Any) -> dict[str, Any]:
    order = orders.get_for_resident(db, actor=user, order_id=order_id)
    miniapp = db.get(MiniApp, order.miniapp_id)
    store = db.get(Store, order.store_id)
    point = db.get(PickupPoint, order.point_id) if order.point_id else None
    show_code = order.status in views.SHOW_CODE and order.kind is not Kind.DELIVERY
    code = orders.pickup_code(order, settings=settings) if show_code else ""
    status = order.status
    hint = (views.READY_HINTS[order.kind] if status is OrderStatus.READY
            else views.STATUS_HINTS.get(status, ""))
    return {
        "order": order, "miniapp": miniapp, "store": store, "point": point,
        "label": views.STATUS_LABELS[status], "hint": hint,
        "steps": views.timeline(order, orders.timeline(order)),
        "code": code,
        "qr": qr_svg(code, label=i18n.gettext("Pickup code")) if code else "",
        "can_cancel": status in views.CANCELLABLE,
        "can_confirm": status in (OrderStatus.PICKED_UP, OrderStatus.DELIVERED),
        "can_rate": status in views.RATEABLE,
        "review": orders.review_of(db, order),
        "ended": status in ENDED, "complaints": views.COMPLAINTS,
        "cancelled_by": views.CANCELLED_BY.get(order.cancelled_by, ""),
        "reason_label": labels.reason_label,
        "kind_words": views.KIND_WORDS, "options_text": views.options_text,
        "version": views.version(order), "flashes": flashes(request, DONE),
        "problems": {}, **extra,
        "tracking": (delivery_link.tracking_path(db, order)
                     if order.kind is Kind.DELIVERY else None),
    }


@router.get("/me/orders/{order_id}", response_class=HTMLResponse)
def order_page(request: Request, order_id: str, db: DbSession, settings: AppSettings,
               user: CurrentUser, part: str = "") -> HTMLResponse:
    context = _detail(request, db, settings, user, order_id)
    template = "ordering/shop_order_live.html" if part == "live" else "ordering/shop_order.html"
    return render(request, template, **context)


def _refused(request: Request, db: Session, settings: Settings, user: User, order_id: str,
             exc: TownsquareError, **form: Any) -> HTMLResponse:
    db.rollback()
    problem = exc.render(i18n.gettext)
    field = exc.params.get("field")
    return render(request, "ordering/shop_order.html", status_code=exc.status, error=problem,
                  **_detail(request, db, settings, user, order_id,
                            problems={str(field): problem} if field else {}, form=form))


@router.post("/me/orders/{order_id}/cancel")
def cancel(request: Request, order_id: str, db: DbSession, settings: AppSettings,
           user: FormUser, reason: Text = "") -> Response:
    try:
        orders.cancel_by_resident(db, actor=user, order_id=order_id, reason=reason.strip())
    except TownsquareError as exc:
        return _refused(request, db, settings, user, order_id, exc)
    return see_other(f"/me/orders/{order_id}?ok=cancelled")


@router.post("/me/orders/{order_id}/received")
def received(request: Request, order_id: str, db: DbSession, settings: AppSettings,
             user: FormUser) -> Response:
    try:
        orders.confirm_received(db, actor=user, order_id=order_id)
    except TownsquareError as exc:
        return _refused(request, db, settings, user, order_id, exc)
    return see_other(f"/me/orders/{order_id}?ok=received")


@router.post("/me/orders/{order_id}/reorder")
def reorder(request: Request, order_id: str, db: DbSession, settings: AppSettings,
            user: FormUser) -> Response:
    """The order's lines still on sale back in the cart; on to the shop to check out."""
    try:
        order = orders.get_for_resident(db, actor=user, order_id=order_id)
        orders.reorder(db, actor=user, order_id=order_id)
    except TownsquareError as exc:
        return _refused(request, db, settings, user, order_id, exc)
    miniapp = db.get(MiniApp, order.miniapp_id)
    return see_other(f"/shop/{miniapp.public_id if miniapp else ''}#cart")


@router.post("/me/orders/{order_id}/rate")
def rate(request: Request, order_id: str, db: DbSession, settings: AppSettings,
         user: FormUser, stars: Text = "", text: Text = "") -> Response:
    try:
        if not stars:
            raise ValidationFailed("Choose one to five stars.", field="stars")
        count = whole_number(stars, field="stars")
        orders.rate(db, actor=user, order_id=order_id, stars=count, text=text.strip())
    except TownsquareError as exc:
        return _refused(request, db, settings, user, order_id, exc, stars=stars, text=text)
    return see_other(f"/me/orders/{order_id}?ok=rated#review")


@router.post("/me/orders/{order_id}/complain")
def complain(request: Request, order_id: str, db: DbSession, settings: AppSettings,
             user: FormUser, category: Text = "", text: Text = "") -> Response:
    try:
        orders.complain(db, actor=user, order_id=order_id, category=category,
                        text=text.strip())
    except TownsquareError as exc:
        return _refused(request, db, settings, user, order_id, exc, category=category,
                        complaint=text)
    return see_other(f"/me/orders/{order_id}?ok=complained")


# -- live updates ---------------------------------------------------------------------------
def _look(database: Any, user_id: int, order_id: str, cursor: str) -> tuple[str, str, bool, bool]:
    """(the next cursor, the order's version, whether it changed since `cursor`, whether it
    has ended). A fresh read-only unit of work each time: nothing is held between polls."""
    with database.unit_of_work(read_only=True) as db:
        user = db.get(User, user_id)
        order = orders.get_for_resident(db, actor=user, order_id=order_id)
        cursor, changed = orders.changes_since(db, order_id=order.id, cursor=cursor)
        return cursor, views.version(order), bool(changed), order.status in ENDED


@router.get("/me/orders/{order_id}/stream")
async def order_stream(request: Request, order_id: str, user: CurrentUser) -> Response:
    """Server-sent events: `order` with the order's version whenever it changes (and once at
    the start), `end` when it can no longer change. The page ignores a version it shows."""
    database = request.app.state.database
    user_id = user.id
    first = await run_in_threadpool(_look, database, user_id, order_id, "")  # 404 if not theirs

    async def events() -> AsyncIterator[str]:
        cursor, shown, _changed, ended = first
        yield f"retry: 2000\nevent: order\ndata: {shown}\n\n"
        waited = 0.0
        while not ended and waited < STREAM_SECONDS:
            if await request.is_disconnected():
                return
            await asyncio.sleep(POLL_SECONDS)
            waited += POLL_SECONDS
            cursor, now, changed, ended = await run_in_threadpool(
                _look, database, user_id, order_id, cursor)
            if changed and now != shown:
                shown = now
                yield f"event: order\ndata: {now}\n\n"
            elif int(waited) % 15 == 0:
                yield ": still here\n\n"  # keeps proxies from closing an idle stream
        if ended:
            yield "event: end\ndata: \n\n"

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
