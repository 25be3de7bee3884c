"""The merchant's order console: the live board, one order with its actions and timeline, the
printable ticket, the kitchen display, the pickup-code scanner and the sales charts.

Every page asks `views.scope`, which asks `merchants.access` through `ordering.access`: a user
who may not act for the merchant gets the same refusal whether or not the merchant exists, and
an order or store of another merchant is not found. The actions call the orders services, which
check again and refuse an illegal step with `OrderStateError` (409, its message shown).

Board and kitchen buttons are ordinary forms; the board's script sends them with fetch
(`X-Requested-With: fetch`) and gets 204 or the refusal as JSON, so the page (and the sound the
user switched on) stays; without JavaScript the form posts and comes back here."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from markupsafe import Markup
from sqlalchemy.orm import Session

from townsquare.accounts.deps import CurrentUser, FormUser
from townsquare.accounts.models import User
from townsquare.core import i18n
from townsquare.core.clock import clock
from townsquare.core.errors import NotFound, TownsquareError
from townsquare.core.i18n import N_
from townsquare.ordering import orders
from townsquare.ordering.console import board, sales, stream, views
from townsquare.ordering.orders import delivery_link, labels
from townsquare.web import charts
from townsquare.web.deps import DbSession
from townsquare.web.forms import flashes, safe_next, see_other
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=500)]
StoreQuery = Annotated[str, Query(max_length=40)]
DONE = {a: label for a, label in (
    ("accept", N_("Order accepted.")), ("reject", N_("Order rejected; the payment is refunded.")),
    ("start", N_("Preparing.")), ("ready", N_("Marked ready.")),
    ("dispatch", N_("Out for delivery.")), ("delivered", N_("Marked delivered.")),
    ("cancel", N_("Order cancelled; the payment is refunded.")),
)}
ACTOR_LABELS = {"user": N_("Customer"), "merchant": N_("Shop"), "system": N_("Platform")}


def _base(mer_id: str) -> str:
    return f"/console/merchant/{mer_id}"


def card_context(where: views.Scope) -> dict[str, Any]:
    """What the order cards (board, kitchen, detail) need besides the orders."""
    today = where.today()
    now = clock.now()
    return {
        "merchant": where.merchant, "stores": where.stores, "store": where.store,
        "store_names": {s.id: s.name for s in where.stores},
        "board": board, "status_labels": board.STATUS_LABELS, "kind_labels": board.KIND_LABELS,
        "slot_text": lambda o: views.slot_text(o, where.zone, today),
        "local_time": lambda dt, fmt="%H:%M": views.local_time(dt, where.zone, fmt),
        "waiting": lambda o: board.minutes_waiting(o.paid_at, now),
        "reason_label": labels.reason_label,
        "base": _base(where.merchant.public_id), "now": now, "actor_labels": ACTOR_LABELS,
    }


def board_context(db: Session, user: User, where: views.Scope) -> dict[str, Any]:
    columns = views.board_columns(db, user, where)
    next_url = f"{_base(where.merchant.public_id)}/orders"
    if where.store:
        next_url += f"?store={where.store.public_id}"
    return {**card_context(where), "columns": columns, "next_url": next_url,
            "shops": views.shops(db, where.merchant), "reasons": board.REJECT_REASONS}


def _cursor(db: Session, where: views.Scope) -> str:
    """Where a page's stream starts: now, so nothing between render and connect is lost."""
    cursor, _changed = orders.changes_since(db, merchant_id=where.merchant.id, cursor="")
    return cursor


@router.get("/console/merchant/{mer_id}/orders", response_class=HTMLResponse)
def order_board(request: Request, mer_id: str, user: CurrentUser, db: DbSession,
                store: StoreQuery = "") -> HTMLResponse:
    where = views.scope(db, user, mer_id, store)
    return render(request, "ordering/console/board.html", flashes=flashes(request, DONE),
                  cursor=_cursor(db, where), **board_context(db, user, where))


@router.get("/console/merchant/{mer_id}/orders/columns", response_class=HTMLResponse)
def board_columns(request: Request, mer_id: str, user: CurrentUser, db: DbSession,
                  store: StoreQuery = "") -> HTMLResponse:
    """The board's columns alone, fetched by the board's script when the stream says so."""
    where = views.scope(db, user, mer_id, store)
    return render(request, "ordering/console/_columns.html", **board_context(db, user, where))


