"""Words for an order's status, kind, who cancelled and why, and complaint categories, for the
pages (English msgids, translated when shown: `gettext(STATUS_LABELS[order.status])`)."""

from __future__ import annotations

from townsquare.core.i18n import N_, gettext
from townsquare.ordering.orders.models import OrderStatus
from townsquare.ordering.slots.models import Kind

S = OrderStatus
STATUS_LABELS = {
    S.CREATED: N_("Awaiting payment"), S.PAID: N_("Paid, waiting for the shop"),
    S.ACCEPTED: N_("Accepted"), S.PREPARING: N_("Being prepared"), S.READY: N_("Ready"),
    S.PICKED_UP: N_("Picked up"), S.OUT_FOR_DELIVERY: N_("Out for delivery"),
    S.DELIVERED: N_("Delivered"), S.COMPLETED: N_("Completed"), S.CANCELLED: N_("Cancelled"),
    S.REJECTED: N_("Declined by the shop"),
}
KIND_LABELS = {
    Kind.PICKUP: N_("Store pickup"), Kind.DELIVERY: N_("Home delivery"),
    Kind.DINE_IN: N_("Dine-in pre-order"), Kind.COMMUNITY: N_("Community pickup point"),
}
CANCELLED_BY_LABELS = {"user": N_("Cancelled by you"), "merchant": N_("Cancelled by the shop"),
                       "system": N_("Cancelled automatically")}
# the reasons the system gives (people's own reasons are shown as they typed them)
REASON_LABELS = {
    "unpaid": N_("Not paid in time"),
    "hold_expired": N_("Paid after the order had expired; the payment was refunded"),
    "not_accepted": N_("The shop did not accept in time; the payment was refunded"),
    "refunded": N_("The payment was refunded"),
    "auto_accept": N_("Accepted automatically"),
}
COMPLAINT_LABELS = {
    "quality": N_("Product quality"), "delivery": N_("Delivery"),
    "service": N_("Service attitude"), "price": N_("Price"), "hygiene": N_("Hygiene"),
}


def status_label(status: OrderStatus | str) -> str:
    return gettext(STATUS_LABELS[S(status)])


def reason_label(reason: str) -> str:
    return gettext(REASON_LABELS[reason]) if reason in REASON_LABELS else reason
