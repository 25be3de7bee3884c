"""Open Delivery (Abrasel's open standard, v1 logistics module): the adapter, as the requester
(Townsquare is the Software Service / Ordering Application, the courier company the Logistic
Service). Spec: github.com/Abrasel-Nacional/docs (openapi.yaml, tags logisticPrice,
logisticOrder, logisticDetails, logisticTracking).

- Auth: `POST /oauth/token` (form client_id, client_secret, grant_type=client_credentials),
  bearer token, scope `od.all`.
- quote = `POST /v1/logistics/availability` (price and ETAs; the standard has no quote id or
  validity: the adapter names the quote itself and holds it for 5 minutes, after which
  `create` refuses it with QuoteExpired so dispatch quotes again).
- create = `POST /v1/logistics/delivery` with our delivery id as `orderId`; the answer is **202**
  `PENDING`: the Logistic Service accepts (`ACCEPTED`, with the delivery person) or refuses
  (`REJECTED`, `rejectionInfo.reason`) later, by webhook. A new request for the same orderId is
  allowed only after a REJECTED; otherwise 422 "duplicate orderId" → DuplicateDelivery.
- get = `GET /v1/logistics/delivery/{orderId}` (status = the last event); cancel = `POST
  /v1/logistics/cancel/{orderId}` (202, then a CANCELLED event; refused once picked up).
- Webhook (`newLogisticEvent`): headers X-App-Id, X-App-MerchantId, X-App-Signature =
  lower-case hex HMAC-SHA256 of the raw body with the client secret. Event ids: (orderId,
  event.type, event.datetime); `PICKUP_ONGOING`/`DELIVERY_ONGOING` repeat with positions.

Settings: TOWNSQUARE_DELIVERY_OPEN_DELIVERY_URL, _ACCOUNT (the Logistic Service's X-App-Id,
checked on webhooks when set), _KEY_ID (client_id), _SECRET (client_secret), _WEBHOOK_SECRET
(the signing key; empty = the client secret, as the standard has it)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
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
    Place,
    ProviderDelivery,
    ProviderError,
    ProviderQuote,
    ProviderRejected,
    QuoteExpired,
    WebhookEvent,
)
from townsquare.delivery.status import DeliveryStatus

NAME = "open_delivery"
QUOTE_HOLD = timedelta(minutes=5)
PICKUP_LIMIT_MIN = 30
DELIVERY_LIMIT_MIN = 90

EVENTS: dict[str, DeliveryStatus] = {
    "PENDING": DeliveryStatus.CREATED,
    "ACCEPTED": DeliveryStatus.ASSIGNED,
    "REJECTED": DeliveryStatus.REJECTED,
    "PICKUP_ONGOING": DeliveryStatus.ASSIGNED,
    "ARRIVED_AT_MERCHANT": DeliveryStatus.AT_PICKUP,
    "ORDER_PICKED": DeliveryStatus.PICKED_UP,
    "DELIVERY_ONGOING": DeliveryStatus.PICKED_UP,
    "ARRIVED_AT_CUSTOMER": DeliveryStatus.AT_DROPOFF,
    "ORDER_DELIVERED": DeliveryStatus.DELIVERED,
    "DELIVERY_FINISHED": DeliveryStatus.DELIVERED,
    "RETURNING_TO_MERCHANT": DeliveryStatus.RETURNING,
    "RETURNED_TO_MERCHANT": DeliveryStatus.RETURNED,
    "CANCELLED": DeliveryStatus.CANCELLED,
}


def merchant_id(place: Place) -> str:
    """A stable merchant id for a pickup place (the standard asks for at least a UUID)."""
    return "townsquare-" + str(uuid.uuid5(uuid.NAMESPACE_URL,
                                          f"{place.name}|{place.address}|{place.phone}"))


def _address(place: Place, instructions: str = "") -> dict[str, Any]:
    return {
        "country": "CN", "state": "CN-HB", "city": "武汉", "district": "",
        "street": place.address, "number": "", "postalCode": "", "complement": "",
        "reference": place.name, "latitude": place.lat, "longitude": place.lng,
        **({"instructions": instructions} if instructions else {}),
    }


def _price(fen: int) -> dict[str, Any]:
    return {"value": round(fen / 100, 2), "currency": "CNY"}


class OpenDeliveryAdapter:
    name = NAME

    def __init__(self, base_url: str, *, client_id: str, client_secret: str,
                 webhook_secret: str = "", app_id: str = "", timeout_s: float = 5.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.http = ProviderHttp(NAME, base_url, timeout_s, transport)
        self.client_id = client_id
        self.client_secret = client_secret
        self.webhook_secret = webhook_secret or client_secret
        self.app_id = app_id
        self._token = ""
        self._token_until = 0.0
        self._lock = threading.Lock()

    # -- calls ------------------------------------------------------------------------------

    def _access_token(self, renew: bool = False) -> str:
        with self._lock:
            if not renew and self._token and time.time() < self._token_until:
                return self._token
            response = self.http.request("POST", "/oauth/token", data={
                "client_id": self.client_id, "client_secret": self.client_secret,
                "grant_type": "client_credentials"})
            data = json_or_empty(response)
            if response.status_code != 200 or not data.get("access_token"):
                raise ProviderError(N_("{provider} refused our credentials."), provider=NAME,
                                    code="provider_auth")
            self._token = str(data["access_token"])
            self._token_until = time.time() + max(60, int(data.get("expires_in") or 3600) - 60)
            return self._token

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None
              ) -> tuple[int, dict[str, Any]]:
        for attempt in (0, 1):
            headers = {"Authorization": f"Bearer {self._access_token(renew=attempt == 1)}"}
            response = self.http.request(method, path, json=body, headers=headers)
            if response.status_code != 401:
                break
        data = json_or_empty(response)
        if response.status_code >= 500 or response.status_code == 429:
            raise failed(NAME, f"{response.status_code} {data.get('title', '')}")
        if response.status_code in (401, 403):
            raise ProviderError(N_("{provider} refused our credentials."), provider=NAME,
                                code="provider_auth")
        return response.status_code, data

    @staticmethod
    def _request(parcel: Parcel) -> dict[str, Any]:
        return {
            "merchant": {"id": merchant_id(parcel.pickup), "name": parcel.pickup.name},
            "pickupAddress": _address(parcel.pickup),
            "returnToMerchant": False,
            "canCombine": False,
            "deliveryAddress": _address(parcel.dropoff,
                                        f"收货码 / delivery code {parcel.dropoff_code}"),
            "vehicle": {"type": ["MOTORBIKE_BAG", "BICYCLE", "SCOOTER"],
                        "container": "THERMIC"},
            "limitTimes": {"pickupLimit": PICKUP_LIMIT_MIN, "deliveryLimit": DELIVERY_LIMIT_MIN,
                           "orderCreatedAt": iso(parcel.pickup_ready_at)},
            "totalOrderPrice": _price(parcel.value_fen),
            "totalWeight": 1000,
            "packageQuantity": max(1, len(parcel.items)),
            "specialInstructions": "、".join(parcel.items)[:500],
        }

    def quote(self, parcel: Parcel) -> ProviderQuote:
        asked = datetime.now(UTC)
        status, data = self._call("POST", "/v1/logistics/availability", self._request(parcel))
        if status in (404, 422):
            raise ProviderRejected(N_("{provider} refused the delivery: {detail}"),
                                   provider=NAME, detail=str(data.get("title", ""))[:200])
        if status != 200:
            raise failed(NAME, f"{status} {data.get('title', '')}")
        price = ((data.get("deliveryPrice") or {}).get("price") or {}).get("value", 0)
        etas = data.get("ETAs") or {}
        pickup_eta = parse_time(etas.get("pickupEtaDatetime")) or asked
        return ProviderQuote(
            provider=NAME, quote_id=f"od-{parcel.delivery_id}-{int(asked.timestamp())}",
            fee_fen=round(float(price) * 100), pickup_eta=pickup_eta,
            dropoff_eta=parse_time(etas.get("deliveryEtaDatetime")) or pickup_eta,
            expires_at=asked + QUOTE_HOLD,
        )

    def create(self, parcel: Parcel, quote: ProviderQuote | None) -> ProviderDelivery:
        if quote is not None and quote.provider == NAME and quote.expires_at <= datetime.now(UTC):
            raise QuoteExpired(N_("The {provider} quote has expired."), provider=NAME)
        body = self._request(parcel) | {
            "orderId": parcel.delivery_id,
            "orderDisplayId": parcel.delivery_id[-8:],
            "customerName": parcel.dropoff.name,
            "customerPhone": parcel.dropoff.phone,
            "notifyPickup": False, "notifyConclusion": False,
            "payments": {"method": "ONLINE", "wirelessPos": False},
        }
        if quote is not None and quote.provider == NAME:
            body["orderDeliveryFee"] = _price(quote.fee_fen)
        status, data = self._call("POST", "/v1/logistics/delivery", body)
        if status == 202 or status == 200:
            return ProviderDelivery(
                provider=NAME, external_id=str(data.get("deliveryId", "")),
                status=EVENTS.get(str(data.get("event", "PENDING")), DeliveryStatus.CREATED),
                fee_fen=quote.fee_fen if quote is not None and quote.provider == NAME else None,
                courier_name="", courier_phone="", courier_lat=None, courier_lng=None,
                tracking_url=str(data.get("deliveryDetailsURL") or ""), pickup_eta=None,
                dropoff_eta=parse_time((data.get("completion") or {}).get("estimate")),
            )
        title = str(data.get("title", ""))
        if status == 422 and "uplicate" in title:
            raise DuplicateDelivery(N_("{provider} already has this delivery."), provider=NAME)
        if status in (404, 422):
            raise ProviderRejected(N_("{provider} refused the delivery: {detail}"),
                                   provider=NAME, detail=title[:200])
        raise failed(NAME, f"{status} {title}")

    def get(self, delivery_id: str) -> ProviderDelivery:
        status, data = self._call("GET", f"/v1/logistics/delivery/{delivery_id}")
        if status == 404:
            raise not_found(NAME)
        if status != 200:
            raise failed(NAME, f"{status} {data.get('title', '')}")
        events = [e for e in data.get("events") or [] if isinstance(e, dict)]
        last = events[-1]["type"] if events else "PENDING"
        person = data.get("deliveryPerson") or {}
        price = ((data.get("deliveryPrice") or {}).get("price") or {}).get("value")
        times = data.get("times") or {}
        return ProviderDelivery(
            provider=NAME, external_id=str(data.get("deliveryId", "")),
            status=EVENTS.get(str(last), DeliveryStatus.CREATED),
            fee_fen=round(float(price) * 100) if price is not None else None,
            courier_name=str(person.get("name") or ""),
            courier_phone=str(person.get("phone") or ""), courier_lat=None, courier_lng=None,
            tracking_url=str(data.get("externalTrackingURL") or ""), pickup_eta=None,
            dropoff_eta=parse_time(times.get("deliveryEtaDate")),
        )

    def cancel(self, delivery_id: str, reason: str) -> ProviderDelivery:
        status, data = self._call("POST", f"/v1/logistics/cancel/{delivery_id}", {
            "reason": "OTHER", "action": "CANCEL_DELIVERY", "message": reason[:500]})
        if status == 404:
            raise not_found(NAME)
        if status == 422:
            raise NotCancellable(N_("{provider} can no longer cancel this delivery."),
                                 provider=NAME)
        if status not in (200, 202):
            raise failed(NAME, f"{status} {data.get('title', '')}")
        return self.get(delivery_id)  # cancellation is confirmed by a CANCELLED event

    # -- webhooks ---------------------------------------------------------------------------

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        given = lower_headers(headers)
        signature = given.get("x-app-signature", "").strip().lower()
        expected = hmac.new(self.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
        if not self.webhook_secret or not signature or not hmac.compare_digest(signature,
                                                                               expected):
            raise BadSignature(N_("The webhook's signature does not verify."))
        if self.app_id and given.get("x-app-id") != self.app_id:
            raise BadSignature(N_("The webhook's signature does not verify."))
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise failed(NAME, "webhook body is not JSON") from exc
        if not isinstance(payload, dict) or not payload.get("orderId"):
            raise failed(NAME, "webhook without orderId")
        event = payload.get("event") if isinstance(payload.get("event"), dict) else {}
        assert isinstance(event, dict)
        kind = str(event.get("type", ""))
        status = EVENTS.get(kind)
        if status is None:
            return []
        person = payload.get("deliveryPerson") or {}
        where = payload.get("geoLocalization") or {}
        price = ((payload.get("deliveryPrice") or {}).get("price") or {}).get("value")
        eta = payload.get("eta") or {}
        delivery = ProviderDelivery(
            provider=NAME, external_id=str(payload.get("deliveryId", "")), status=status,
            fee_fen=round(float(price) * 100) if price is not None else None,
            courier_name=str(person.get("name") or ""),
            courier_phone=str(person.get("phone") or ""),
            courier_lat=_float(where.get("latitude")), courier_lng=_float(where.get("longitude")),
            tracking_url=str(payload.get("externalTrackingURL") or ""),
            pickup_eta=parse_time(eta.get("pickupEtaDatetime")),
            dropoff_eta=parse_time(eta.get("deliveryEtaDatetime")),
        )
        our_id = str(payload["orderId"])
        return [WebhookEvent(
            provider=NAME, event_id=event_id("od_", our_id, kind, event.get("datetime", "")),
            delivery_id=our_id, status=status,
            occurred_at=parse_time(event.get("datetime")) or datetime.now(UTC),
            delivery=delivery,
        )]


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def from_settings(settings: Settings) -> OpenDeliveryAdapter | None:
    if not settings.delivery_open_delivery_url:
        return None
    return OpenDeliveryAdapter(
        settings.delivery_open_delivery_url, client_id=settings.delivery_open_delivery_key_id,
        client_secret=settings.delivery_open_delivery_secret,
        webhook_secret=settings.delivery_open_delivery_webhook_secret,
        app_id=settings.delivery_open_delivery_account,
        timeout_s=settings.delivery_http_timeout_s,
    )
