"""The DoorDash Drive v2 side, simulated: JWT-authenticated (HS256, `dd-ver: DD-JWT-V1`) quotes,
quote acceptance, deliveries keyed by the caller's `external_delivery_id` (409
`duplicate_delivery_id` on a repeat), cancellation, and webhooks named as Drive names them
(DASHER_CONFIRMED … DASHER_DROPPED_OFF, DELIVERY_CANCELLED), authenticated by the Authorization
header the developer configured for the endpoint. Amounts in cents (here: fen).

`python -m townsquare.delivery.simulators.doordash --port 8701 --webhook-url URL`"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

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

DEMO_DEVELOPER_ID = "ts-demo-developer"
DEMO_KEY_ID = "ts-demo-key"
# base64url, as the developer portal hands signing secrets out
DEMO_SIGNING_SECRET = base64.urlsafe_b64encode(b"townsquare demo doordash signing!").decode()
DEMO_WEBHOOK_AUTH = "Bearer ts-demo-doordash-webhook"
DEFAULT_PORT = 8701
QUOTE_TTL_S = 300.0  # Drive: a quote may be accepted within 5 minutes

STAGE_STATUS = {
    Stage.CREATED: "created", Stage.ASSIGNED: "enroute_to_pickup",
    Stage.AT_PICKUP: "arrived_at_pickup", Stage.PICKED_UP: "enroute_to_dropoff",
    Stage.AT_DROPOFF: "arrived_at_dropoff", Stage.DELIVERED: "delivered",
    Stage.CANCELLED: "cancelled",
}
STAGE_EVENT = {
    Stage.ASSIGNED: "DASHER_CONFIRMED", Stage.AT_PICKUP: "DASHER_CONFIRMED_PICKUP_ARRIVAL",
    Stage.PICKED_UP: "DASHER_PICKED_UP", Stage.AT_DROPOFF: "DASHER_CONFIRMED_DROPOFF_ARRIVAL",
    Stage.DELIVERED: "DASHER_DROPPED_OFF", Stage.CANCELLED: "DELIVERY_CANCELLED",
}


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _error(status: int, code: str, message: str, **more: Any) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, **more}, status_code=status)


class DoorDashSimulator(Simulator):
    provider = "doordash"

    def __init__(self, *, developer_id: str = DEMO_DEVELOPER_ID, key_id: str = DEMO_KEY_ID,
                 signing_secret: str = DEMO_SIGNING_SECRET,
                 webhook_auth: str = DEMO_WEBHOOK_AUTH, **kw: Any) -> None:
        self.developer_id = developer_id
        self.key_id = key_id
        self.signing_key = _b64url_decode(signing_secret)
        self.webhook_auth = webhook_auth
        self.deliveries: dict[str, dict[str, Any]] = {}  # external_delivery_id → record
        super().__init__(**kw)

    # -- JWT --------------------------------------------------------------------------------

    def authenticate(self, request: Request) -> JSONResponse | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return _error(401, "authentication_error", "Missing bearer token")
        token = header[len("Bearer "):]
        try:
            head_b64, payload_b64, sig_b64 = token.split(".")
            head = json.loads(_b64url_decode(head_b64))
            payload = json.loads(_b64url_decode(payload_b64))
            signature = _b64url_decode(sig_b64)
        except (ValueError, json.JSONDecodeError):
            return _error(401, "authentication_error", "Malformed JWT")
        expected = hmac.new(self.signing_key, f"{head_b64}.{payload_b64}".encode(),
                            hashlib.sha256).digest()
        now = time.time()
        if head.get("alg") != "HS256" or head.get("dd-ver") != "DD-JWT-V1":
            return _error(401, "authentication_error", "Unsupported JWT header")
        if not hmac.compare_digest(expected, signature):
            return _error(401, "authentication_error", "JWT signature does not verify")
        if (payload.get("aud") != "doordash" or payload.get("iss") != self.developer_id
                or payload.get("kid") != self.key_id):
            return _error(401, "authentication_error", "Unknown developer or key")
        exp, iat = payload.get("exp"), payload.get("iat")
        if not isinstance(exp, int | float) or exp < now or not isinstance(iat, int | float) \
                or exp - iat > 30 * 60:  # exp at most 30 minutes after iat
            return _error(401, "authentication_error", "JWT expired")
        if iat > now + 60:  # iat cannot be in the future (a minute of clock skew allowed)
            return _error(401, "authentication_error", "JWT issued in the future")
        return None

    # -- records ----------------------------------------------------------------------------

    def _validate(self, body: dict[str, Any]) -> JSONResponse | None:
        missing = [name for name in ("external_delivery_id", "pickup_address",
                                     "pickup_phone_number", "dropoff_address",
                                     "dropoff_phone_number") if not body.get(name)]
        if missing:
            return _error(400, "validation_error", "Missing fields", field_errors=[
                {"field": name, "error": "This field is required"} for name in missing])
        for name in ("pickup_location", "dropoff_location"):
            loc = body.get(name)
            if not (isinstance(loc, dict) and isinstance(loc.get("lat"), int | float)
                    and isinstance(loc.get("lng"), int | float)):
                return _error(400, "validation_error", "Invalid location", field_errors=[
                    {"field": name, "error": "lat and lng are required"}])
        return None

    @staticmethod
    def _points(body: dict[str, Any]) -> tuple[tuple[float, float], tuple[float, float]]:
        p, d = body["pickup_location"], body["dropoff_location"]
        return (float(p["lat"]), float(p["lng"])), (float(d["lat"]), float(d["lng"]))

    def _refusal(self, body: dict[str, Any]) -> JSONResponse | None:
        pickup, dropoff = self._points(body)
        if self.take_rejection() or distance_m(pickup, dropoff) > SERVICE_RADIUS_M:
            return _error(422, "unprocessable_entity",
                          "Allowed distance between addresses exceeded or no Dasher available",
                          field_errors=[{"field": "dropoff_address",
                                         "error": "Outside of the delivery area"}])
        return None

    def _record(self, body: dict[str, Any], status: str) -> dict[str, Any]:
        pickup, dropoff = self._points(body)
        dist, to_pickup, to_dropoff = self.estimate(pickup, dropoff)
        now = self.now()
        return {
            "body": body, "status": status, "fee": self.fee_cents(dist),
            "created_at": now, "quote_expires": now + QUOTE_TTL_S,
            "pickup_eta": now + to_pickup, "dropoff_eta": now + to_dropoff,
            "support_reference": str(abs(hash(body["external_delivery_id"])) % 10**9),
        }

    def _book(self, record: dict[str, Any]) -> None:
        pickup, dropoff = self._points(record["body"])
        record["status"] = "created"
        record["booked_at"] = self.now()
        trip = self.new_trip(record["body"]["external_delivery_id"], pickup, dropoff)
        record["pickup_eta"] = trip.t_at_pickup
        record["dropoff_eta"] = trip.t_at_dropoff

    def view(self, external_id: str, at: float | None = None) -> dict[str, Any]:
        """The delivery as the API shows it now (or `at`: a create answers the moment it booked,
        however long a loaded machine took to get from booking to answering)."""
        record = self.deliveries[external_id]
        body = record["body"]
        trip = self.trips.get(external_id)
        now = self.now() if at is None else at
        status = record["status"]
        out: dict[str, Any] = {
            "external_delivery_id": external_id, "currency": body.get("currency", "CNY"),
            "fee": record["fee"], "order_value": body.get("order_value", 0),
            "pickup_address": body["pickup_address"],
            "pickup_business_name": body.get("pickup_business_name", ""),
            "pickup_phone_number": body["pickup_phone_number"],
            "pickup_instructions": body.get("pickup_instructions", ""),
            "dropoff_address": body["dropoff_address"],
            "dropoff_business_name": body.get("dropoff_business_name", ""),
            "dropoff_phone_number": body["dropoff_phone_number"],
            "dropoff_instructions": body.get("dropoff_instructions", ""),
            "dropoff_contact_given_name": body.get("dropoff_contact_given_name", ""),
            "dropoff_location": body["dropoff_location"],
            "pickup_time_estimated": _iso(record["pickup_eta"]),
            "dropoff_time_estimated": _iso(record["dropoff_eta"]),
            "support_reference": record["support_reference"],
            "tracking_url": f"{self.url}/drive/track/{external_id}",
            "updated_at": _iso(now),
        }
        if trip is not None and status != "quote":
            stage = trip.stage(now)
            status = STAGE_STATUS[stage]
            if stage == Stage.ASSIGNED and now - trip.t_assigned < 10 * self.pace:
                status = "confirmed"
            position = trip.position(now)
            if position is not None and stage != Stage.CANCELLED:
                out.update({
                    "dasher_id": trip.courier.id, "dasher_name": trip.courier.name,
                    "dasher_dropoff_phone_number": trip.courier.phone,
                    "dasher_pickup_phone_number": trip.courier.phone,
                    "dasher_location": {"lat": position[0], "lng": position[1]},
                    "dasher_vehicle_make": "雅迪", "dasher_vehicle_model": "E-bike",
                })
            if stage >= Stage.PICKED_UP and stage != Stage.CANCELLED:
                out["pickup_time_actual"] = _iso(trip.t_picked_up)
            if stage == Stage.DELIVERED:
                out["dropoff_time_actual"] = _iso(trip.t_delivered)
            if stage == Stage.CANCELLED:
                by_dasher = trip.cancelled_by == "courier"
                out["cancellation_reason"] = (
                    "dasher_cancelled" if by_dasher else "cancelled_by_creator")
        out["delivery_status"] = status
        return out

    # -- webhooks ---------------------------------------------------------------------------

    def stage_webhooks(self, trip: Trip, stage: Stage) -> None:
        event = STAGE_EVENT.get(stage)
        if event is None:
            return
        with self.lock:
            if trip.key not in self.deliveries:
                return
            payload = self.view(trip.key)
            url = self.webhook_url
        payload["event_name"] = event
        payload["created_at"] = _iso(trip.stage_at(stage))
        payload["delivery_status"] = STAGE_STATUS[stage]
        body = json.dumps(payload, ensure_ascii=False).encode()
        self.send_webhook(url, {"content-type": "application/json",
                                "authorization": self.webhook_auth}, body)

    def failure_response(self) -> Response:
        return _error(500, "internal_error", "Internal server error, please retry")

    # -- the API ----------------------------------------------------------------------------

    def build_app(self) -> FastAPI:
        app = FastAPI(title="DoorDash Drive v2 (simulated)")
        sim = self

        async def read(request: Request) -> tuple[dict[str, Any] | None, JSONResponse | None]:
            refused = sim.authenticate(request)
            if refused is not None:
                return None, refused
            try:
                body = await request.json() if await request.body() else {}
            except json.JSONDecodeError:
                return None, _error(400, "validation_error", "Body is not JSON")
            if not isinstance(body, dict):
                return None, _error(400, "validation_error", "Body is not an object")
            return body, None

        @app.post("/drive/v2/quotes")
        async def create_quote(request: Request) -> Response:
            body, refused = await read(request)
            if refused is not None or body is None:
                return refused or _error(400, "validation_error", "No body")
            invalid = sim._validate(body) or sim._refusal(body)
            if invalid is not None:
                return invalid
            external_id = body["external_delivery_id"]
            with sim.lock:
                existing = sim.deliveries.get(external_id)
                if existing is not None and existing["status"] != "quote":
                    return _error(409, "duplicate_delivery_id",
                                  f"Delivery with external_delivery_id {external_id} exists")
                sim.deliveries[external_id] = sim._record(body, "quote")
                return JSONResponse(sim.view(external_id))

        @app.post("/drive/v2/quotes/{external_delivery_id}/accept")
        async def accept_quote(external_delivery_id: str, request: Request) -> Response:
            body, refused = await read(request)
            if refused is not None or body is None:
                return refused or _error(400, "validation_error", "No body")
            with sim.lock:
                record = sim.deliveries.get(external_delivery_id)
                if record is None:
                    return _error(404, "resource_not_found", "Quote not found")
                if record["status"] != "quote":
                    return _error(409, "duplicate_delivery_id",
                                  "The quote was already accepted")
                if sim.now() > record["quote_expires"]:
                    return _error(400, "quote_expired", "The quote has expired; quote again",
                                  field_errors=[{"field": "external_delivery_id",
                                                 "error": "quote expired"}])
                if "tip" in body:
                    record["body"]["tip"] = int(body["tip"])
                if body.get("dropoff_phone_number"):
                    record["body"]["dropoff_phone_number"] = body["dropoff_phone_number"]
                sim._book(record)
                return JSONResponse(sim.view(external_delivery_id, at=record["booked_at"]))

        @app.post("/drive/v2/deliveries")
        async def create_delivery(request: Request) -> Response:
            body, refused = await read(request)
            if refused is not None or body is None:
                return refused or _error(400, "validation_error", "No body")
            invalid = sim._validate(body)
            if invalid is not None:
                return invalid
            external_id = body["external_delivery_id"]
            with sim.lock:
                existing = sim.deliveries.get(external_id)
                if existing is not None and existing["status"] != "quote":
                    return _error(409, "duplicate_delivery_id",
                                  f"Delivery with external_delivery_id {external_id} exists")
            refusal = sim._refusal(body)
            if refusal is not None:
                return refusal
            with sim.lock:
                record = sim._record(body, "created")
                sim.deliveries[external_id] = record
                sim._book(record)
                return JSONResponse(sim.view(external_id, at=record["booked_at"]))

        @app.get("/drive/v2/deliveries/{external_delivery_id}")
        async def get_delivery(external_delivery_id: str, request: Request) -> Response:
            refused = sim.authenticate(request)
            if refused is not None:
                return refused
            with sim.lock:
                if external_delivery_id not in sim.deliveries:
                    return _error(404, "resource_not_found", "Delivery not found")
                return JSONResponse(sim.view(external_delivery_id))

        @app.patch("/drive/v2/deliveries/{external_delivery_id}")
        async def update_delivery(external_delivery_id: str, request: Request) -> Response:
            body, refused = await read(request)
            if refused is not None or body is None:
                return refused or _error(400, "validation_error", "No body")
            with sim.lock:
                record = sim.deliveries.get(external_delivery_id)
                if record is None:
                    return _error(404, "resource_not_found", "Delivery not found")
                view = sim.view(external_delivery_id)
                if view["delivery_status"] in ("picked_up", "enroute_to_dropoff",
                                               "arrived_at_dropoff", "delivered", "cancelled"):
                    return _error(409, "cannot_be_updated", "The delivery can no longer change")
                for name in ("dropoff_instructions", "dropoff_phone_number", "tip",
                             "pickup_instructions", "dropoff_contact_given_name"):
                    if name in body:
                        record["body"][name] = body[name]
                return JSONResponse(sim.view(external_delivery_id))

        @app.put("/drive/v2/deliveries/{external_delivery_id}/cancel")
        async def cancel_delivery(external_delivery_id: str, request: Request) -> Response:
            refused = sim.authenticate(request)
            if refused is not None:
                return refused
            with sim.lock:
                record = sim.deliveries.get(external_delivery_id)
                if record is None:
                    return _error(404, "resource_not_found", "Delivery not found")
                trip = sim.trips.get(external_delivery_id)
                if record["status"] == "quote" or trip is None:
                    return _error(409, "delivery_not_cancellable", "Only a delivery cancels")
                stage = trip.stage(sim.now())
                if stage >= Stage.PICKED_UP:
                    return _error(409, "delivery_not_cancellable",
                                  "The Dasher has already picked the order up"
                                  if stage != Stage.CANCELLED else "Already cancelled")
                sim.cancel_trip(trip, "merchant")
                return JSONResponse(sim.view(external_delivery_id))

        @app.get("/drive/track/{external_delivery_id}")
        def track(external_delivery_id: str) -> Response:
            with sim.lock:
                if external_delivery_id not in sim.deliveries:
                    return _error(404, "resource_not_found", "Delivery not found")
                view = sim.view(external_delivery_id)
            return JSONResponse({k: view.get(k) for k in (
                "delivery_status", "dasher_name", "dasher_location", "dropoff_time_estimated")})

        return app

    def expire_quotes(self) -> None:
        """Make every outstanding quote expired (as if 5 minutes had passed)."""
        with self.lock:
            for record in self.deliveries.values():
                record["quote_expires"] = self.now() - 1


def start(port: int = 0, **kw: Any) -> tuple[str, DoorDashSimulator]:
    sim = DoorDashSimulator(**kw)
    return sim.start(port=port), sim


def demo_settings(url: str) -> dict[str, str]:
    """The `Settings` fields (TOWNSQUARE_DELIVERY_DOORDASH_*) that reach this simulator."""
    return {
        "delivery_doordash_url": url, "delivery_doordash_account": DEMO_DEVELOPER_ID,
        "delivery_doordash_key_id": DEMO_KEY_ID, "delivery_doordash_secret": DEMO_SIGNING_SECRET,
        "delivery_doordash_webhook_secret": DEMO_WEBHOOK_AUTH,
    }


if __name__ == "__main__":
    command_line("doordash", DoorDashSimulator, default_port=DEFAULT_PORT)
