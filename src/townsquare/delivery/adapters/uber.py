"""Uber Direct (developer.uber.com/docs/deliveries): the adapter.

- Auth: OAuth 2.0 client credentials, `POST /oauth/v2/token` (form: client_id, client_secret,
  grant_type=client_credentials, scope=eats.deliveries); the bearer token is kept until a minute
  before it expires and fetched again once on a 401.
- `POST /v1/customers/{customer_id}/delivery_quotes` (valid 15 minutes: `expires`), `POST
  …/deliveries` with `quote_id`, `external_id` and `idempotency_key` (both our delivery id; 409
  `duplicate_delivery` on a repeat), `GET …/deliveries/{id}`, `GET …/deliveries` (the list,
  searched for our `external_id` when we never learnt Uber's id, e.g. after a timed-out create),
  `POST …/deliveries/{id}/cancel` (400 `noncancelable_delivery` once picked up).
- Statuses pending, pickup, pickup_complete, dropoff, delivered, canceled, returned; with
  `courier_imminent` a courier within about a minute of the pickup (drop-off) counts as at it.
- Webhooks `event.delivery_status` and `event.courier_update`, `x-uber-signature` = hex
  HMAC-SHA256 of the raw body with the webhook signing key; each carries an event `id` (stable
  over Uber's retries). They arrive out of order and more than once: ordering and dedup are the
  intake's job, the ids and statuses here are stable.

Settings: TOWNSQUARE_DELIVERY_UBER_URL, _ACCOUNT (customer_id), _KEY_ID (client_id), _SECRET
(client_secret), _WEBHOOK_SECRET (the webhook signing key)."""

from __future__ import annotations

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

NAME = "uber"
SCOPE = "eats.deliveries"
LIST_PAGE = 50
LIST_MAX_PAGES = 20  # a lookup by our id reads at most this many pages of recent deliveries


def map_status(status: str, imminent: bool = False) -> DeliveryStatus | None:
    return {
        "pending": DeliveryStatus.CREATED,
        "pickup": DeliveryStatus.AT_PICKUP if imminent else DeliveryStatus.ASSIGNED,
        "pickup_complete": DeliveryStatus.PICKED_UP,
        "dropoff": DeliveryStatus.AT_DROPOFF if imminent else DeliveryStatus.PICKED_UP,
        "delivered": DeliveryStatus.DELIVERED,
        "canceled": DeliveryStatus.CANCELLED,
        "returned": DeliveryStatus.RETURNED,
    }.get(status)


