"""The Uber Direct side, simulated: an OAuth 2.0 client-credentials token (`POST /oauth/v2/token`,
scope `eats.deliveries`), delivery quotes valid 15 minutes, deliveries with `quote_id`,
`external_id` and `idempotency_key`, status and list queries, cancellation before pickup, and
webhooks `event.delivery_status` and `event.courier_update` signed `x-uber-signature` (hex
HMAC-SHA256 of the raw body with the webhook signing key). Statuses: pending, pickup,
pickup_complete, dropoff, delivered, canceled, returned (with `courier_imminent`).

`python -m townsquare.delivery.simulators.uber --port 8702 --webhook-url URL`"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from townsquare.delivery.simulators.base import (
    SERVICE_RADIUS_M,
    Simulator,
    Stage,
    Trip,
    command_line,
    distance_m,
)

DEMO_CUSTOMER_ID = "cus_tsdemo"
DEMO_CLIENT_ID = "ts-demo-uber-client"
DEMO_CLIENT_SECRET = "ts-demo-uber-client-secret"
DEMO_SIGNING_KEY = "ts-demo-uber-webhook-signing-key"
DEFAULT_PORT = 8702
QUOTE_TTL_S = 15 * 60
TOKEN_TTL_S = 30 * 24 * 3600  # Uber's client-credentials tokens last 30 days


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def _error(status: int, code: str, message: str, **metadata: Any) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "kind": "error",
                         "metadata": metadata}, status_code=status)


def _uid(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(16).replace("-", "x").replace("_", "y")


class UberSimulator(Simulator):
    provider = "uber"

    def __init__(self, *, customer_id: str = DEMO_CUSTOMER_ID, client_id: str = DEMO_CLIENT_ID,
                 client_secret: str = DEMO_CLIENT_SECRET, signing_key: str = DEMO_SIGNING_KEY,
                 **kw: Any) -> None:
        self.customer_id = customer_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.signing_key = signing_key
        self.tokens: dict[str, float] = {}
        self.quotes: dict[str, dict[str, Any]] = {}
        self.deliveries: dict[str, dict[str, Any]] = {}  # del_… → record
        self.by_idempotency: dict[str, str] = {}
        super().__init__(**kw)

    def authorised(self, request: Request, customer_id: str) -> JSONResponse | None:
        header = request.headers.get("authorization", "")
        token = header[len("Bearer "):] if header.startswith("Bearer ") else ""
        with self.lock:
            until = self.tokens.get(token)
        if until is None or until < self.now():
            return _error(401, "unauthorized", "The access token is missing or invalid")
        if customer_id != self.customer_id:
            return _error(403, "customer_not_found", "The customer does not exist")
        return None

    # -- records ----------------------------------------------------------------------------

    @staticmethod
    def _points(body: dict[str, Any]) -> tuple[tuple[float, float], tuple[float, float]]:
        return ((float(body["pickup_latitude"]), float(body["pickup_longitude"])),
                (float(body["dropoff_latitude"]), float(body["dropoff_longitude"])))

    def _invalid(self, body: dict[str, Any], needed: tuple[str, ...]) -> JSONResponse | None:
        missing = [n for n in needed if body.get(n) in (None, "")]
        if missing:
            return _error(400, "invalid_params", "The parameters of your request were invalid",
                          **{name: "required" for name in missing})
        try:
            self._points(body)
        except (KeyError, TypeError, ValueError):
            return _error(400, "invalid_params", "Latitude and longitude are required")
        return None

    def _refusal(self, body: dict[str, Any]) -> JSONResponse | None:
        pickup, dropoff = self._points(body)
        if self.take_rejection() or distance_m(pickup, dropoff) > SERVICE_RADIUS_M:
            return _error(400, "address_undeliverable",
                          "The specified location is not in a deliverable area")
        return None

    def view(self, delivery_id: str, at: float | None = None) -> dict[str, Any]:
        """The delivery as the API shows it now (or `at`: a create answers the moment it booked)."""
        record = self.deliveries[delivery_id]
        body = record["body"]
        trip = self.trips[delivery_id]
        now = self.now() if at is None else at
        stage = trip.stage(now)
        status, imminent = self._status(trip, stage, now)
        position = trip.position(now)
        out: dict[str, Any] = {
            "id": delivery_id, "kind": "delivery", "quote_id": body.get("quote_id"),
            "external_id": body.get("external_id"), "status": status,
            "complete": stage in (Stage.DELIVERED, Stage.CANCELLED),
            "courier_imminent": imminent, "created": _iso(trip.created_at),
            "updated": _iso(now), "pickup_eta": _iso(trip.t_at_pickup),
            "dropoff_eta": _iso(trip.t_at_dropoff), "dropoff_deadline": _iso(
                trip.t_delivered + 1800 * self.pace),
            "fee": record["fee"], "currency": "cny",
            "tracking_url": f"{self.url}/orders/{delivery_id}",
            "undeliverable_action": "return", "live_mode": False, "uuid": record["uuid"],
            "pickup": {"name": body.get("pickup_name"), "phone_number": body.get(
                "pickup_phone_number"), "address": body.get("pickup_address"),
                "location": {"lat": trip.pickup[0], "lng": trip.pickup[1]}},
            "dropoff": {"name": body.get("dropoff_name"), "phone_number": body.get(
                "dropoff_phone_number"), "address": body.get("dropoff_address"),
                "location": {"lat": trip.dropoff[0], "lng": trip.dropoff[1]}},
            "manifest_items": body.get("manifest_items", []),
        }
        if position is not None and stage != Stage.CANCELLED:
            out["courier"] = {
                "name": trip.courier.name, "phone_number": trip.courier.phone,
                "location": {"lat": position[0], "lng": position[1]},
                "vehicle_type": "bicycle", "rating": "4.9", "img_href": "",
            }
        return out

    def _status(self, trip: Trip, stage: Stage, now: float) -> tuple[str, bool]:
        if stage == Stage.CANCELLED:
            return "canceled", False
        if stage == Stage.CREATED:
            return "pending", False
        if stage == Stage.ASSIGNED:
            return "pickup", False
        if stage == Stage.AT_PICKUP:
            return "pickup", True
        if stage == Stage.PICKED_UP:
            return "dropoff", False
        if stage == Stage.AT_DROPOFF:
            return "dropoff", True
        return "delivered", False

    # -- webhooks ---------------------------------------------------------------------------

    def _post(self, kind: str, trip: Trip, status: str, imminent: bool, at: float,
              data: dict[str, Any]) -> None:
        data = {**data, "status": status, "courier_imminent": imminent}
        payload: dict[str, Any] = {
            "id": _uid("evt_"), "kind": kind, "delivery_id": trip.key, "status": status,
            "created": _iso(at), "live_mode": False, "customer_id": self.customer_id,
            "data": data,
        }
        if kind == "event.courier_update":
            payload["location"] = data.get("courier", {}).get("location")
            payload.pop("status")
        body = json.dumps(payload, ensure_ascii=False).encode()
        signature = hmac.new(self.signing_key.encode(), body, hashlib.sha256).hexdigest()
        self.send_webhook(self.webhook_url, {"content-type": "application/json",
                                             "x-uber-signature": signature}, body)

    def stage_webhooks(self, trip: Trip, stage: Stage) -> None:
        with self.lock:
            if trip.key not in self.deliveries:
                return
            data = self.view(trip.key)
        at = trip.stage_at(stage)
        steps = {
            Stage.CREATED: [("pending", False)], Stage.ASSIGNED: [("pickup", False)],
            Stage.AT_PICKUP: [("pickup", True)],
            Stage.PICKED_UP: [("pickup_complete", False), ("dropoff", False)],
            Stage.AT_DROPOFF: [("dropoff", True)], Stage.DELIVERED: [("delivered", False)],
            Stage.CANCELLED: [("canceled", False)],
        }[stage]
        for status, imminent in steps:
            self._post("event.delivery_status", trip, status, imminent, at, data)

    def location_webhook(self, trip: Trip, now: float) -> None:
        with self.lock:
            if trip.key not in self.deliveries:
                return
            data = self.view(trip.key)
        if "courier" in data:
            self._post("event.courier_update", trip, data["status"], data["courier_imminent"],
                       now, data)

    def failure_response(self) -> Response:
        return _error(500, "internal_server_error", "An unknown error happened")

    # -- the API ----------------------------------------------------------------------------

    def build_app(self) -> FastAPI:
        app = FastAPI(title="Uber Direct (simulated)")
        sim = self

        async def json_body(request: Request) -> dict[str, Any] | None:
            try:
                body = await request.json()
            except json.JSONDecodeError:
                return None
            return body if isinstance(body, dict) else None

        @app.post("/oauth/v2/token")
        async def token(request: Request) -> Response:
            form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
            if form.get("grant_type") != "client_credentials":
                return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
            if not (hmac.compare_digest(form.get("client_id", ""), sim.client_id)
                    and hmac.compare_digest(form.get("client_secret", ""), sim.client_secret)):
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            if "eats.deliveries" not in form.get("scope", "").split():
                return JSONResponse({"error": "invalid_scope"}, status_code=400)
            access = secrets.token_urlsafe(32)
            with sim.lock:
                sim.tokens[access] = sim.now() + TOKEN_TTL_S
            return JSONResponse({"access_token": access, "token_type": "Bearer",
                                 "expires_in": TOKEN_TTL_S, "scope": "eats.deliveries"})

        @app.post("/v1/customers/{customer_id}/delivery_quotes")
        async def create_quote(customer_id: str, request: Request) -> Response:
            refused = sim.authorised(request, customer_id)
            if refused is not None:
                return refused
            body = await json_body(request)
            if body is None:
                return _error(400, "invalid_params", "The body is not a JSON object")
            invalid = sim._invalid(body, ("pickup_address", "dropoff_address")) \
                or sim._refusal(body)
            if invalid is not None:
                return invalid
            pickup, dropoff = sim._points(body)
            dist, to_pickup, to_dropoff = sim.estimate(pickup, dropoff)
            now = sim.now()
            quote_id = _uid("dqt_")
            record = {"id": quote_id, "kind": "delivery_quote", "created": _iso(now),
                      "expires": _iso(now + QUOTE_TTL_S), "fee": sim.fee_cents(dist),
                      "currency": "cny", "currency_type": "CNY",
                      "dropoff_eta": _iso(now + to_dropoff),
                      "duration": round(to_dropoff / max(sim.pace, 1e-9) / 60),
                      "pickup_duration": round(to_pickup / max(sim.pace, 1e-9) / 60),
                      "dropoff_deadline": _iso(now + to_dropoff + 1800 * sim.pace)}
            with sim.lock:
                sim.quotes[quote_id] = {**record, "_expires": now + QUOTE_TTL_S}
            return JSONResponse(record)

        @app.post("/v1/customers/{customer_id}/deliveries")
        async def create_delivery(customer_id: str, request: Request) -> Response:
            refused = sim.authorised(request, customer_id)
            if refused is not None:
                return refused
            body = await json_body(request)
            if body is None:
                return _error(400, "invalid_params", "The body is not a JSON object")
            invalid = sim._invalid(body, (
                "pickup_name", "pickup_address", "pickup_phone_number", "dropoff_name",
                "dropoff_address", "dropoff_phone_number", "manifest_items"))
            if invalid is not None:
                return invalid
            with sim.lock:
                key = body.get("idempotency_key")
                if key and key in sim.by_idempotency:
                    return _error(409, "duplicate_delivery",
                                  "An active delivery like this already exists",
                                  delivery_id=sim.by_idempotency[key])
                quote_id = body.get("quote_id")
                fee = None
                if quote_id:
                    quote = sim.quotes.get(quote_id)
                    if quote is None:
                        return _error(400, "invalid_params", "The quote_id is unknown")
                    if sim.now() > quote["_expires"]:
                        return _error(400, "expired_quote",
                                      "The price quote specified has expired")
                    fee = quote["fee"]
            refusal = sim._refusal(body)
            if refusal is not None:
                return refusal
            pickup, dropoff = sim._points(body)
            with sim.lock:
                if key and key in sim.by_idempotency:  # a racing twin got here first
                    return _error(409, "duplicate_delivery",
                                  "An active delivery like this already exists",
                                  delivery_id=sim.by_idempotency[key])
                delivery_id = _uid("del_")
                sim.deliveries[delivery_id] = {
                    "body": body, "fee": fee if fee is not None else sim.fee_cents(
                        distance_m(pickup, dropoff)), "uuid": secrets.token_hex(16)}
                if key:
                    sim.by_idempotency[key] = delivery_id
                trip = sim.new_trip(delivery_id, pickup, dropoff)
                return JSONResponse(sim.view(delivery_id, at=trip.created_at))

        @app.get("/v1/customers/{customer_id}/deliveries")
        def list_deliveries(customer_id: str, request: Request, limit: int = 50,
                            offset: int = 0, filter: str = "") -> Response:  # noqa: A002
            refused = sim.authorised(request, customer_id)
            if refused is not None:
                return refused
            with sim.lock:
                views = [sim.view(d) for d in sim.deliveries]
            views.sort(key=lambda v: v["created"], reverse=True)
            if filter == "ongoing":
                views = [v for v in views if not v["complete"]]
            elif filter == "completed":
                views = [v for v in views if v["complete"]]
            page = views[offset:offset + max(1, min(limit, 100))]
            more = offset + len(page) < len(views)
            return JSONResponse({"object": "list", "data": page, "total_count": len(views),
                                 "next_href": (f"/v1/customers/{customer_id}/deliveries?"
                                               f"limit={limit}&offset={offset + len(page)}"
                                               if more else None)})

        @app.get("/v1/customers/{customer_id}/deliveries/{delivery_id}")
        def get_delivery(customer_id: str, delivery_id: str, request: Request) -> Response:
            refused = sim.authorised(request, customer_id)
            if refused is not None:
                return refused
            with sim.lock:
                if delivery_id not in sim.deliveries:
                    return _error(404, "delivery_not_found", "The delivery was not found")
                return JSONResponse(sim.view(delivery_id))

        @app.post("/v1/customers/{customer_id}/deliveries/{delivery_id}/cancel")
        def cancel_delivery(customer_id: str, delivery_id: str, request: Request) -> Response:
            refused = sim.authorised(request, customer_id)
            if refused is not None:
                return refused
            with sim.lock:
                if delivery_id not in sim.deliveries:
                    return _error(404, "delivery_not_found", "The delivery was not found")
                trip = sim.trips[delivery_id]
                if trip.stage(sim.now()) >= Stage.PICKED_UP:
                    return _error(400, "noncancelable_delivery",
                                  "The delivery can no longer be canceled")
                sim.cancel_trip(trip, "merchant")
                return JSONResponse(sim.view(delivery_id))

        @app.get("/orders/{delivery_id}")
        def track(delivery_id: str) -> Response:
            with sim.lock:
                if delivery_id not in sim.deliveries:
                    return _error(404, "delivery_not_found", "The delivery was not found")
                view = sim.view(delivery_id)
            return JSONResponse({k: view.get(k) for k in ("status", "courier", "dropoff_eta")})

        return app

    def expire_quotes(self) -> None:
        """Make every quote expired (as if 15 minutes had passed)."""
        with self.lock:
            for quote in self.quotes.values():
                quote["_expires"] = self.now() - 1


def start(port: int = 0, **kw: Any) -> tuple[str, UberSimulator]:
    sim = UberSimulator(**kw)
    return sim.start(port=port), sim


def demo_settings(url: str) -> dict[str, str]:
    """The `Settings` fields (TOWNSQUARE_DELIVERY_UBER_*) that reach this simulator."""
    return {
        "delivery_uber_url": url, "delivery_uber_account": DEMO_CUSTOMER_ID,
        "delivery_uber_key_id": DEMO_CLIENT_ID, "delivery_uber_secret": DEMO_CLIENT_SECRET,
        "delivery_uber_webhook_secret": DEMO_SIGNING_KEY,
    }


if __name__ == "__main__":
    command_line("uber", UberSimulator, default_port=DEFAULT_PORT)
