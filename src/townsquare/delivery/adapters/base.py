"""The delivery-capacity interface: what Townsquare hands a provider (`Parcel`), what comes back
(`ProviderQuote`, `ProviderDelivery`, `WebhookEvent`), the errors that drive failover, and the
`Adapter` protocol each provider implements (the shop's own riders, DoorDash Drive, Uber Direct,
Dada, Open Delivery). See docs/delivery.md for how to write one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from townsquare.core.errors import TownsquareError
from townsquare.delivery.status import DeliveryStatus


@dataclass(frozen=True)
class Place:
    name: str
    phone: str
    address: str
    lat: float
    lng: float


@dataclass(frozen=True)
class Parcel:
    delivery_id: str  # ours, dlv_…: the provider's idempotency key
    pickup: Place
    dropoff: Place
    value_fen: int
    items: list[str]
    pickup_ready_at: datetime
    dropoff_code: str  # the resident's delivery code, shown to the courier at the door


@dataclass(frozen=True)
class ProviderQuote:
    provider: str
    quote_id: str
    fee_fen: int
    pickup_eta: datetime
    dropoff_eta: datetime
    expires_at: datetime


@dataclass(frozen=True)
class ProviderDelivery:
    provider: str
    external_id: str
    status: DeliveryStatus
    fee_fen: int | None
    courier_name: str
    courier_phone: str
    courier_lat: float | None
    courier_lng: float | None
    tracking_url: str
    pickup_eta: datetime | None
    dropoff_eta: datetime | None


@dataclass(frozen=True)
class WebhookEvent:
    provider: str
    event_id: str
    delivery_id: str  # ours
    status: DeliveryStatus
    occurred_at: datetime
    delivery: ProviderDelivery | None


class ProviderError(TownsquareError):
    """The provider failed this call: try elsewhere."""

    code = "provider_error"
    status = 502


class ProviderTimeout(ProviderError):
    """No answer in time: the call may or may not have happened, so look up by our id first."""

    code = "provider_timeout"
    status = 504


class ProviderRejected(ProviderError):
    """The provider refused this parcel (out of its area, too heavy, no courier …)."""

    code = "provider_rejected"
    status = 422


class QuoteExpired(ProviderError):
    code = "quote_expired"
    status = 409


class DuplicateDelivery(ProviderError):
    """A create with a delivery id the provider already has: `get` it instead."""

    code = "duplicate_delivery"
    status = 409


class DeliveryUnknown(ProviderError):
    """`get` or `cancel` of a delivery id the provider has never seen (a create that timed out
    and never arrived): the only answer that lets dispatch book another provider after a
    timeout. Any other error from `get` leaves the booking unresolved (never two couriers)."""

    code = "provider_unknown_delivery"
    status = 404


class NotCancellable(ProviderError):
    code = "not_cancellable"
    status = 409


class BadSignature(TownsquareError):
    """A webhook whose signature does not verify over the raw body."""

    code = "bad_signature"
    status = 401


@runtime_checkable
class Adapter(Protocol):
    name: str  # "self", "doordash", "uber", "dada", "open_delivery"

    def quote(self, parcel: Parcel) -> ProviderQuote: ...

    def create(self, parcel: Parcel, quote: ProviderQuote | None) -> ProviderDelivery: ...

    def get(self, delivery_id: str) -> ProviderDelivery: ...  # by OUR id (lookup after timeout)

    def cancel(self, delivery_id: str, reason: str) -> ProviderDelivery: ...

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        """Verify the signature over the raw body (BadSignature) and map the statuses."""
        ...


__all__ = [
    "Adapter", "BadSignature", "DeliveryUnknown", "DuplicateDelivery", "NotCancellable", "Parcel",
    "Place", "ProviderDelivery", "ProviderError", "ProviderQuote", "ProviderRejected",
    "ProviderTimeout", "QuoteExpired", "WebhookEvent",
]
