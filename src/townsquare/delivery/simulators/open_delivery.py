"""An Open Delivery (Abrasel, v1 logistics module) Logistic Service, simulated.

`POST /oauth/token` (form client_credentials, `od.all`), `POST /v1/logistics/availability`
(price and ETAs, no quote id), `POST /v1/logistics/delivery` answering **202** with
`{deliveryId, event: "PENDING", completion}`: acceptance is asynchronous, an `ACCEPTED` (with
the delivery person) or `REJECTED` (with `rejectionInfo.reason`) event follows by webhook.
`GET /v1/logistics/delivery/{orderId}` (the event history), `POST /v1/logistics/cancel/{orderId}`
(202, then a `CANCELLED` event). Webhooks are POSTed with `X-App-Id`, `X-App-MerchantId` and
`X-App-Signature` = lower-case hex HMAC-SHA256 of the raw body with the client secret. A second
request for an `orderId` is refused (422) unless its last event was `REJECTED`.

`python -m townsquare.delivery.simulators.open_delivery --port 8704 --webhook-url URL`"""

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
)

DEMO_APP_ID = "ts-demo-logistics"
DEMO_CLIENT_ID = "ts-demo-od-client"
DEMO_CLIENT_SECRET = "ts-demo-od-client-secret"
DEFAULT_PORT = 8704
TOKEN_TTL_S = 7 * 24 * 3600
ACCEPT_AFTER_S = 10.0  # simulated seconds before ACCEPTED / REJECTED

STAGE_EVENTS = {
    Stage.CREATED: [], Stage.ASSIGNED: ["ACCEPTED", "PICKUP_ONGOING"],
    Stage.AT_PICKUP: ["ARRIVED_AT_MERCHANT"], Stage.PICKED_UP: ["ORDER_PICKED", "DELIVERY_ONGOING"],
    Stage.AT_DROPOFF: ["ARRIVED_AT_CUSTOMER"],
    Stage.DELIVERED: ["ORDER_DELIVERED", "DELIVERY_FINISHED"], Stage.CANCELLED: ["CANCELLED"],
}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def _error(status: int, title: str) -> JSONResponse:
    return JSONResponse({"title": title, "status": status}, status_code=status,
                        media_type="application/problem+json")


