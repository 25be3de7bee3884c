"""A courier provider for the delivery tests: a REAL HTTP server (stdlib, on loopback, one
thread per request) speaking a small JSON protocol, and the adapter that speaks it over httpx.
Not a mock of Townsquare's code: dispatch, failover and webhooks meet it over the network, as
they meet the DoorDash/Uber/Dada simulators.

Protocol: POST /quotes → quote (valid `quote_ttl` seconds); POST /deliveries (our delivery id is
the idempotency key: 409 on a repeat; 410 for an expired quote; 422 when rejecting); GET
/deliveries/{id} (404: never seen); POST /deliveries/{id}/cancel (409 after pickup). Webhooks
carry `X-Test-Signature: hex(HMAC-SHA256(secret, raw body))`.

Switches: `slow` (seconds before answering), `fail_next` (500s), `reject_next` (422s),
`create_then_hang` (create, then answer too late: the client times out), `get_fails` (lookups
answer 500), `expire_next` (the next quotes are issued already expired)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from townsquare.delivery.adapters.base import (
    BadSignature,
    DeliveryUnknown,
    DuplicateDelivery,
    NotCancellable,
    Parcel,
    ProviderDelivery,
    ProviderError,
    ProviderQuote,
    ProviderRejected,
    ProviderTimeout,
    QuoteExpired,
    WebhookEvent,
)
from townsquare.delivery.status import DeliveryStatus


class Courier:
    """The provider's side: its state and switches (thread-safe)."""

    def __init__(self, name: str, *, fee_fen: int, minutes: int, secret: str = "s3cret") -> None:
        self.name, self.fee_fen, self.minutes, self.secret = name, fee_fen, minutes, secret
        self.lock = threading.Lock()
        self.deliveries: dict[str, dict[str, Any]] = {}
        self.creates = 0  # create calls that booked a courier
        self.calls: list[str] = []
        self.slow = 0.0
        self.fail_next = 0
        self.reject_next = 0
        self.create_then_hang = 0.0
        self.get_fails = False
        self.expire_next = 0
        self.quote_ttl = 300
        self.events = 0

    # the protocol ------------------------------------------------------------------------
    def handle(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.calls.append(f"{method} {path}")
            if self.fail_next > 0:
                self.fail_next -= 1
                return 500, {"error": "boom"}
        now = datetime.now(UTC)
        if method == "POST" and path == "/quotes":
            with self.lock:
                if self.reject_next > 0:
                    self.reject_next -= 1
                    return 422, {"error": "out_of_area"}
            with self.lock:
                expired = self.expire_next > 0
                self.expire_next -= expired
            ttl = -1 if expired else self.quote_ttl
            return 200, {"quote_id": f"q-{self.name}-{time.monotonic_ns()}",
                         "fee_fen": self.fee_fen,
                         "pickup_eta": (now + timedelta(minutes=10)).isoformat(),
                         "dropoff_eta": (now + timedelta(minutes=self.minutes)).isoformat(),
                         "expires_at": (now + timedelta(seconds=ttl)).isoformat()}
        if method == "POST" and path == "/deliveries":
            expires = body.get("quote_expires_at")
            if expires and datetime.fromisoformat(expires) < now:
                return 410, {"error": "quote_expired"}
            with self.lock:
                if self.reject_next > 0:
                    self.reject_next -= 1
                    return 422, {"error": "rejected"}
                key = body["delivery_id"]
                if key in self.deliveries:
                    return 409, {"error": "duplicate"}
                self.creates += 1
                self.deliveries[key] = {"external_id": f"{self.name}-{self.creates}",
                                        "status": "created", "fee_fen": self.fee_fen}
                record = dict(self.deliveries[key])
                hang = self.create_then_hang
            if hang:
                time.sleep(hang)
            return 201, record
        if path.startswith("/deliveries/"):
            key = path.split("/")[2]
            with self.lock:
                record = self.deliveries.get(key)
                if method == "GET" and self.get_fails:
                    return 500, {"error": "lookup down"}
                if record is None:
                    return 404, {"error": "not_found"}
                if method == "POST" and path.endswith("/cancel"):
                    if record["status"] in ("picked_up", "at_dropoff", "delivered"):
                        return 409, {"error": "not_cancellable"}
                    record["status"] = "cancelled"
                return 200, dict(record)
        return 404, {"error": "no_route"}

    # the provider moves the courier ------------------------------------------------------
    def set_status(self, delivery_id: str, status: str) -> None:
        with self.lock:
            self.deliveries[delivery_id]["status"] = status

    def webhook(self, delivery_id: str, status: str, *, event_id: str | None = None,
                lat: float | None = None, lng: float | None = None,
                signature: str | None = None) -> tuple[bytes, dict[str, str]]:
        """The body and headers of a webhook the provider would send for this change."""
        with self.lock:
            self.events += 1
            record = self.deliveries.get(delivery_id, {"external_id": "?", "fee_fen": None})
            body = json.dumps({
                "event_id": event_id or f"{self.name}-ev-{self.events}",
                "delivery_id": delivery_id, "external_id": record["external_id"],
                "status": status, "at": datetime.now(UTC).isoformat(),
                "courier": {"name": f"{self.name} courier", "phone": "13800000000",
                            "lat": lat, "lng": lng}}).encode()
        mac = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        return body, {"X-Test-Signature": signature or mac,
                      "Content-Type": "application/json"}


def serve(courier: Courier) -> tuple[str, ThreadingHTTPServer]:
    class Handler(BaseHTTPRequestHandler):
        def _go(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if courier.slow:
                time.sleep(courier.slow)
            status, payload = courier.handle(method, self.path,
                                             json.loads(raw) if raw else {})
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout)

        def do_GET(self) -> None:  # noqa: N802
            self._go("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._go("POST")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class CourierAdapter:
    """The adapter for this protocol (what a courier-module author writes)."""

    def __init__(self, name: str, url: str, secret: str, *, timeout: float = 1.0) -> None:
        self.name, self.secret = name, secret
        self.http = httpx.Client(base_url=url, timeout=timeout)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None
              ) -> dict[str, Any]:
        try:
            response = self.http.request(method, path, json=body)
        except httpx.TimeoutException as exc:
            raise ProviderTimeout(f"{self.name}: no answer in time") from exc
        except httpx.HTTPError as exc:
            raise ProviderError(f"{self.name}: {exc}") from exc
        payload: dict[str, Any] = response.json()
        errors = {404: DeliveryUnknown, 409: DuplicateDelivery, 410: QuoteExpired,
                  422: ProviderRejected}
        if response.status_code in errors:
            if path.endswith("/cancel") and response.status_code == 409:
                raise NotCancellable(f"{self.name}: not cancellable")
            raise errors[response.status_code](f"{self.name}: {payload.get('error')}")
        if response.status_code >= 400:
            raise ProviderError(f"{self.name}: HTTP {response.status_code}")
        return payload

    def _delivery(self, payload: dict[str, Any], courier: dict[str, Any] | None = None
                  ) -> ProviderDelivery:
        courier = courier or {}
        return ProviderDelivery(
            provider=self.name, external_id=payload["external_id"],
            status=DeliveryStatus(payload["status"]), fee_fen=payload.get("fee_fen"),
            courier_name=courier.get("name") or "", courier_phone=courier.get("phone") or "",
            courier_lat=courier.get("lat"), courier_lng=courier.get("lng"),
            tracking_url="", pickup_eta=None, dropoff_eta=None)

    def quote(self, parcel: Parcel) -> ProviderQuote:
        p = self._call("POST", "/quotes", {"delivery_id": parcel.delivery_id})
        return ProviderQuote(provider=self.name, quote_id=p["quote_id"], fee_fen=p["fee_fen"],
                             pickup_eta=datetime.fromisoformat(p["pickup_eta"]),
                             dropoff_eta=datetime.fromisoformat(p["dropoff_eta"]),
                             expires_at=datetime.fromisoformat(p["expires_at"]))

    def create(self, parcel: Parcel, quote: ProviderQuote | None) -> ProviderDelivery:
        body = {"delivery_id": parcel.delivery_id, "code": parcel.dropoff_code,
                "quote_id": quote.quote_id if quote else None,
                "quote_expires_at": quote.expires_at.isoformat() if quote else None}
        return self._delivery(self._call("POST", "/deliveries", body))

    def get(self, delivery_id: str) -> ProviderDelivery:
        return self._delivery(self._call("GET", f"/deliveries/{delivery_id}"))

    def cancel(self, delivery_id: str, reason: str) -> ProviderDelivery:
        return self._delivery(self._call("POST", f"/deliveries/{delivery_id}/cancel",
                                         {"reason": reason}))

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        given = {k.lower(): v for k, v in headers.items()}.get("x-test-signature", "")
        mac = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given, mac):
            raise BadSignature("The webhook's signature does not verify.")
        p = json.loads(body)
        info = self._delivery(p, p.get("courier"))
        return [WebhookEvent(provider=self.name, event_id=p["event_id"],
                             delivery_id=p["delivery_id"], status=info.status,
                             occurred_at=datetime.fromisoformat(p["at"]), delivery=info)]

    def close(self) -> None:
        self.http.close()
