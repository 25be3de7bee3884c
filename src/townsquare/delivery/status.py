"""The normalised delivery statuses every adapter maps its provider's statuses to, and the order
of progress that keeps a late or repeated webhook from moving a delivery backwards."""

from __future__ import annotations

import enum


class DeliveryStatus(enum.StrEnum):
    QUOTED = "quoted"
    CREATED = "created"
    ASSIGNED = "assigned"
    AT_PICKUP = "at_pickup"
    PICKED_UP = "picked_up"
    AT_DROPOFF = "at_dropoff"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    RETURNING = "returning"
    RETURNED = "returned"
    REJECTED = "rejected"


TERMINAL: frozenset[DeliveryStatus] = frozenset(
    {DeliveryStatus.DELIVERED, DeliveryStatus.CANCELLED, DeliveryStatus.RETURNED,
     DeliveryStatus.REJECTED}
)

# Progress: a status may follow another only with a higher rank. Every terminal status outranks
# every open one (a cancellation or a rejection may come at any point before the end), and
# nothing follows a terminal status. `returning` comes after the courier reached the door (or
# after pickup, when the provider gives up) and leads to `returned`.
RANK: dict[DeliveryStatus, int] = {
    DeliveryStatus.QUOTED: 0,
    DeliveryStatus.CREATED: 10,
    DeliveryStatus.ASSIGNED: 20,
    DeliveryStatus.AT_PICKUP: 30,
    DeliveryStatus.PICKED_UP: 40,
    DeliveryStatus.AT_DROPOFF: 50,
    DeliveryStatus.RETURNING: 60,
    DeliveryStatus.DELIVERED: 100,
    DeliveryStatus.CANCELLED: 100,
    DeliveryStatus.RETURNED: 100,
    DeliveryStatus.REJECTED: 100,
}


def is_terminal(status: DeliveryStatus | str) -> bool:
    return DeliveryStatus(status) in TERMINAL


def advances(old: DeliveryStatus | str, new: DeliveryStatus | str) -> bool:
    """True if a delivery at `old` may move to `new`: never out of a terminal status, never to
    the same or an earlier one."""
    old, new = DeliveryStatus(old), DeliveryStatus(new)
    if old in TERMINAL:
        return False
    return RANK[new] > RANK[old]


__all__ = ["RANK", "TERMINAL", "DeliveryStatus", "advances", "is_terminal"]
