"""What the provider simulators share: couriers moving through the demo city, the webhook sender
with its faults, the fault switches and the uvicorn thread.

A simulator is the provider's side of a real protocol (simulators/doordash.py, uber.py, dada.py):
a real HTTP server that the adapters talk to over loopback. Each booked delivery becomes a `Trip`:
a courier appears somewhere in Wuhan, rides to the pickup, waits, rides to the drop-off, waits and
hands the parcel over. Where the courier is and which stage the trip is in are functions of the
clock (positions interpolated between the points), so a status query and the webhooks always
agree. `pace` is wall seconds per simulated second: 1.0 is real time, the demo runs at 0.2, the
tests at about 0.001 (a trip in a second or two).

Nothing here imports Townsquare's delivery model: a simulator is the other party, it knows only
its own protocol."""

from __future__ import annotations

import argparse
import asyncio
import enum
import hashlib
import json
import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request, Response

log = logging.getLogger(__name__)

# The demo city: Wuhan (武汉), around Jianghan Road. Couriers start within a few kilometres.
WUHAN_CENTER = (30.5928, 114.3055)
COURIER_SPEED_MPS = 5.0  # an e-bike through city traffic, 18 km/h
SERVICE_RADIUS_M = 15_000  # farther than this between pickup and drop-off: out of area

COURIER_NAMES = ("王师傅", "李明", "张伟", "刘洋", "陈静", "杨帆", "赵磊", "黄勇", "周杰", "吴敏")


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in metres between two (lat, lng) points."""
    lat1, lng1, lat2, lng2 = map(math.radians, (*a, *b))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2)
    return 2 * 6_371_000 * math.asin(min(1.0, math.sqrt(h)))


def lerp(a: tuple[float, float], b: tuple[float, float], f: float) -> tuple[float, float]:
    f = max(0.0, min(1.0, f))
    return (round(a[0] + (b[0] - a[0]) * f, 6), round(a[1] + (b[1] - a[1]) * f, 6))


class Stage(enum.IntEnum):
    """The simulator's own neutral stages; each protocol names them its way."""

    CREATED = 0
    ASSIGNED = 1
    AT_PICKUP = 2
    PICKED_UP = 3
    AT_DROPOFF = 4
    DELIVERED = 5
    CANCELLED = 9


# Simulated seconds each fixed step takes (travel time comes from the distance).
ASSIGN_AFTER_S = 30.0
WAIT_AT_PICKUP_S = 120.0
WAIT_AT_DROPOFF_S = 60.0
COURIER_CANCELS_AFTER_S = 20.0  # cancel_after_assignment: the courier gives up this long after


@dataclass
class Courier:
    id: int
    name: str
    phone: str


@dataclass
class Trip:
    """One delivery's courier and timeline (wall-clock seconds, time.time())."""

    key: str
    pickup: tuple[float, float]
    dropoff: tuple[float, float]
    origin: tuple[float, float]  # where the courier is when assigned
    courier: Courier
    created_at: float
    t_assigned: float
    t_at_pickup: float
    t_picked_up: float
    t_at_dropoff: float
    t_delivered: float
    cancelled_at: float | None = None
    cancelled_by: str = ""  # "merchant" (our cancel call) or "courier" (a provider-side cancel)
    courier_cancels_at: float | None = None
    emitted: Stage | None = None  # the last stage whose webhooks were sent
    extra: dict[str, Any] = field(default_factory=dict)  # the protocol's own record

    def stage(self, now: float) -> Stage:
        if self.cancelled_at is not None and now >= self.cancelled_at:
            return Stage.CANCELLED
        for stage, at in (
            (Stage.DELIVERED, self.t_delivered), (Stage.AT_DROPOFF, self.t_at_dropoff),
            (Stage.PICKED_UP, self.t_picked_up), (Stage.AT_PICKUP, self.t_at_pickup),
            (Stage.ASSIGNED, self.t_assigned),
        ):
            if now >= at:
                return stage
        return Stage.CREATED

    def stage_at(self, stage: Stage) -> float:
        return {
            Stage.CREATED: self.created_at, Stage.ASSIGNED: self.t_assigned,
            Stage.AT_PICKUP: self.t_at_pickup, Stage.PICKED_UP: self.t_picked_up,
            Stage.AT_DROPOFF: self.t_at_dropoff, Stage.DELIVERED: self.t_delivered,
            Stage.CANCELLED: self.cancelled_at or self.created_at,
        }[stage]

    def position(self, now: float) -> tuple[float, float] | None:
        """The courier's (lat, lng), None before one is assigned."""
        if self.cancelled_at is not None and now >= self.cancelled_at:
            now = self.cancelled_at
        if now < self.t_assigned:
            return None
        if now < self.t_at_pickup:
            return lerp(self.origin, self.pickup,
                        (now - self.t_assigned) / max(1e-9, self.t_at_pickup - self.t_assigned))
        if now < self.t_picked_up:
            return self.pickup
        if now < self.t_at_dropoff:
            return lerp(self.pickup, self.dropoff,
                        (now - self.t_picked_up) / max(1e-9, self.t_at_dropoff - self.t_picked_up))
        return self.dropoff

    @property
    def distance_m(self) -> float:
        return distance_m(self.pickup, self.dropoff)


