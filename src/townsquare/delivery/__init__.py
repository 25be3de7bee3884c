"""Delivery capacity: one interface over the shop's own riders and several courier providers
(docs/delivery.md). Ordering and the gateway call this door; nothing here imports ordering."""

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
from townsquare.delivery.status import RANK, TERMINAL, DeliveryStatus, advances, is_terminal

__all__ = [
    "RANK", "TERMINAL", "Adapter", "BadSignature", "DeliveryStatus", "DeliveryUnknown",
    "DuplicateDelivery", "NotCancellable", "Parcel", "Place", "ProviderDelivery", "ProviderError",
    "ProviderQuote", "ProviderRejected", "ProviderTimeout", "QuoteExpired", "WebhookEvent",
    "advances", "is_terminal",
]
