"""DoorDash Drive v2 (developer.doordash.com/en-US/docs/drive/): the adapter.

- Auth: a JWT per call window, HS256 over the base64url-decoded signing secret, header
  `{"alg": "HS256", "typ": "JWT", "dd-ver": "DD-JWT-V1"}`, claims `aud=doordash`,
  `iss=developer_id`, `kid=key_id`, `iat`, `exp` = iat + 5 minutes.
- Our delivery id is Drive's `external_delivery_id`: quotes (`POST /drive/v2/quotes`, accepted
  within 5 minutes by `POST /drive/v2/quotes/{id}/accept`), deliveries (`POST
  /drive/v2/deliveries`, 409 `duplicate_delivery_id` on a repeat), `GET /drive/v2/deliveries/{id}`,
  `PUT /drive/v2/deliveries/{id}/cancel` (409 once the Dasher has the parcel).
- Amounts in cents; Townsquare's demo account is in CNY, so a cent is a fen.
- Webhooks: Drive authenticates them with the Authorization header the developer configured
  for the endpoint (Basic or a token); `parse_webhook` compares it in constant time. Drive sends
  no event id: ours is a hash of (external_delivery_id, event_name, created_at), the same for a
  repeated delivery of one event.

Settings: TOWNSQUARE_DELIVERY_DOORDASH_URL, _ACCOUNT (developer_id), _KEY_ID (key_id), _SECRET
(signing_secret, base64url), _WEBHOOK_SECRET (the webhook endpoint's Authorization value)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from townsquare.core.i18n import N_
from townsquare.core.settings import Settings
from townsquare.delivery.adapters._http import (
    ProviderHttp,
    event_id,
    failed,
    iso,
    json_or_empty,
    lower_headers,
    not_found,
    parse_time,
)
from townsquare.delivery.adapters.base import (
    BadSignature,
    DuplicateDelivery,
    NotCancellable,
    Parcel,
    ProviderDelivery,
    ProviderError,
    ProviderQuote,
    ProviderRejected,
    QuoteExpired,
    WebhookEvent,
)
from townsquare.delivery.status import DeliveryStatus

NAME = "doordash"
QUOTE_TTL = timedelta(minutes=5)
JWT_TTL_S = 300

STATUSES: dict[str, DeliveryStatus] = {
    "quote": DeliveryStatus.QUOTED,
    "created": DeliveryStatus.CREATED,
    "confirmed": DeliveryStatus.ASSIGNED,
    "enroute_to_pickup": DeliveryStatus.ASSIGNED,
    "arrived_at_pickup": DeliveryStatus.AT_PICKUP,
    "picked_up": DeliveryStatus.PICKED_UP,
    "enroute_to_dropoff": DeliveryStatus.PICKED_UP,
    "arrived_at_dropoff": DeliveryStatus.AT_DROPOFF,
    "delivered": DeliveryStatus.DELIVERED,
    "cancelled": DeliveryStatus.CANCELLED,
    "enroute_to_return": DeliveryStatus.RETURNING,
    "returned": DeliveryStatus.RETURNED,
}
EVENTS: dict[str, DeliveryStatus] = {
    "DASHER_CONFIRMED": DeliveryStatus.ASSIGNED,
    "DASHER_CONFIRMED_PICKUP_ARRIVAL": DeliveryStatus.AT_PICKUP,
    "DASHER_PICKED_UP": DeliveryStatus.PICKED_UP,
    "DASHER_CONFIRMED_DROPOFF_ARRIVAL": DeliveryStatus.AT_DROPOFF,
    "DASHER_DROPPED_OFF": DeliveryStatus.DELIVERED,
    "DELIVERY_CANCELLED": DeliveryStatus.CANCELLED,
    "DELIVERY_RETURN_INITIALIZED": DeliveryStatus.RETURNING,
    "DASHER_CONFIRMED_RETURN_ARRIVAL": DeliveryStatus.RETURNING,
    "DELIVERY_RETURNED": DeliveryStatus.RETURNED,
}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_jwt(developer_id: str, key_id: str, signing_secret: str, now: float | None = None) -> str:
    """Drive's JWT: HS256 over the decoded signing secret, valid five minutes."""
    issued = int(now if now is not None else time.time())
    header = {"alg": "HS256", "typ": "JWT", "dd-ver": "DD-JWT-V1"}
    claims = {"aud": "doordash", "iss": developer_id, "kid": key_id,
              "exp": issued + JWT_TTL_S, "iat": issued}
    signing_input = (_b64url(json.dumps(header, separators=(",", ":")).encode()) + "."
                     + _b64url(json.dumps(claims, separators=(",", ":")).encode()))
    signature = hmac.new(_b64url_decode(signing_secret), signing_input.encode(),
                         hashlib.sha256).digest()
    return signing_input + "." + _b64url(signature)


