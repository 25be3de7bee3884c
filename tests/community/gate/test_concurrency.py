"""Quotas under real concurrency: many scans of one household at two gates at the same instant,
through a live HTTP server on PostgreSQL, never let more exits through than the quota."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select

from townsquare.app import create_app
from townsquare.community.gate import codes
from townsquare.community.gate.models import Passage

from .world import build

pytestmark = pytest.mark.postgres_only
SCANS = 16
QUOTA = 2


@pytest.fixture
def live(settings, database):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, database),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_two_gates_at_once_never_exceed_the_quota(live, database, make_user, settings, token_for):
    world = build(database, make_user, exits=QUOTA)
    guards = [token_for(world.guard), token_for(world.guard2)]
    barrier = threading.Barrier(SCANS)

    def one(i: int) -> bool:
        code = codes.issue(
            settings.effective_secret_key,
            community=world.com,
            subject=world.household,
            kind=codes.CodeKind.HOUSEHOLD,
            now=time.time(),
        )
        with httpx.Client(base_url=live, timeout=30) as http:
            http.get("/api/health")  # connect before the barrier, so the scans truly overlap
            barrier.wait()
            response = http.post(
                f"/api/community/{world.com}/gate/scan",
                headers=guards[i % 2],
                json={"gate": world.gate2, "code": code, "direction": "exit",
                      "member": world.head},
            )
        assert response.status_code == 200, response.text
        return response.json()["allowed"]

    with ThreadPoolExecutor(max_workers=SCANS) as pool:
        allowed = list(pool.map(one, range(SCANS)))
    assert sum(allowed) == QUOTA
    with database.unit_of_work() as db:
        assert db.scalar(select(func.count()).select_from(Passage)) == SCANS
        assert db.scalar(select(func.count()).where(Passage.counted.is_(True))) == QUOTA
