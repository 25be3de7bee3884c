"""Delivery capacity: one interface over the shop's own riders and several courier providers
(docs/delivery.md). Ordering and the gateway call this door; nothing here imports ordering.

The door: `request` (ask once, idempotent; booked when the transaction commits), `quote`
(ranked quotes, books nothing), `get`, `track` (positions and times), `cancel`, `by_source`
(the delivery of an order), `dropoff_code` (the resident's code), `timeline` (the log), and the
hook `delivery_changed` that announces every status change (ordering listens)."""

from townsquare.delivery.adapters.base import (
    Adapter,
    BadSignature,
    DeliveryUnknown,
    DuplicateDelivery,
    NotCancellable,
    Parcel,
    Place,
    ProviderDelivery,
    ProviderError,
    ProviderQuote,
    ProviderRejected,
    ProviderTimeout,
    QuoteExpired,
    WebhookEvent,
)
from townsquare.delivery.dispatch import cancel, quote
from townsquare.delivery.models import Delivery, DeliveryEvent, Policy, SourceKind
from townsquare.delivery.service import (
    DeliveryChanged,
    by_source,
    delivery_changed,
    dropoff_code,
    get,
    request,
    timeline,
    track,
)
from townsquare.delivery.status import RANK, TERMINAL, DeliveryStatus, advances, is_terminal

__all__ = [
    "Adapter", "BadSignature", "Delivery", "DeliveryChanged", "DeliveryEvent", "DeliveryStatus",
    "DeliveryUnknown", "DuplicateDelivery", "NotCancellable", "Parcel", "Place", "Policy",
    "ProviderDelivery", "ProviderError", "ProviderQuote", "ProviderRejected", "ProviderTimeout",
    "QuoteExpired", "RANK", "SourceKind", "TERMINAL", "WebhookEvent", "advances", "by_source",
    "cancel", "delivery_changed", "dropoff_code", "get", "is_terminal", "quote", "request",
    "timeline", "track",
]
