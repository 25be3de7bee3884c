"""Words for statuses, providers, policies and log lines, translated when shown."""

from __future__ import annotations

from typing import Any

from townsquare.core import i18n
from townsquare.core.i18n import N_
from townsquare.delivery.models import DeliveryEvent

STATUS = {
    "quoted": N_("Finding a courier"), "created": N_("Booked, waiting for a courier"),
    "assigned": N_("Courier assigned"), "at_pickup": N_("Courier at the shop"),
    "picked_up": N_("On the way"), "at_dropoff": N_("Courier at your door"),
    "delivered": N_("Delivered"), "cancelled": N_("Cancelled"), "returning": N_("Returning"),
    "returned": N_("Returned to the shop"), "rejected": N_("No courier available"),
}
PROVIDER = {"self": N_("Shop's own rider"), "doordash": "DoorDash", "uber": "Uber Direct",
            "dada": N_("Dada"), "open_delivery": "Open Delivery"}
POLICY = {"cheapest": N_("Cheapest"), "fastest": N_("Fastest"),
          "cheapest_in_time": N_("Cheapest within the promised time")}
REASON = {"self_first": N_("own rider first"), "cheapest": N_("cheapest"),
          "fastest": N_("fastest"), "in_time": N_("cheapest in time"),
          "late": N_("none in time: earliest")}


def status(value: Any) -> str:
    key = getattr(value, "value", value) or ""
    return i18n.gettext(STATUS.get(str(key), str(key)))


def provider(value: str | None) -> str:
    if not value:
        return ""
    return i18n.gettext(PROVIDER.get(value, value))


def event_text(event: DeliveryEvent) -> str:
    """One log line in the reader's language."""
    params = dict(event.params or {})
    params.setdefault("provider", event.provider or "")
    params["provider"] = provider(str(params["provider"]))
    if event.status is not None:
        params["status"] = status(event.status)
    if "reason" in params and params["reason"] in REASON:
        params["reason"] = i18n.gettext(REASON[params["reason"]])
    try:
        return i18n.gettext(event.message).format(**params)
    except (KeyError, IndexError, ValueError):
        return event.message