class DoorDashAdapter:
    name = NAME

    def __init__(self, base_url: str, *, developer_id: str, key_id: str, signing_secret: str,
                 webhook_auth: str, timeout_s: float = 5.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.http = ProviderHttp(NAME, base_url, timeout_s, transport)
        self.developer_id = developer_id
        self.key_id = key_id
        self.signing_secret = signing_secret
        self.webhook_auth = webhook_auth
        self._token = ""
        self._token_until = 0.0
        self._lock = threading.Lock()

    # -- calls ------------------------------------------------------------------------------

    def _auth(self) -> dict[str, str]:
        with self._lock:
            now = time.time()
            if now >= self._token_until:  # re-sign a minute before the five are up
                self._token = make_jwt(self.developer_id, self.key_id, self.signing_secret, now)
                self._token_until = now + JWT_TTL_S - 60
            return {"Authorization": f"Bearer {self._token}"}

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None
              ) -> tuple[int, dict[str, Any]]:
        response = self.http.request(method, path, json=body, headers=self._auth())
        data = json_or_empty(response)
        if response.status_code >= 500 or response.status_code == 429:
            raise failed(NAME, f"{response.status_code} {data.get('code', '')}")
        if response.status_code in (401, 403):
            raise ProviderError(N_("{provider} refused our credentials."), provider=NAME,
                                code="provider_auth")
        return response.status_code, data

    @staticmethod
    def _body(parcel: Parcel) -> dict[str, Any]:
        items = [{"name": item, "quantity": 1} for item in parcel.items]
        return {
            "external_delivery_id": parcel.delivery_id,
            "pickup_address": parcel.pickup.address,
            "pickup_business_name": parcel.pickup.name,
            "pickup_phone_number": parcel.pickup.phone,
            "pickup_location": {"lat": parcel.pickup.lat, "lng": parcel.pickup.lng},
            "pickup_reference_tag": parcel.delivery_id,
            "dropoff_address": parcel.dropoff.address,
            "dropoff_contact_given_name": parcel.dropoff.name,
            "dropoff_phone_number": parcel.dropoff.phone,
            "dropoff_location": {"lat": parcel.dropoff.lat, "lng": parcel.dropoff.lng},
            "dropoff_instructions": f"Delivery code / 收货码: {parcel.dropoff_code}",
            "order_value": parcel.value_fen,
            "currency": "CNY",
            "items": items,
            "pickup_time": iso(parcel.pickup_ready_at),
        }

    def _raise_for(self, status: int, data: dict[str, Any], *, creating: bool = False) -> None:
        code = str(data.get("code", ""))
        message = str(data.get("message", ""))
        if status == 409 and creating and code == "duplicate_delivery_id":
            raise DuplicateDelivery(N_("{provider} already has this delivery."), provider=NAME)
        if status == 422:
            raise ProviderRejected(N_("{provider} refused the delivery: {detail}"),
                                   provider=NAME, detail=message[:200])
        if status == 404:
            raise not_found(NAME)
        raise failed(NAME, f"{status} {code} {message}")

    def quote(self, parcel: Parcel) -> ProviderQuote:
        asked = datetime.now(UTC)
        status, data = self._call("POST", "/drive/v2/quotes", self._body(parcel))
        if status == 409 and data.get("code") == "duplicate_delivery_id":
            raise DuplicateDelivery(N_("{provider} already has this delivery."), provider=NAME)
        if status != 200:
            self._raise_for(status, data)
        pickup_eta = parse_time(data.get("pickup_time_estimated")) or asked
        return ProviderQuote(
            provider=NAME, quote_id=str(data.get("external_delivery_id", parcel.delivery_id)),
            fee_fen=int(data.get("fee", 0)), pickup_eta=pickup_eta,
            dropoff_eta=parse_time(data.get("dropoff_time_estimated")) or pickup_eta,
            expires_at=asked + QUOTE_TTL,
        )

    def create(self, parcel: Parcel, quote: ProviderQuote | None) -> ProviderDelivery:
        if quote is not None and quote.provider == NAME:
            if quote.expires_at <= datetime.now(UTC):
                raise QuoteExpired(N_("The {provider} quote has expired."), provider=NAME)
            status, data = self._call(
                "POST", f"/drive/v2/quotes/{parcel.delivery_id}/accept", {})
            if status == 200:
                return self._delivery(data)
            if status == 409 and data.get("code") == "duplicate_delivery_id":
                raise DuplicateDelivery(N_("{provider} already has this delivery."),
                                        provider=NAME)
            if status == 404 or (status in (400, 409) and "expire" in json.dumps(data).lower()):
                raise QuoteExpired(N_("The {provider} quote has expired."), provider=NAME)
            self._raise_for(status, data, creating=True)
        status, data = self._call("POST", "/drive/v2/deliveries", self._body(parcel))
        if status == 200:
            return self._delivery(data)
        self._raise_for(status, data, creating=True)
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, delivery_id: str) -> ProviderDelivery:
        status, data = self._call("GET", f"/drive/v2/deliveries/{delivery_id}")
        if status != 200:
            self._raise_for(status, data)
        return self._delivery(data)

    def cancel(self, delivery_id: str, reason: str) -> ProviderDelivery:
        status, data = self._call("PUT", f"/drive/v2/deliveries/{delivery_id}/cancel")
        if status == 200:
            return self._delivery(data)
        if status in (400, 409):
            raise NotCancellable(N_("{provider} can no longer cancel this delivery."),
                                 provider=NAME)
        self._raise_for(status, data)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- webhooks ---------------------------------------------------------------------------

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        given = lower_headers(headers).get("authorization", "")
        if not self.webhook_auth or not hmac.compare_digest(
                given.encode(), self.webhook_auth.encode()):
            raise BadSignature(N_("The webhook's signature does not verify."))
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise failed(NAME, "webhook body is not JSON") from exc
        if not isinstance(payload, dict) or not payload.get("external_delivery_id"):
            raise failed(NAME, "webhook without external_delivery_id")
        # Drive's docs call the field event_name; some published schemas say event_type
        name = str(payload.get("event_name") or payload.get("event_type") or "")
        status = EVENTS.get(name) or STATUSES.get(str(payload.get("delivery_status", "")))
        if status is None:
            return []  # an event we do not follow (e.g. DELIVERY_BATCHED)
        occurred = parse_time(payload.get("created_at")) or datetime.now(UTC)
        our_id = str(payload["external_delivery_id"])
        delivery = self._delivery(payload, status=status)
        return [WebhookEvent(
            provider=NAME,
            event_id=event_id("dd_", our_id, name, payload.get("created_at", "")),
            delivery_id=our_id, status=status, occurred_at=occurred, delivery=delivery,
        )]

    # -- mapping ----------------------------------------------------------------------------

    def _delivery(self, data: dict[str, Any], status: DeliveryStatus | None = None
                  ) -> ProviderDelivery:
        location = data.get("dasher_location") or {
            "lat": data.get("dasher_location_lat"), "lng": data.get("dasher_location_lng")}
        mapped = status or STATUSES.get(str(data.get("delivery_status", "")))
        if mapped is None:
            raise failed(NAME, f"unknown delivery_status {data.get('delivery_status')!r}")
        fee = data.get("fee")
        return ProviderDelivery(
            provider=NAME, external_id=str(data.get("external_delivery_id", "")), status=mapped,
            fee_fen=int(fee) if isinstance(fee, int | float) else None,
            courier_name=str(data.get("dasher_name") or ""),
            courier_phone=str(data.get("dasher_dropoff_phone_number")
                              or data.get("dasher_phone_number") or ""),
            courier_lat=_float(location.get("lat")), courier_lng=_float(location.get("lng")),
            tracking_url=str(data.get("tracking_url") or ""),
            pickup_eta=parse_time(data.get("pickup_time_estimated")),
            dropoff_eta=parse_time(data.get("dropoff_time_estimated")),
        )


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def from_settings(settings: Settings) -> DoorDashAdapter | None:
    if not settings.delivery_doordash_url:
        return None
    return DoorDashAdapter(
        settings.delivery_doordash_url, developer_id=settings.delivery_doordash_account,
        key_id=settings.delivery_doordash_key_id,
        signing_secret=settings.delivery_doordash_secret,
        webhook_auth=settings.delivery_doordash_webhook_secret,
        timeout_s=settings.delivery_http_timeout_s,
    )