class OpenDeliverySimulator(Simulator):
    provider = "open_delivery"

    def __init__(self, *, app_id: str = DEMO_APP_ID, client_id: str = DEMO_CLIENT_ID,
                 client_secret: str = DEMO_CLIENT_SECRET, **kw: Any) -> None:
        self.app_id = app_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.tokens: dict[str, float] = {}
        self.orders: dict[str, dict[str, Any]] = {}  # orderId → record (last attempt)
        super().__init__(**kw)

    def authorised(self, request: Request) -> JSONResponse | None:
        header = request.headers.get("authorization", "")
        token = header.split(" ", 1)[1] if header.lower().startswith("bearer ") else ""
        with self.lock:
            until = self.tokens.get(token)
        if until is None or until < self.now():
            return _error(401, "Unauthorized")
        return None

    # -- records ----------------------------------------------------------------------------

    @staticmethod
    def _points(body: dict[str, Any]) -> tuple[tuple[float, float], tuple[float, float]]:
        p, d = body["pickupAddress"], body["deliveryAddress"]
        return ((float(p["latitude"]), float(p["longitude"])),
                (float(d["latitude"]), float(d["longitude"])))

    def _invalid(self, body: Any, needed: tuple[str, ...]) -> JSONResponse | None:
        if not isinstance(body, dict):
            return _error(400, "The body is not a JSON object")
        missing = [name for name in needed if body.get(name) in (None, "")]
        if missing:
            return _error(400, f"Missing fields: {', '.join(missing)}")
        try:
            self._points(body)
        except (KeyError, TypeError, ValueError):
            return _error(400, "pickupAddress and deliveryAddress need latitude and longitude")
        return None

    def _price(self, body: dict[str, Any]) -> tuple[int, float, float, float]:
        pickup, dropoff = self._points(body)
        dist, to_pickup, to_dropoff = self.estimate(pickup, dropoff)
        return self.fee_cents(dist), dist, to_pickup, to_dropoff

    def _eta(self, to_pickup: float, to_dropoff: float, limit_min: int | None) -> dict[str, Any]:
        now = self.now()
        minutes = 1 / max(self.pace, 1e-9) / 60  # wall seconds → simulated minutes
        return {
            "updateMethod": "ONLINE",
            "pickupEtaInMinutes": round(to_pickup * minutes),
            "pickupEtaDatetime": _iso(now + to_pickup),
            "deliveryEtaInMinutes": round(to_dropoff * minutes),
            "deliveryEtaDatetime": _iso(now + to_dropoff),
            "maxDeliveryTime": _iso(now + (limit_min or 60) * 60 * self.pace),
        }

    def _person(self, trip: Trip) -> dict[str, Any]:
        return {"id": str(trip.courier.id), "name": trip.courier.name,
                "phone": trip.courier.phone, "pictureURL": ""}

    def _event(self, record: dict[str, Any], kind: str, at: float,
               extra: dict[str, Any] | None = None) -> dict[str, Any]:
        event = {"type": kind, "datetime": _iso(at), **(extra or {})}
        record["events"].append(event)
        return event

    def details(self, order_id: str) -> dict[str, Any]:
        record = self.orders[order_id]
        body = record["body"]
        trip = self.trips.get(record["deliveryId"])
        out: dict[str, Any] = {
            "deliveryId": record["deliveryId"], "orderId": order_id,
            "orderDisplayId": body.get("orderDisplayId", ""), "merchant": body["merchant"],
            "customerName": body.get("customerName", ""),
            "customerPhone": body.get("customerPhone", ""),
            "events": list(record["events"]), "combinedOrdersIds": [],
            "externalTrackingURL": f"{self.url}/track/{record['deliveryId']}",
        }
        accepted = any(e["type"] == "ACCEPTED" for e in record["events"])
        if accepted and trip is not None:
            out["deliveryPerson"] = self._person(trip)
            out["vehicle"] = {"type": "MOTORBIKE_BAG", "container": "THERMIC"}
            out["deliveryPrice"] = {"price": {"value": round(record["fee"] / 100, 2),
                                              "currency": "CNY"},
                                    "pricingList": "NORMAL", "additionalPricePercentual": 0}
            finished = trip.stage(self.now()) == Stage.DELIVERED
            out["times"] = {"deliveryEtaDate": _iso(trip.t_at_dropoff),
                            "maxDeliveryTime": _iso(trip.t_delivered + 1800 * self.pace),
                            "isDeliveryFinished": finished}
            if finished:
                out["times"]["deliveryFinishDate"] = _iso(trip.t_delivered)
        return out

    # -- webhooks ---------------------------------------------------------------------------

    def _send(self, record: dict[str, Any], event: dict[str, Any], trip: Trip,
              position: tuple[float, float] | None) -> None:
        body = record["body"]
        payload: dict[str, Any] = {
            "deliveryId": record["deliveryId"], "orderId": body["orderId"],
            "orderDisplayId": body.get("orderDisplayId", ""), "merchant": body["merchant"],
            "customerName": body.get("customerName", ""), "event": event,
            "externalTrackingURL": f"{self.url}/track/{record['deliveryId']}",
            "combinedOrdersIds": [],
        }
        if event["type"] not in ("PENDING", "REJECTED", "CANCELLED"):
            _, _, to_pickup, to_dropoff = self._price(body)
            payload["deliveryPerson"] = self._person(trip)
            payload["vehicle"] = {"type": "MOTORBIKE_BAG", "container": "THERMIC"}
            payload["deliveryPrice"] = {"price": {"value": round(record["fee"] / 100, 2),
                                                  "currency": "CNY"},
                                        "pricingList": "NORMAL", "additionalPricePercentual": 0}
            payload["eta"] = {
                "updateMethod": "OFFLINE",
                "pickupEtaInMinutes": 0, "pickupEtaDatetime": _iso(trip.t_at_pickup),
                "deliveryEtaInMinutes": 0, "deliveryEtaDatetime": _iso(trip.t_at_dropoff),
                "maxDeliveryTime": _iso(trip.t_delivered + 1800 * self.pace),
            }
        if position is not None:
            payload["geoLocalization"] = {"latitude": position[0], "longitude": position[1]}
        raw = json.dumps(payload, ensure_ascii=False).encode()
        signature = hmac.new(self.client_secret.encode(), raw, hashlib.sha256).hexdigest()
        self.send_webhook(self.webhook_url, {
            "content-type": "application/json", "x-app-id": self.app_id,
            "x-app-merchantid": str(body["merchant"].get("id", "")),
            "x-app-signature": signature}, raw)

    def stage_webhooks(self, trip: Trip, stage: Stage) -> None:
        with self.lock:
            record = trip.extra.get("record")
            if record is None:
                return
            if stage == Stage.CANCELLED and trip.cancelled_by == "rejected":
                kinds = ["REJECTED"]
            else:
                kinds = STAGE_EVENTS[stage]
            at = trip.stage_at(stage)
            position = trip.position(at + 1e-6) if stage != Stage.CANCELLED else None
            events = []
            for kind in kinds:
                extra: dict[str, Any] = {}
                if kind == "REJECTED":
                    extra["rejectionInfo"] = {"reason": trip.extra.get("reject_reason",
                                                                       "OTHER")}
                if kind == "CANCELLED":
                    extra["message"] = trip.extra.get("cancel_message", "")
                events.append(self._event(record, kind, at, extra))
        for event in events:
            self._send(record, event, trip, position)

    def location_webhook(self, trip: Trip, now: float) -> None:
        """The *_ONGOING events repeat while the courier moves (the spec's location updates)."""
        with self.lock:
            record = trip.extra.get("record")
            stage = trip.stage(now)
            kind = {Stage.ASSIGNED: "PICKUP_ONGOING", Stage.PICKED_UP: "DELIVERY_ONGOING"}.get(
                stage)
            if record is None or kind is None:
                return
            event = self._event(record, kind, now)
        self._send(record, event, trip, trip.position(now))

    def failure_response(self) -> Response:
        return _error(503, "Service unavailable")

    # -- the API ----------------------------------------------------------------------------

    def build_app(self) -> FastAPI:
        app = FastAPI(title="Open Delivery Logistic Service (simulated)")
        sim = self

        async def json_body(request: Request) -> Any:
            try:
                return await request.json()
            except json.JSONDecodeError:
                return None

        @app.post("/oauth/token")
        async def token(request: Request) -> Response:
            form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
            if form.get("grant_type") != "client_credentials":
                return _error(400, "unsupported_grant_type")
            if not (hmac.compare_digest(form.get("client_id", ""), sim.client_id)
                    and hmac.compare_digest(form.get("client_secret", ""), sim.client_secret)):
                return _error(401, "invalid_client")
            access = secrets.token_urlsafe(32)
            with sim.lock:
                sim.tokens[access] = sim.now() + TOKEN_TTL_S
            return JSONResponse({"access_token": access, "token_type": "bearer",
                                 "expires_in": TOKEN_TTL_S})

        @app.post("/v1/logistics/availability")
        async def availability(request: Request) -> Response:
            refused = sim.authorised(request)
            if refused is not None:
                return refused
            body = await json_body(request)
            invalid = sim._invalid(body, ("pickupAddress", "deliveryAddress", "vehicle",
                                          "limitTimes", "totalOrderPrice"))
            if invalid is not None:
                return invalid
            fee, dist, to_pickup, to_dropoff = sim._price(body)
            if dist > SERVICE_RADIUS_M or sim.take_rejection():
                return _error(404, "Region not served")
            limit = (body.get("limitTimes") or {}).get("deliveryLimit")
            return JSONResponse({
                "deliveryPrice": {"price": {"value": round(fee / 100, 2), "currency": "CNY"},
                                  "pricingList": "NORMAL", "additionalPricePercentual": 0},
                "vehicles": {"availableVehicles": 3, "nextAvailableVehicle": 0},
                "ETAs": sim._eta(to_pickup, to_dropoff, limit),
            })

        @app.post("/v1/logistics/delivery")
        async def new_delivery(request: Request) -> Response:
            refused = sim.authorised(request)
            if refused is not None:
                return refused
            body = await json_body(request)
            invalid = sim._invalid(body, (
                "orderId", "orderDisplayId", "merchant", "pickupAddress", "deliveryAddress",
                "customerName", "vehicle", "limitTimes", "totalOrderPrice", "totalWeight",
                "payments"))
            if invalid is not None:
                return invalid
            order_id = str(body["orderId"])
            fee, dist, _, _ = sim._price(body)
            pickup, dropoff = sim._points(body)
            with sim.lock:
                previous = sim.orders.get(order_id)
                if previous is not None and previous["events"][-1]["type"] != "REJECTED":
                    return _error(422, "Duplicate orderId: this order already has a delivery")
                delivery_id = f"odd-{secrets.token_hex(8)}"
                record = {"deliveryId": delivery_id, "body": body, "fee": fee, "events": []}
                sim.orders[order_id] = record
                now = sim.now()
                trip = sim.new_trip(delivery_id, pickup, dropoff, record=record)
                # acceptance comes sooner than a courier would; a refusal instead of it
                trip.t_assigned = min(trip.t_assigned, now + ACCEPT_AFTER_S * sim.pace)
                if dist > SERVICE_RADIUS_M or sim.take_rejection():
                    trip.cancelled_at = now + ACCEPT_AFTER_S * sim.pace
                    trip.cancelled_by = "rejected"
                    trip.courier_cancels_at = None
                    trip.extra["reject_reason"] = (
                        "REGION_NOT_SERVED" if dist > SERVICE_RADIUS_M
                        else "NO_DELIVERYPERSON_AVAILABLE")
                sim._event(record, "PENDING", now)
                trip.emitted = Stage.CREATED  # PENDING is the answer itself, not a webhook
                limit = (body.get("limitTimes") or {}).get("deliveryLimit") or 60
                return JSONResponse({
                    "deliveryId": delivery_id, "event": "PENDING",
                    "completion": {"estimate": _iso(trip.t_delivered),
                                   "rejectAfter": _iso(now + limit * 60 * sim.pace)},
                    "deliveryDetailsURL": f"{sim.url}/track/{delivery_id}",
                }, status_code=202)

        @app.get("/v1/logistics/delivery/{order_id}")
        def delivery_details(order_id: str, request: Request) -> Response:
            refused = sim.authorised(request)
            if refused is not None:
                return refused
            with sim.lock:
                if order_id not in sim.orders:
                    return _error(404, "Order not found")
                return JSONResponse(sim.details(order_id))

        @app.post("/v1/logistics/cancel/{order_id}")
        async def cancel(order_id: str, request: Request) -> Response:
            refused = sim.authorised(request)
            if refused is not None:
                return refused
            body = await json_body(request)
            if not isinstance(body, dict) or not body.get("reason"):
                return _error(400, "reason is required")
            with sim.lock:
                record = sim.orders.get(order_id)
                if record is None:
                    return _error(404, "Order not found")
                trip = sim.trips[record["deliveryId"]]
                stage = trip.stage(sim.now())
                if stage >= Stage.PICKED_UP and stage != Stage.CANCELLED:
                    return _error(422, "The order was already picked up")
                if stage == Stage.CANCELLED:
                    return _error(422, "The delivery is already over")
                trip.extra["cancel_message"] = str(body.get("message", ""))
                sim.cancel_trip(trip, "merchant")
            sim._tick()  # the CANCELLED event is recorded before this answer
            return JSONResponse({"additionalCharges": stage >= Stage.ASSIGNED},
                                status_code=202)

        return app


def start(port: int = 0, **kw: Any) -> tuple[str, OpenDeliverySimulator]:
    sim = OpenDeliverySimulator(**kw)
    return sim.start(port=port), sim


def demo_settings(url: str) -> dict[str, str]:
    """The `Settings` fields (TOWNSQUARE_DELIVERY_OPEN_DELIVERY_*) that reach this simulator."""
    return {
        "delivery_open_delivery_url": url, "delivery_open_delivery_account": DEMO_APP_ID,
        "delivery_open_delivery_key_id": DEMO_CLIENT_ID,
        "delivery_open_delivery_secret": DEMO_CLIENT_SECRET,
        "delivery_open_delivery_webhook_secret": DEMO_CLIENT_SECRET,
    }


if __name__ == "__main__":
    command_line("open_delivery", OpenDeliverySimulator, default_port=DEFAULT_PORT)
