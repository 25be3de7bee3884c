"""Fixtures for the courier adapters: a webhook receiver (a real HTTP server on loopback that
records what the simulators POST) and parcels in the demo city."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from townsquare.delivery.adapters.base import Parcel, Place

# Fast enough for tests: a trip of a few kilometres in about two seconds.
PACE = 0.0008


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    path: str = ""


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def items(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = 15) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.items()):
                return True
            time.sleep(0.02)
        return predicate(self.items())


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            length = int(self.headers.get("content-length", 0))
            body = self.rfile.read(length)
            with box.lock:
                box.received.append(Received({k.lower(): v for k, v in self.headers.items()},
                                             body, self.path))
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"status":"ok"}')

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    box.url = f"http://127.0.0.1:{server.server_address[1]}/delivery/webhooks/test"
    try:
        yield box
    finally:
        server.shutdown()
        server.server_close()


_counter = iter(range(1, 10**9))


def make_parcel(delivery_id: str | None = None, *, far: bool = False) -> Parcel:
    n = next(_counter)
    return Parcel(
        delivery_id=delivery_id or f"dlv_test{int(time.time() * 1000)}{n}",
        pickup=Place(name="热干面馆", phone="+862788880000", address="武汉市江汉区江汉路 88 号",
                     lat=30.5801, lng=114.2890),
        dropoff=Place(name="张三", phone="+8613800000000",
                      address="武汉市武昌区中北路 1 号" if not far else "黄石市",
                      lat=30.5620 if not far else 30.1999, lng=114.3340 if not far else 115.0389),
        value_fen=4_800, items=["热干面", "豆皮"], pickup_ready_at=datetime.now(UTC),
        dropoff_code="4821",
    )