@dataclass
class SentWebhook:
    url: str
    headers: dict[str, str]
    body: bytes
    status: int | None  # the receiver's answer, None when it could not be reached


@dataclass
class _Outgoing:
    url: str
    headers: dict[str, str]
    body: bytes
    attempts: int = 0


class Simulator:
    """The shared half of a provider simulator: trips, faults, webhooks, serving.

    Subclasses build the FastAPI app of their protocol (`build_app`), say how a stage becomes
    webhooks (`stage_webhooks`) and how a failure or a refusal looks in their protocol."""

    provider = "simulator"
    control_prefix = "/_simulator"

    def __init__(self, *, pace: float = 0.2, webhook_url: str | None = None,
                 seed: int | None = None) -> None:
        self.pace = pace
        self.webhook_url = webhook_url
        self.random = random.Random(seed)
        self.lock = threading.RLock()
        self.trips: dict[str, Trip] = {}
        self.sent: list[SentWebhook] = []
        self.url = ""
        # fault switches
        self._slow_s = 0.0
        self._slow_calls: int | None = None  # None: every call; n: the next n matching calls
        self._slow_match: re.Pattern[str] | None = None
        self._fail_next = 0
        self._reject_next = 0
        self._lose_webhooks = 0
        self._duplicate_webhooks = False
        self._shuffle_webhooks = False
        self._cancel_after_assignment = 0
        # machinery
        self._outbox: list[_Outgoing] = []
        self._outbox_changed = threading.Condition(self.lock)
        self._last_enqueued = 0.0
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._server: uvicorn.Server | None = None
        self._next_courier = 1
        self.location_every_s = 20.0  # simulated seconds between courier location webhooks
        self.fee_multiplier = 1.0  # this provider's prices against the others' (demo, tests)
        self.app = self.build_app()
        self._add_common_routes(self.app)

    # -- the switches (in process; also over HTTP at /_simulator/faults) ---------------------

    def slow(self, seconds: float, calls: int | None = None, match: str = "") -> None:
        """Answer API calls this many seconds late (the work is done first): every call, or
        only the next `calls` ones, and only those whose "METHOD /path" matches the regular
        expression `match` when given (e.g. `^POST .*/deliveries$`: creates only)."""
        with self.lock:
            self._slow_s = max(0.0, float(seconds))
            self._slow_calls = None if calls is None else max(0, int(calls))
            self._slow_match = re.compile(match) if match else None

    def take_delay(self, method: str, path: str) -> float:
        """How late to answer this call (used by the serving middleware)."""
        with self.lock:
            if not self._slow_s:
                return 0.0
            if self._slow_match is not None and not self._slow_match.search(
                    f"{method} {path}"):
                return 0.0
            if self._slow_calls is not None:
                if self._slow_calls <= 0:
                    return 0.0
                self._slow_calls -= 1
            return self._slow_s

    def fail_next(self, n: int = 1) -> None:
        """The next n API calls fail (the provider's 5xx), doing nothing."""
        with self.lock:
            self._fail_next = max(0, int(n))

    def reject_next(self, n: int = 1) -> None:
        """The next n quotes or creates are refused (out of area, no courier)."""
        with self.lock:
            self._reject_next = max(0, int(n))

    def lose_webhooks(self, n: int = 1) -> None:
        """The next n webhooks are never sent."""
        with self.lock:
            self._lose_webhooks = max(0, int(n))

    def duplicate_webhooks(self, on: bool = True) -> None:
        """Send every webhook twice."""
        with self.lock:
            self._duplicate_webhooks = bool(on)

    def shuffle_webhooks(self, on: bool = True) -> None:
        """Hold webhooks until a quiet half second, then send them out of order."""
        with self.lock:
            self._shuffle_webhooks = bool(on)
            self._outbox_changed.notify_all()

    def cancel_after_assignment(self, n: int = 1) -> None:
        """The couriers of the next n deliveries cancel them soon after accepting."""
        with self.lock:
            self._cancel_after_assignment = max(0, int(n))

    def reset(self) -> None:
        with self.lock:
            self._slow_s = 0.0
            self._slow_calls, self._slow_match = None, None
            self._fail_next = self._reject_next = self._lose_webhooks = 0
            self._cancel_after_assignment = 0
            self._duplicate_webhooks = self._shuffle_webhooks = False
            self._outbox_changed.notify_all()

    def faults(self) -> dict[str, Any]:
        with self.lock:
            return {
                "slow": self._slow_s, "fail_next": self._fail_next,
                "reject_next": self._reject_next, "lose_webhooks": self._lose_webhooks,
                "duplicate_webhooks": self._duplicate_webhooks,
                "shuffle_webhooks": self._shuffle_webhooks,
                "cancel_after_assignment": self._cancel_after_assignment,
            }

    # -- used by the protocol handlers -------------------------------------------------------

    def take_failure(self) -> bool:
        with self.lock:
            if self._fail_next > 0:
                self._fail_next -= 1
                return True
            return False

    def take_rejection(self) -> bool:
        with self.lock:
            if self._reject_next > 0:
                self._reject_next -= 1
                return True
            return False

    def now(self) -> float:
        return time.time()

    def new_trip(self, key: str, pickup: tuple[float, float],
                 dropoff: tuple[float, float], **extra: Any) -> Trip:
        """Book a courier for a parcel: the timeline starts now."""
        with self.lock:
            rng = self.random
            angle = rng.uniform(0, 2 * math.pi)
            radius = rng.uniform(600, 2500)  # metres from the pickup
            origin = (
                round(pickup[0] + radius * math.cos(angle) / 111_000, 6),
                round(pickup[1] + radius * math.sin(angle)
                      / (111_000 * math.cos(math.radians(pickup[0]))), 6),
            )
            number = self._next_courier
            self._next_courier += 1
            courier = Courier(
                id=100_000 + number,
                name=COURIER_NAMES[(number - 1) % len(COURIER_NAMES)],
                phone=f"1{rng.randint(30, 89)}{rng.randint(10_000_000, 99_999_999)}",
            )
            start = self.now()
            t_assigned = start + ASSIGN_AFTER_S * self.pace
            t_at_pickup = t_assigned + distance_m(origin, pickup) / COURIER_SPEED_MPS * self.pace
            t_picked_up = t_at_pickup + WAIT_AT_PICKUP_S * self.pace
            t_at_dropoff = (t_picked_up
                            + distance_m(pickup, dropoff) / COURIER_SPEED_MPS * self.pace)
            trip = Trip(
                key=key, pickup=pickup, dropoff=dropoff, origin=origin, courier=courier,
                created_at=start, t_assigned=t_assigned, t_at_pickup=t_at_pickup,
                t_picked_up=t_picked_up, t_at_dropoff=t_at_dropoff,
                t_delivered=t_at_dropoff + WAIT_AT_DROPOFF_S * self.pace, extra=dict(extra),
            )
            if self._cancel_after_assignment > 0:
                self._cancel_after_assignment -= 1
                trip.courier_cancels_at = t_assigned + COURIER_CANCELS_AFTER_S * self.pace
            self.trips[key] = trip
            self._outbox_changed.notify_all()
            return trip

    def cancel_trip(self, trip: Trip, by: str) -> None:
        with self.lock:
            if trip.cancelled_at is None:
                trip.cancelled_at = self.now()
                trip.cancelled_by = by
            self._outbox_changed.notify_all()

    def estimate(self, pickup: tuple[float, float],
                 dropoff: tuple[float, float]) -> tuple[float, float, float]:
        """(distance m, seconds to pickup, seconds to drop-off) from now, in wall seconds."""
        dist = distance_m(pickup, dropoff)
        to_pickup = (ASSIGN_AFTER_S + 1500 / COURIER_SPEED_MPS) * self.pace
        to_dropoff = to_pickup + (WAIT_AT_PICKUP_S + dist / COURIER_SPEED_MPS) * self.pace
        return dist, to_pickup, to_dropoff

    def fee_cents(self, dist_m: float) -> int:
        """A same-city price: 6 yuan for the first 3 km, 1.5 yuan per km after (in fen/cents),
        times this provider's `fee_multiplier`."""
        extra_km = max(0.0, (dist_m - 3000) / 1000)
        return int(round((600 + math.ceil(extra_km * 150)) * self.fee_multiplier))

    def send_webhook(self, url: str | None, headers: dict[str, str], body: bytes) -> None:
        """Queue a webhook; the sender thread applies the webhook faults."""
        if not url:
            return
        with self.lock:
            self._outbox.append(_Outgoing(url, dict(headers), body))
            self._last_enqueued = time.monotonic()
            self._outbox_changed.notify_all()

    # -- to be provided by each protocol -----------------------------------------------------

    def build_app(self) -> FastAPI:  # pragma: no cover - abstract
        raise NotImplementedError

    def stage_webhooks(self, trip: Trip, stage: Stage) -> None:
        """Queue the protocol's webhooks for `trip` reaching `stage` (called in order)."""

    def location_webhook(self, trip: Trip, now: float) -> None:
        """Queue a courier-location webhook, for protocols that send one."""

    def failure_response(self) -> Response:
        return Response(status_code=503, content=b'{"message":"service unavailable"}',
                        media_type="application/json")

    def is_api_path(self, path: str) -> bool:
        return not path.startswith(self.control_prefix)

    # -- the ticker: stages and courier positions into webhooks ------------------------------

    def _tick(self) -> None:
        now = self.now()
        with self.lock:
            trips = list(self.trips.values())
        for trip in trips:
            with self.lock:
                if (trip.courier_cancels_at is not None and trip.cancelled_at is None
                        and now >= trip.courier_cancels_at
                        and trip.stage(now) < Stage.PICKED_UP):
                    trip.cancelled_at = trip.courier_cancels_at
                    trip.cancelled_by = "courier"
                stage = trip.stage(now)
                last = trip.emitted
                if last == stage or last == Stage.CANCELLED or (
                        last is not None and last == Stage.DELIVERED):
                    due: list[Stage] = []
                elif stage == Stage.CANCELLED:
                    due = [Stage.CANCELLED]
                else:
                    start = Stage.CREATED if last is None else Stage(last + 1)
                    due = [s for s in Stage if start <= s <= stage and s != Stage.CANCELLED]
                if due:
                    trip.emitted = stage
            for s in due:
                try:
                    self.stage_webhooks(trip, s)
                except Exception:  # a simulator bug must not stop the ticker
                    log.exception("%s simulator: webhook for %s failed", self.provider, trip.key)
            if Stage.ASSIGNED <= stage < Stage.DELIVERED and stage != Stage.CANCELLED:
                last_loc = trip.extra.get("_last_location", trip.t_assigned)
                if now - last_loc >= self.location_every_s * self.pace and not due:
                    trip.extra["_last_location"] = now
                    self.location_webhook(trip, now)

    def _ticker(self) -> None:
        while not self._stopping.is_set():
            try:
                self._tick()
            except Exception:
                log.exception("%s simulator ticker", self.provider)
            self._stopping.wait(min(0.5, max(0.01, 5 * self.pace)))

    # -- the sender: faults applied on the way out -------------------------------------------

    def _take_batch(self) -> list[_Outgoing]:
        with self.lock:
            while not self._stopping.is_set():
                if self._outbox:
                    if not self._shuffle_webhooks:
                        batch, self._outbox = self._outbox, []
                        return batch
                    quiet = time.monotonic() - self._last_enqueued
                    if quiet >= 0.5:
                        batch, self._outbox = self._outbox, []
                        if len(batch) > 1:
                            order = list(batch)
                            self.random.shuffle(batch)
                            if batch == order:
                                batch.reverse()
                        return batch
                    self._outbox_changed.wait(0.5 - quiet + 0.01)
                else:
                    self._outbox_changed.wait(0.5)
            return []

    def _sender(self) -> None:
        client = httpx.Client(timeout=5.0)
        try:
            while not self._stopping.is_set():
                for item in self._take_batch():
                    with self.lock:
                        if self._lose_webhooks > 0:
                            self._lose_webhooks -= 1
                            self.sent.append(SentWebhook(item.url, item.headers, item.body, -1))
                            continue
                        times = 2 if self._duplicate_webhooks else 1
                    for _ in range(times):
                        try:
                            self._deliver_webhook(client, item)
                        except Exception:  # the sender must outlive one bad webhook
                            log.exception("%s simulator: sending a webhook", self.provider)
        finally:
            client.close()

    def _deliver_webhook(self, client: httpx.Client, item: _Outgoing) -> None:
        status: int | None = None
        for attempt in range(3):  # providers retry a webhook that was not answered 2xx
            try:
                status = client.post(item.url, content=item.body, headers=item.headers).status_code
            except httpx.HTTPError:
                status = None
            if status is not None and status < 300:
                break
            if self._stopping.wait(0.2 * (attempt + 1)):
                break
        with self.lock:
            self.sent.append(SentWebhook(item.url, item.headers, item.body, status))

    # -- serving -----------------------------------------------------------------------------

    def _add_common_routes(self, app: FastAPI) -> None:
        sim = self

        @app.middleware("http")
        async def faults(request: Request, call_next: Callable[..., Any]) -> Response:
            api = sim.is_api_path(request.url.path)
            if api and sim.take_failure():
                return sim.failure_response()
            response: Response = await call_next(request)
            delay = sim.take_delay(request.method, request.url.path) if api else 0.0
            if delay:
                await asyncio.sleep(delay)
            return response

        @app.post(f"{self.control_prefix}/faults")
        async def set_faults(request: Request) -> dict[str, Any]:
            wanted = await request.json()
            for name in ("slow", "fail_next", "reject_next", "lose_webhooks",
                         "duplicate_webhooks", "shuffle_webhooks", "cancel_after_assignment"):
                if name in wanted:
                    getattr(sim, name)(wanted[name])
            if "slow" in wanted and ("slow_calls" in wanted or "slow_match" in wanted):
                sim.slow(wanted["slow"], wanted.get("slow_calls"), wanted.get("slow_match", ""))
            if "fee_multiplier" in wanted:
                sim.fee_multiplier = float(wanted["fee_multiplier"])
            if wanted.get("reset"):
                sim.reset()
            if "webhook_url" in wanted:
                sim.webhook_url = wanted["webhook_url"] or None
            return sim.faults()

        @app.get(f"{self.control_prefix}/state")
        def state() -> dict[str, Any]:
            return sim.state()

    def state(self) -> dict[str, Any]:
        """Every trip with its stage and courier position (the demo's map reads this)."""
        now = self.now()
        with self.lock:
            trips = list(self.trips.values())
        out = []
        for trip in trips:
            position = trip.position(now)
            out.append({
                "key": trip.key, "stage": trip.stage(now).name.lower(),
                "courier": trip.courier.name if position else None,
                "lat": position[0] if position else None,
                "lng": position[1] if position else None,
                "pickup": list(trip.pickup), "dropoff": list(trip.dropoff),
            })
        return {"provider": self.provider, "faults": self.faults(), "trips": out,
                "webhooks_sent": len(self.sent)}

    def start(self, port: int = 0, host: str = "127.0.0.1") -> str:
        """Serve in a thread (uvicorn) and start the ticker and the webhook sender; the URL."""
        config = uvicorn.Config(self.app, host=host, port=port, log_level="warning",
                                access_log=False, lifespan="off")
        server = uvicorn.Server(config)
        self._server = server
        thread = threading.Thread(target=server.run, name=f"{self.provider}-sim", daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the {self.provider} simulator did not start")
            time.sleep(0.01)
        bound = server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://{host}:{bound}"
        for target, name in ((self._ticker, "ticker"), (self._sender, "sender")):
            worker = threading.Thread(target=target, name=f"{self.provider}-{name}", daemon=True)
            worker.start()
            self._threads.append(worker)
        self._threads.append(thread)
        return self.url

    def stop(self) -> None:
        self._stopping.set()
        with self.lock:
            self._outbox_changed.notify_all()
        if self._server is not None:
            self._server.should_exit = True
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Poll `predicate` until true or `timeout` seconds pass (tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        return predicate()

    def sent_json(self) -> list[dict[str, Any]]:
        with self.lock:
            sent = list(self.sent)
        return [json.loads(item.body) for item in sent if item.status != -1]


def stable_id(prefix: str, *parts: Any) -> str:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()
    return f"{prefix}{digest[:24]}"


def command_line(name: str, factory: Callable[..., Simulator],
                 argv: Iterable[str] | None = None, default_port: int = 0) -> None:
    """`python -m townsquare.delivery.simulators.<name> --port N [--webhook-url U] [--pace P]`."""
    parser = argparse.ArgumentParser(prog=f"python -m townsquare.delivery.simulators.{name}",
                                     description=f"The {name} provider simulator (loopback).")
    parser.add_argument("--port", type=int, default=default_port)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--webhook-url", default=None,
                        help="where to POST webhooks (Townsquare's /delivery/webhooks/<provider>)")
    parser.add_argument("--pace", type=float, default=0.2,
                        help="wall seconds per simulated second (1.0 = real time)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    logging.basicConfig(level=logging.INFO)
    sim = factory(pace=args.pace, webhook_url=args.webhook_url)
    url = sim.start(port=args.port, host=args.host)
    print(f"{name} simulator on {url} (webhooks to {args.webhook_url or 'nowhere'})", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
