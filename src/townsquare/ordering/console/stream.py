"""Server-sent events for the order console and the kitchen display.

Each open board holds one stream. Every `interval` seconds the stream asks
`orders.changes_since` (in a worker thread, its own short read-only unit of work: no
transaction stays open between polls) and sends one `orders` event per batch of changed orders,
its id the new cursor, so a browser that reconnects (`Last-Event-ID`) continues where it left.
A comment line every `KEEPALIVE` seconds keeps proxies from closing a quiet stream.

The stream ends when the client leaves (checked before each poll; Starlette also cancels the
generator on disconnect) or after `seconds` (at most `MAX_SECONDS`: the browser reconnects by
itself), which is also what makes it finite in tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool

from townsquare.core.database import Database
from townsquare.ordering import orders

MAX_SECONDS = 300
KEEPALIVE = 15.0


@dataclass(frozen=True)
class Watch:
    """What a stream follows: a merchant's orders (optionally one store's), or one order."""

    merchant_id: int | None = None
    order_id: int | None = None
    store_id: int | None = None


def order_summary(order: Any) -> dict[str, Any]:
    """What the page needs to know about a changed order to decide what to redraw (and whether to
    ring): no personal data, the page fetches the cards it shows."""
    return {"id": order.public_id, "status": str(order.status), "kind": str(order.kind),
            "number": order.pickup_number or "", "store": order.store_id}


def poll(database: Database, watch: Watch, cursor: str) -> tuple[str, list[dict[str, Any]]]:
    """One look at what changed after `cursor`: the new cursor and the changed orders."""
    with database.unit_of_work(read_only=True) as db:
        cursor, changed = orders.changes_since(db, merchant_id=watch.merchant_id,
                                               order_id=watch.order_id, cursor=cursor)
        found = [order_summary(o) for o in changed
                 if watch.store_id is None or o.store_id == watch.store_id]
    return cursor, found


def message(event: str, data: Any, *, ident: str = "") -> str:
    """One SSE message (`data` as one line of JSON)."""
    head = f"id: {ident}\n" if ident else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def events(database: Database, watch: Watch, cursor: str, *,
                 gone: Callable[[], Awaitable[bool]], seconds: float = MAX_SECONDS,
                 interval: float = 1.0) -> AsyncIterator[str]:
    """The stream's messages: `ready` first (with the cursor and the retry delay), then an
    `orders` event whenever something changed, until the client is `gone` or time is up."""
    loop = asyncio.get_running_loop()
    end = loop.time() + max(0.0, min(seconds, MAX_SECONDS))
    quiet_since = loop.time()
    yield "retry: 2000\n" + message("ready", {"cursor": cursor}, ident=cursor)
    while loop.time() < end:
        if await gone():
            return
        cursor, changed = await run_in_threadpool(poll, database, watch, cursor)
        if changed:
            quiet_since = loop.time()
            yield message("orders", {"cursor": cursor, "orders": changed}, ident=cursor)
        elif loop.time() - quiet_since >= KEEPALIVE:
            quiet_since = loop.time()
            yield ": keep-alive\n\n"
        await asyncio.sleep(min(interval, max(0.0, end - loop.time())))
    yield message("bye", {"cursor": cursor}, ident=cursor)