@router.get("/console/merchant/{mer_id}/orders/stream")
def order_stream(request: Request, mer_id: str, user: CurrentUser, db: DbSession,
                 store: StoreQuery = "", order: Annotated[str, Query(max_length=40)] = "",
                 cursor: Annotated[str, Query(max_length=80)] = "",
                 seconds: Annotated[int, Query(ge=1, le=stream.MAX_SECONDS)]
                 = stream.MAX_SECONDS) -> StreamingResponse:
    """Server-sent events: one `orders` event per batch of this merchant's changed orders (or,
    with `order`, of that one order: its page follows it)."""
    where = views.scope(db, user, mer_id, store)
    start = request.headers.get("last-event-id", "")[:80] or cursor or _cursor(db, where)
    watch = stream.Watch(merchant_id=where.merchant.id,
                         store_id=where.store.id if where.store else None,
                         order_id=views.own_order(db, user, where, order).id if order else None)
    db.rollback()  # no transaction stays open while the stream lasts
    return StreamingResponse(
        stream.events(request.app.state.database, watch, start,
                      gone=request.is_disconnected, seconds=seconds),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


# --- scanner (before /orders/{ord}: "scan" is not an order id) ---------------------------------

def _scan_strings() -> dict[str, str]:
    _ = i18n.gettext
    return {"handed": _("Handed over"), "refused": _("Not handed over"),
            "camera_off": _("No camera here: use the scanner gun or type the code."),
            "waiting": _("Waiting for a code…"), "error": _("Something went wrong; try again."),
            "items": _("Give these items")}


@router.get("/console/merchant/{mer_id}/orders/scan", response_class=HTMLResponse)
def scan_page(request: Request, mer_id: str, user: CurrentUser, db: DbSession) -> HTMLResponse:
    where = views.scope(db, user, mer_id)
    return render(request, "ordering/console/scan.html", strings=_scan_strings(), result=None,
                  **card_context(where))


def _wants_json(request: Request) -> bool:
    return request.headers.get("x-requested-with") == "fetch"


def _order_json(order: Any, where: views.Scope) -> dict[str, Any]:
    return {
        "id": order.public_id, "number": order.pickup_number or "",
        "status": str(order.status),
        "status_label": i18n.gettext(board.STATUS_LABELS.get(str(order.status), "")),
        "kind_label": i18n.gettext(board.KIND_LABELS.get(str(order.kind), "")),
        "store": next((s.name for s in where.stores if s.id == order.store_id), ""),
        "lines": [{"name": line.product_name, "spec": line.spec or "",
                   "options": "、".join(f"{v}" for v in (line.options or {}).values()),
                   "quantity": line.quantity} for line in order.lines],
        "note": order.note or "",
    }


@router.post("/console/merchant/{mer_id}/orders/scan")
def scan_code(request: Request, mer_id: str, user: FormUser, db: DbSession,
              code: Annotated[str, Form(max_length=1000)] = "") -> Response:
    """The counter scanned (or typed) a resident's pickup code: hand the order over."""
    where = views.scope(db, user, mer_id)
    try:
        order = orders.hand_over(db, actor=user, merchant_id=mer_id, code=code.strip(),
                                 settings=request.app.state.settings)
    except TownsquareError as exc:
        db.rollback()
        text = exc.render(i18n.gettext)
        if _wants_json(request):
            return JSONResponse({"ok": False, "code": exc.code, "message": text},
                                status_code=exc.status)
        return render(request, "ordering/console/scan.html", status_code=exc.status,
                      strings=_scan_strings(), result=None, error=text, **card_context(where))
    if _wants_json(request):
        return JSONResponse({"ok": True, "order": _order_json(order, where)})
    return render(request, "ordering/console/scan.html", strings=_scan_strings(),
                  result=order, **card_context(where))


# --- one order ---------------------------------------------------------------------------------

def order_context(db: Session, user: User, where: views.Scope, ord_id: str) -> dict[str, Any]:
    order = views.own_order(db, user, where, ord_id)
    booked = delivery_link.delivery_of(db, order)
    return {**card_context(where), "order": order, "timeline": orders.timeline(order),
            "reasons": board.REJECT_REASONS, "cursor": _cursor(db, where),
            "delivery_id": booked.public_id if booked is not None else None}


@router.get("/console/merchant/{mer_id}/orders/{ord_id}", response_class=HTMLResponse)
def order_page(request: Request, mer_id: str, ord_id: str, user: CurrentUser,
               db: DbSession) -> HTMLResponse:
    where = views.scope(db, user, mer_id)
    return render(request, "ordering/console/order.html", flashes=flashes(request, DONE),
                  **order_context(db, user, where, ord_id))


def run(db: Session, user: User, ord_id: str, action: str, reason: str) -> Any:
    """Call the service behind a button (each checks permission and the status itself)."""
    if action == "accept":
        return orders.accept(db, actor=user, order_id=ord_id)
    if action == "reject":
        return orders.reject(db, actor=user, order_id=ord_id, reason=reason)
    if action == "start":
        return orders.start(db, actor=user, order_id=ord_id)
    if action == "ready":
        return orders.ready(db, actor=user, order_id=ord_id)
    if action == "dispatch":
        return orders.dispatch(db, actor=user, order_id=ord_id)
    if action == "delivered":
        return orders.delivered(db, actor=user, order_id=ord_id)
    if action == "cancel":
        return orders.cancel_by_merchant(db, actor=user, order_id=ord_id, reason=reason)
    raise NotFound("No such action.")


@router.post("/console/merchant/{mer_id}/orders/{ord_id}/{action}")
def order_action(request: Request, mer_id: str, ord_id: str, action: str, user: FormUser,
                 db: DbSession, reason: Text = "", custom_reason: Text = "",
                 next: Text = "") -> Response:
    where = views.scope(db, user, mer_id)
    views.own_order(db, user, where, ord_id)
    if action not in board.ACTIONS:
        raise NotFound("No such action.")
    try:
        run(db, user, ord_id, action, (custom_reason.strip() or reason.strip())[:200])
    except TownsquareError as exc:
        db.rollback()
        text = exc.render(i18n.gettext)
        if _wants_json(request):
            return JSONResponse({"ok": False, "code": exc.code, "message": text},
                                status_code=exc.status)
        return render(request, "ordering/console/order.html", status_code=exc.status,
                      error=text, **order_context(db, user, where, ord_id))
    if _wants_json(request):
        return Response(status_code=204)
    default = f"{_base(mer_id)}/orders/{ord_id}"
    back = safe_next(next, default)
    return see_other(back + ("&" if "?" in back else "?") + f"ok={action}")


@router.get("/console/merchant/{mer_id}/orders/{ord_id}/ticket", response_class=HTMLResponse)
def ticket(request: Request, mer_id: str, ord_id: str, user: CurrentUser, db: DbSession,
           width: Annotated[int, Query()] = 80) -> HTMLResponse:
    """The printable ticket: 58 or 80 mm receipt paper."""
    where = views.scope(db, user, mer_id)
    order = views.own_order(db, user, where, ord_id)
    return render(request, "ordering/console/ticket.html", order=order,
                  width=58 if width == 58 else 80, printed=clock.now(), **card_context(where))


# --- kitchen -----------------------------------------------------------------------------------

def kitchen_context(db: Session, user: User, where: views.Scope) -> dict[str, Any]:
    return {**card_context(where), "slots": views.kitchen_slots(db, user, where)}


@router.get("/console/merchant/{mer_id}/kitchen", response_class=HTMLResponse)
def kitchen(request: Request, mer_id: str, user: CurrentUser, db: DbSession,
            store: StoreQuery = "") -> HTMLResponse:
    """The kitchen display: what to cook, by slot, in big type; it follows the stream."""
    where = views.scope(db, user, mer_id, store)
    return render(request, "ordering/console/kitchen.html", cursor=_cursor(db, where),
                  **kitchen_context(db, user, where))


@router.get("/console/merchant/{mer_id}/kitchen/slots", response_class=HTMLResponse)
def kitchen_slots(request: Request, mer_id: str, user: CurrentUser, db: DbSession,
                  store: StoreQuery = "") -> HTMLResponse:
    where = views.scope(db, user, mer_id, store)
    return render(request, "ordering/console/_kitchen_slots.html",
                  **kitchen_context(db, user, where))


# --- sales -------------------------------------------------------------------------------------

def sales_charts(result: sales.Sales) -> dict[str, Markup]:
    """Takings and orders per day, and the best-selling products (named axes, with units)."""
    _ = i18n.gettext
    days = [d.day for d in result.days]
    by_day = charts.bars(
        charts.day_labels(days), [charts.Series(_("Takings"), [d.takings_fen / 100
                                                               for d in result.days])],
        x_name=_("Day"), y_name=charts.axis_name(_("Takings"), _("yuan")),
        label=_("Takings by day"), table_labels=charts.day_labels(days, long=True),
        chart_id="sales-by-day")
    orders_by_day = charts.lines(
        charts.day_labels(days), [charts.Series(_("Orders"), [d.orders for d in result.days])],
        x_name=_("Day"), y_name=charts.axis_name(_("Orders"), _("orders")),
        label=_("Orders by day"), chart_id="orders-by-day", whole=True)
    names = [p.name for p in result.products]
    by_product = charts.bars(
        names, [charts.Series(_("Takings"), [p.takings_fen / 100 for p in result.products])],
        x_name=_("Product"), y_name=charts.axis_name(_("Takings"), _("yuan")),
        label=_("Takings by product"), horizontal=True, chart_id="sales-by-product")
    return {"by_day": by_day, "orders_by_day": orders_by_day, "by_product": by_product}


@router.get("/console/merchant/{mer_id}/sales", response_class=HTMLResponse)
def sales_page(request: Request, mer_id: str, user: CurrentUser, db: DbSession,
               store: StoreQuery = "", days: Annotated[int, Query()] = 30) -> HTMLResponse:
    """Sales charts by day and by product over the last 7, 14, 30 or 90 days."""
    where = views.scope(db, user, mer_id, store)
    days = days if days in sales.PERIODS else 30
    result = sales.sales(db, merchant_id=where.merchant.id,
                         store_id=where.store.id if where.store else None,
                         last_day=where.today(), days=days, zone=where.zone)
    return render(request, "ordering/console/sales.html", result=result, days=days,
                  periods=sales.PERIODS, charts_html=sales_charts(result),
                  **card_context(where))