class UberAdapter:
    name = NAME

    def __init__(self, base_url: str, *, customer_id: str, client_id: str, client_secret: str,
                 signing_key: str, timeout_s: float = 5.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.http = ProviderHttp(NAME, base_url, timeout_s, transport)
        self.customer_id = customer_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.signing_key = signing_key
        self._token = ""
        self._token_until = 0.0
        self._lock = threading.Lock()
        self._ids: dict[str, str] = {}  # our delivery id → Uber's del_… (a cache only)

    # -- calls ------------------------------------------------------------------------------

    def _access_token(self, renew: bool = False) -> str:
        with self._lock:
            if not renew and self._token and time.time() < self._token_until:
                return self._token
            response = self.http.request("POST", "/oauth/v2/token", data={
                "client_id": self.client_id, "client_secret": self.client_secret,
                "grant_type": "client_credentials", "scope": SCOPE})
            data = json_or_empty(response)
            if response.status_code != 200 or not data.get("access_token"):
                raise ProviderError(N_("{provider} refused our credentials."), provider=NAME,
                                    code="provider_auth")
            self._token = str(data["access_token"])
            self._token_until = time.time() + max(60, int(data.get("expires_in", 3600)) - 60)
            return self._token

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None,
              params: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        full = f"/v1/customers/{self.customer_id}{path}"
        for attempt in (0, 1):
            headers = {"Authorization": f"Bearer {self._access_token(renew=attempt == 1)}"}
            response = self.http.request(method, full, json=body, params=params,
                                         headers=headers)
            if response.status_code != 401:
                break
        data = json_or_empty(response)
        if response.status_code >= 500 or response.status_code == 429:
            raise failed(NAME, f"{response.status_code} {data.get('code', '')}")
        if response.status_code in (401, 403):
            raise ProviderError(N_("{provider} refused our credentials."), provider=NAME,
                                code="provider_auth")
        return response.status_code, data

    @staticmethod
    def _places(parcel: Parcel) -> dict[str, Any]:
        return {
            "pickup_address": parcel.pickup.address, "pickup_name": parcel.pickup.name,
            "pickup_phone_number": parcel.pickup.phone,
            "pickup_latitude": parcel.pickup.lat, "pickup_longitude": parcel.pickup.lng,
            "dropoff_address": parcel.dropoff.address, "dropoff_name": parcel.dropoff.name,
            "dropoff_phone_number": parcel.dropoff.phone,
            "dropoff_latitude": parcel.dropoff.lat, "dropoff_longitude": parcel.dropoff.lng,
            "pickup_ready_dt": iso(parcel.pickup_ready_at),
            "manifest_total_value": parcel.value_fen,
        }

    def _raise_for(self, status: int, data: dict[str, Any]) -> None:
        code = str(data.get("code", ""))
        message = str(data.get("message", ""))
        if status == 409 and code == "duplicate_delivery":
            raise DuplicateDelivery(N_("{provider} already has this delivery."), provider=NAME)
        if code in ("expired_quote", "quote_expired"):
            raise QuoteExpired(N_("The {provider} quote has expired."), provider=NAME)
        if code in ("address_undeliverable", "address_undeliverable_limited_couriers",
                    "pickup_window_too_small", "courier_unavailable") or status == 422:
            raise ProviderRejected(N_("{provider} refused the delivery: {detail}"),
                                   provider=NAME, detail=message[:200])
        if status == 404:
            raise not_found(NAME)
        raise failed(NAME, f"{status} {code} {message}")

    def quote(self, parcel: Parcel) -> ProviderQuote:
        asked = datetime.now(UTC)
        body = self._places(parcel) | {"external_store_id": parcel.pickup.phone}
        status, data = self._call("POST", "/delivery_quotes", body)
        if status != 200:
            self._raise_for(status, data)
        dropoff_eta = parse_time(data.get("dropoff_eta")) or asked
        pickup_eta = asked + timedelta(minutes=float(data.get("pickup_duration") or 0))
        return ProviderQuote(
            provider=NAME, quote_id=str(data["id"]), fee_fen=int(data.get("fee", 0)),
            pickup_eta=min(pickup_eta, dropoff_eta), dropoff_eta=dropoff_eta,
            expires_at=parse_time(data.get("expires")) or asked + timedelta(minutes=15),
        )

    def create(self, parcel: Parcel, quote: ProviderQuote | None) -> ProviderDelivery:
        body = self._places(parcel) | {
            "external_id": parcel.delivery_id,
            "idempotency_key": parcel.delivery_id,
            "manifest_items": [{"name": item, "quantity": 1, "size": "small"}
                               for item in parcel.items],
            "dropoff_verification": {"pincode": {"enabled": True,
                                                 "value": parcel.dropoff_code}},
            "dropoff_notes": f"收货码 / delivery code {parcel.dropoff_code}",
        }
        if quote is not None and quote.provider == NAME:
            if quote.expires_at <= datetime.now(UTC):
                raise QuoteExpired(N_("The {provider} quote has expired."), provider=NAME)
            body["quote_id"] = quote.quote_id
        status, data = self._call("POST", "/deliveries", body)
        if status != 200:
            self._raise_for(status, data)
        return self._remember(data)

    def _remember(self, data: dict[str, Any]) -> ProviderDelivery:
        delivery = self._delivery(data)
        if data.get("external_id"):
            with self._lock:
                self._ids[str(data["external_id"])] = delivery.external_id
        return delivery

    def _find(self, delivery_id: str) -> dict[str, Any]:
        with self._lock:
            known = self._ids.get(delivery_id)
        if known:
            status, data = self._call("GET", f"/deliveries/{known}")
            if status == 200:
                return data
        for page in range(LIST_MAX_PAGES):
            status, data = self._call("GET", "/deliveries", params={
                "limit": LIST_PAGE, "offset": page * LIST_PAGE})
            if status != 200:
                self._raise_for(status, data)
            rows = data.get("data") or []
            for row in rows:
                if isinstance(row, dict) and row.get("external_id") == delivery_id:
                    return row
            if not data.get("next_href") or not rows:
                break
        raise not_found(NAME)

    def get(self, delivery_id: str) -> ProviderDelivery:
        return self._remember(self._find(delivery_id))

    def cancel(self, delivery_id: str, reason: str) -> ProviderDelivery:
        uber_id = self._find(delivery_id)["id"]
        status, data = self._call("POST", f"/deliveries/{uber_id}/cancel")
        if status == 200:
            return self._remember(data)
        if data.get("code") == "noncancelable_delivery" or status == 409:
            raise NotCancellable(N_("{provider} can no longer cancel this delivery."),
                                 provider=NAME)
        self._raise_for(status, data)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- webhooks ---------------------------------------------------------------------------

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        given = lower_headers(headers).get("x-uber-signature", "").strip().lower()
        expected = hmac.new(self.signing_key.encode(), body, hashlib.sha256).hexdigest()
        if not self.signing_key or not given or not hmac.compare_digest(given, expected):
            raise BadSignature(N_("The webhook's signature does not verify."))
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise failed(NAME, "webhook body is not JSON") from exc
        if not isinstance(payload, dict):
            raise failed(NAME, "webhook body is not an object")
        kind = str(payload.get("kind", ""))
        if kind not in ("event.delivery_status", "event.courier_update"):
            return []
        data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
        assert isinstance(data, dict)
        our_id = str(data.get("external_id") or "")
        if not our_id:
            raise failed(NAME, "webhook without external_id")
        raw = str(payload.get("status") or data.get("status") or "")
        status = map_status(raw, bool(data.get("courier_imminent")))
        if status is None:
            return []
        delivery = self._delivery(data, status=status)
        with self._lock:
            self._ids.setdefault(our_id, delivery.external_id)
        return [WebhookEvent(
            provider=NAME, event_id=str(payload.get("id") or ""), delivery_id=our_id,
            status=status, occurred_at=parse_time(payload.get("created")) or datetime.now(UTC),
            delivery=delivery,
        )]

    # -- mapping ----------------------------------------------------------------------------

    def _delivery(self, data: dict[str, Any], status: DeliveryStatus | None = None
                  ) -> ProviderDelivery:
        mapped = status or map_status(str(data.get("status", "")),
                                      bool(data.get("courier_imminent")))
        if mapped is None:
            raise failed(NAME, f"unknown status {data.get('status')!r}")
        courier = data.get("courier") if isinstance(data.get("courier"), dict) else None
        location = (courier or {}).get("location") or {}
        fee = data.get("fee")
        return ProviderDelivery(
            provider=NAME, external_id=str(data.get("id") or data.get("delivery_id") or ""),
            status=mapped, fee_fen=int(fee) if isinstance(fee, int | float) else None,
            courier_name=str((courier or {}).get("name") or ""),
            courier_phone=str((courier or {}).get("phone_number") or ""),
            courier_lat=_float(location.get("lat")), courier_lng=_float(location.get("lng")),
            tracking_url=str(data.get("tracking_url") or ""),
            pickup_eta=parse_time(data.get("pickup_eta")),
            dropoff_eta=parse_time(data.get("dropoff_eta")),
        )


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def from_settings(settings: Settings) -> UberAdapter | None:
    if not settings.delivery_uber_url:
        return None
    return UberAdapter(
        settings.delivery_uber_url, customer_id=settings.delivery_uber_account,
        client_id=settings.delivery_uber_key_id, client_secret=settings.delivery_uber_secret,
        signing_key=settings.delivery_uber_webhook_secret,
        timeout_s=settings.delivery_http_timeout_s,
    )
