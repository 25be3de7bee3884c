"""What the resident's ordering pages show, in the resident's words: the menu grouped by
category, an order's status line and its timeline (the steps taken, with times, then the steps
still to come), the slots of a day, the complaint categories. Plain data for the templates."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from townsquare.core.i18n import N_
from townsquare.ordering.catalog.menu import MenuItem
from townsquare.ordering.orders import labels
from townsquare.ordering.orders.models import ENDED, Order, OrderStatus
from townsquare.ordering.slots.models import Kind

# The resident's words for each status (the console has its own).
STATUS_LABELS = {
    OrderStatus.CREATED: N_("Awaiting payment"),
    OrderStatus.PAID: N_("Waiting for the shop to accept"),
    OrderStatus.ACCEPTED: N_("Accepted by the shop"),
    OrderStatus.PREPARING: N_("Being prepared"),
    OrderStatus.READY: N_("Ready to collect"),
    OrderStatus.PICKED_UP: N_("Picked up"),
    OrderStatus.OUT_FOR_DELIVERY: N_("On the way"),
    OrderStatus.DELIVERED: N_("Delivered to you"),
    OrderStatus.COMPLETED: N_("Completed"),
    OrderStatus.CANCELLED: N_("Cancelled"),
    OrderStatus.REJECTED: N_("Declined by the shop"),
}
# A timeline's steps: what happened (the status line above says where the order stands).
STEP_LABELS = {
    OrderStatus.CREATED: N_("Order placed"),
    OrderStatus.PAID: N_("Paid"),
    OrderStatus.ACCEPTED: N_("Accepted by the shop"),
    OrderStatus.PREPARING: N_("Being prepared"),
    OrderStatus.READY: N_("Ready for you"),
    OrderStatus.PICKED_UP: N_("Picked up"),
    OrderStatus.OUT_FOR_DELIVERY: N_("The rider set off"),
    OrderStatus.DELIVERED: N_("Delivered to you"),
    OrderStatus.COMPLETED: N_("Completed"),
    OrderStatus.CANCELLED: N_("Cancelled"),
    OrderStatus.REJECTED: N_("Declined by the shop"),
}
# What to do now, per status (and kind where it differs).
STATUS_HINTS = {
    OrderStatus.CREATED: N_("Pay within 15 minutes, or the order is cancelled."),
    OrderStatus.PAID: N_("Paid. The shop will accept your order shortly."),
    OrderStatus.ACCEPTED: N_("The shop has your order and will start on it."),
    OrderStatus.PREPARING: N_("The shop is preparing your order."),
    OrderStatus.OUT_FOR_DELIVERY: N_("Your order is on its way."),
    OrderStatus.DELIVERED: N_("Delivered. Enjoy, and tell others how it was."),
    OrderStatus.PICKED_UP: N_("Picked up. Enjoy, and tell others how it was."),
    OrderStatus.COMPLETED: N_("Completed. Thank you!"),
    OrderStatus.CANCELLED: N_("Cancelled. Anything you paid is refunded to where it came from."),
    OrderStatus.REJECTED: N_("The shop could not take this order; your payment is refunded."),
}
READY_HINTS = {
    Kind.PICKUP: N_("Ready: show the pickup number or the code at the counter."),
    Kind.DINE_IN: N_("Ready: show the pickup number or the code at the counter."),
    Kind.COMMUNITY: N_("Ready at the pickup point: show the number or the code."),
    Kind.DELIVERY: N_("Ready; the rider will set off soon."),
}
KIND_WORDS = {
    Kind.PICKUP: N_("Store pickup"),
    Kind.DELIVERY: N_("Delivery"),
    Kind.DINE_IN: N_("Dine in"),
    Kind.COMMUNITY: N_("Community pickup point"),
}
KIND_HINTS = {
    Kind.PICKUP: N_("Collect it at the store at the time you choose, without queueing."),
    Kind.DELIVERY: N_("Brought to your door by the shop's rider."),
    Kind.DINE_IN: N_("Your table's food is ready when you arrive."),
    Kind.COMMUNITY: N_("Order by the cut-off, collect at a point in your community next day."),
}
CANCELLED_BY = labels.CANCELLED_BY_LABELS
COMPLAINTS = {
    "quality": N_("Product quality"), "delivery": N_("Delivery"),
    "service": N_("Service attitude"), "price": N_("Price"), "hygiene": N_("Hygiene"),
}
_HANDED = (OrderStatus.PICKED_UP, OrderStatus.DELIVERED, OrderStatus.COMPLETED)
CANCELLABLE = frozenset((OrderStatus.CREATED, OrderStatus.PAID))
RATEABLE = frozenset(_HANDED)
SHOW_CODE = frozenset((OrderStatus.PAID, OrderStatus.ACCEPTED, OrderStatus.PREPARING,
                       OrderStatus.READY))


def path_of(kind: Kind) -> tuple[OrderStatus, ...]:
    """The steps an order of this kind goes through when all goes well."""
    last = ((OrderStatus.OUT_FOR_DELIVERY, OrderStatus.DELIVERED) if kind is Kind.DELIVERY
            else (OrderStatus.PICKED_UP,))
    return (OrderStatus.CREATED, OrderStatus.PAID, OrderStatus.ACCEPTED, OrderStatus.PREPARING,
            OrderStatus.READY, *last, OrderStatus.COMPLETED)


@dataclass(frozen=True)
class Step:
    status: OrderStatus
    label: str  # msgid
    at: datetime | None  # None: still to come
    state: str  # "done", "current" or "todo"
    note: str = ""


def timeline(order: Order, events: Sequence[Any]) -> list[Step]:
    """The steps taken (from the order's events, oldest first), then those still to come."""
    steps: list[Step] = []
    for event in events:
        steps.append(Step(event.status, STEP_LABELS[event.status], event.at, "done",
                          getattr(event, "note", "") or ""))
    if not steps:
        steps.append(Step(order.status, STEP_LABELS[order.status], order.created_at, "done"))
    if steps:
        steps[-1] = Step(steps[-1].status, steps[-1].label, steps[-1].at, "current",
                         steps[-1].note)
    if order.status in ENDED:
        return steps
    path = path_of(order.kind)
    reached = {step.status for step in steps}
    try:
        after = path.index(order.status) + 1
    except ValueError:
        return steps
    for status in path[after:]:
        if status is OrderStatus.PREPARING and OrderStatus.READY in reached:
            continue
        if status not in reached:
            steps.append(Step(status, STEP_LABELS[status], None, "todo"))
    return steps


@dataclass(frozen=True)
class MenuSection:
    anchor: str
    name: str
    items: list[MenuItem]


def sections(items: Iterable[MenuItem]) -> list[MenuSection]:
    """The menu by category, in the catalog's order (items without one last, as "More")."""
    groups: dict[str, list[MenuItem]] = {}
    for item in items:
        groups.setdefault(item.category, []).append(item)
    ordered = [name for name in groups if name] + ([""] if "" in groups else [])
    return [MenuSection(f"cat-{n}", name or N_("More"), groups[name])
            for n, name in enumerate(ordered, 1)]


@dataclass(frozen=True)
class SlotDay:
    day: str  # the local date, ISO
    offset: int  # days from today (0 today, 1 tomorrow)
    first: datetime  # the day's first slot (to show the date in the page's language)
    starts: list[tuple[str, str, int | None]]  # (value: UTC ISO, local "HH:MM", places left)


def slot_days(starts: Iterable[tuple[datetime, int | None]], zone: str,
              now: datetime) -> list[SlotDay]:
    """Offered slot starts grouped by the store's local day."""
    local = ZoneInfo(zone)
    today = now.astimezone(local).date()
    days: dict[str, tuple[datetime, list[tuple[str, str, int | None]]]] = {}
    for start, left in starts:
        here = start.astimezone(local)
        first, values = days.setdefault(here.date().isoformat(), (start, []))
        values.append((start.isoformat(), here.strftime("%H:%M"), left))
    return [SlotDay(day, (first.astimezone(local).date() - today).days, first, values)
            for day, (first, values) in days.items()]


def options_text(options: dict[str, Any] | None) -> str:
    return " · ".join(f"{name}: {value}" for name, value in (options or {}).items())


def version(order: Order) -> str:
    """Changes whenever the order does: what the live page compares."""
    return f"{order.status.value}:{order.updated_at.isoformat()}"
