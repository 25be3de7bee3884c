"""What the order console shows for each status, pure: the board's columns, the buttons an
order offers the merchant in its status and kind of fulfilment, and the labels of both.

The services decide what is allowed (`orders.OrderStateError` on an illegal step); this table
only chooses which buttons to show, so a stale page that posts an old button gets the service's
clear refusal, not a silent change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from townsquare.core.i18n import N_


@dataclass(frozen=True)
class Column:
    key: str
    label: str  # English msgid
    statuses: tuple[str, ...]


COLUMNS: tuple[Column, ...] = (
    Column("new", N_("New · to accept"), ("paid",)),
    Column("preparing", N_("Preparing"), ("accepted", "preparing")),
    Column("ready", N_("Ready"), ("ready",)),
    Column("delivering", N_("Out for delivery"), ("out_for_delivery",)),
    Column("done", N_("Done today"),
           ("picked_up", "delivered", "completed", "cancelled", "rejected")),
)
ACTIVE = tuple(s for c in COLUMNS[:-1] for s in c.statuses)
DONE = COLUMNS[-1].statuses
# The kitchen cooks what is accepted and not yet ready.
KITCHEN = ("accepted", "preparing")

STATUS_LABELS = {
    "created": N_("Awaiting payment"),
    "paid": N_("New order"),
    "accepted": N_("Accepted"),
    "preparing": N_("Preparing"),
    "ready": N_("Ready"),
    "picked_up": N_("Picked up"),
    "out_for_delivery": N_("Out for delivery"),
    "delivered": N_("Delivered"),
    "completed": N_("Completed"),
    "cancelled": N_("Cancelled"),
    "rejected": N_("Rejected by the shop"),
}
KIND_LABELS = {
    "pickup": N_("Store pickup"),
    "delivery": N_("Delivery"),
    "dine_in": N_("Dine-in"),
    "community": N_("Community pickup point"),
}
CANCELLED_BY = {"user": N_("by the resident"), "merchant": N_("by the shop"),
                "system": N_("by the platform")}


@dataclass(frozen=True)
class Action:
    key: str  # the last part of the POST path, and the service's function
    label: str  # English msgid
    style: str = ""  # a button class: "" (primary), "secondary", "danger"
    needs_reason: bool = False


ACTIONS = {
    "accept": Action("accept", N_("Accept")),
    "reject": Action("reject", N_("Reject order"), "danger", needs_reason=True),
    "start": Action("start", N_("Start preparing"), "secondary"),
    "ready": Action("ready", N_("Mark ready")),
    "dispatch": Action("dispatch", N_("Send with own rider")),
    "delivered": Action("delivered", N_("Delivered")),
    "cancel": Action("cancel", N_("Cancel and refund"), "danger", needs_reason=True),
}
# Reasons a shop usually gives when it refuses or cancels an order (it may type its own).
REJECT_REASONS = (N_("Sold out"), N_("Too busy right now"), N_("Closing soon"),
                  N_("Outside our delivery area"))


def column_of(status: str) -> str | None:
    """The board column of a status (None: not on the board, e.g. awaiting payment)."""
    return next((c.key for c in COLUMNS if status in c.statuses), None)


def actions_for(status: str, kind: str) -> list[Action]:
    """The buttons an order shows in its status: what the merchant may do next."""
    keys: tuple[str, ...] = {
        "paid": ("accept", "reject"),
        "accepted": ("start", "ready", "cancel"),
        "preparing": ("ready", "cancel"),
        "ready": ("dispatch",) if kind == "delivery" else (),
        "out_for_delivery": ("delivered",),
    }.get(status, ())
    return [ACTIONS[k] for k in keys]


def awaits_scan(status: str, kind: str) -> bool:
    """A ready order the resident collects: it leaves the board when the counter scans its code."""
    return status == "ready" and kind != "delivery"


def day_bounds(day: date, zone: str) -> tuple[datetime, datetime]:
    """A local day as a half-open UTC-aware interval [start, next start)."""
    tz = ZoneInfo(zone)
    start = datetime.combine(day, time(), tzinfo=tz)
    return start, datetime.combine(day + timedelta(days=1), time(), tzinfo=tz)


def minutes_waiting(since: datetime | None, now: datetime) -> int | None:
    """Whole minutes since `since` (a paid order's wait for acceptance)."""
    if since is None:
        return None
    return max(0, int((now - since).total_seconds() // 60))
