"""Notifications survive a notifier killed mid-schedule: `townsquare gateway notify` runs in a
process of its own against a real receiver that fails twice and then answers `success`; it is
killed with SIGKILL while a call is in flight, and another process finishes the job. Nothing is
lost, every attempt the notifier finished is recorded, and a notification leased by the killed
process waits for its lease to end before anyone sends it again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from sqlalchemy import select

from tests.gateway import gateway_world
from townsquare.gateway import notify
from townsquare.gateway.models import (
    GatewayApp,
    Notification,
    NotificationAttempt,
    NotificationState,
)

SRC = Path(__file__).resolve().parents[2] / "src"
COUNT = 6
SCHEDULE_S = 1.0  # every wait between tries (Alipay's are minutes to hours)
LEASE_S = 15.0  # longer than anything this test does between the kill and the next poll
WAIT_S = 120.0  # for a process to start or to finish, on a loaded machine


class Receiver:
    """Each notification fails twice (a 500, then a wrong answer) and then succeeds; the second
    try of the third notification to arrive hangs until released (the notifier dies there)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: dict[str, list[tuple[datetime, str]]] = {}  # notify_id → (when, answered)
        self.order: list[str] = []
        self.hanging, self.release = threading.Event(), threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
                notify_id = dict(parse_qsl(body))["notify_id"]
                with receiver.lock:
                    tries = receiver.seen.setdefault(notify_id, [])
                    if not tries:
                        receiver.order.append(notify_id)
                    answer = ("crash", "fail", "success")[min(len(tries), 2)]
                    hang = (len(tries) == 1 and len(receiver.order) >= 3
                            and notify_id == receiver.order[2])
                    tries.append((datetime.now(UTC), "hung" if hang else answer))
                if hang:
                    receiver.hanging.set()
                    receiver.release.wait(WAIT_S)
                self.send_response(500 if answer == "crash" else 200)
                self.end_headers()
                self.wfile.write(answer.encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/notify"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()


@pytest.fixture
def receiver():
    made = Receiver()
    yield made
    made.close()


def _notifier(database, settings) -> subprocess.Popen[str]:
    env = {
        **os.environ, "PYTHONPATH": str(SRC), "TOWNSQUARE_DATABASE_URL": database.url,
        "TOWNSQUARE_SECRET_KEY": settings.secret_key, "TOWNSQUARE_DATA_DIR": str(settings.data_dir),
        "TOWNSQUARE_GATEWAY_NOTIFY_PRIVATE": "true",  # the receiver is on loopback
        "TOWNSQUARE_GATEWAY_NOTIFY_SCHEDULE_S": str([SCHEDULE_S] * 7),
        "TOWNSQUARE_GATEWAY_NOTIFY_LEASE_S": str(LEASE_S),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "townsquare.cli", "gateway", "notify", "--interval-ms", "100"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _rows(database) -> dict[str, Notification]:
    with database.unit_of_work(read_only=True) as db:
        return {row.notify_id: row for row in db.scalars(select(Notification))}


def _attempts(database) -> dict[str, list[NotificationAttempt]]:
    with database.unit_of_work(read_only=True) as db:
        rows = {row.id: row.notify_id for row in db.scalars(select(Notification))}
        found: dict[str, list[NotificationAttempt]] = {n: [] for n in rows.values()}
        for attempt in db.scalars(select(NotificationAttempt).order_by(NotificationAttempt.id)):
            found[rows[attempt.notification_id]].append(attempt)
        return found


def _until(condition, what: str, process: subprocess.Popen[str] | None = None) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if process is not None and process.poll() is not None:
            pytest.fail(f"the notifier ended: {process.communicate()[0]}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_notifier_killed_mid_schedule_loses_nothing(database, settings, make_user, receiver):
    world = gateway_world.build(database, settings, make_user)
    with database.unit_of_work() as db:
        app = db.scalar(select(GatewayApp).where(GatewayApp.app_id == world.app_id))
        ids = [notify.enqueue(db, app=app, url=receiver.url, notify_type="trade_status_sync",
                              params={"out_trade_no": f"T-{i}", "total_amount": "12.50"}).notify_id
               for i in range(COUNT)]
    first = _notifier(database, settings)
    try:
        _until(receiver.hanging.is_set, "the second round to reach the third notification",
               first)
        target = receiver.order[2]
        row = _rows(database)[target]  # the call in flight: attempt 1 recorded, 2 leased
        assert row.attempts == 1 and row.next_attempt_at > datetime.now(UTC)
        first.send_signal(signal.SIGKILL)
        first.wait(WAIT_S)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(WAIT_S)
    assert first.returncode == -signal.SIGKILL
    receiver.release.set()
    killed_at = datetime.now(UTC)
    rows, tried = _rows(database), _attempts(database)
    assert all(row.state == NotificationState.PENDING for row in rows.values())
    # leased: taken by the dead notifier, not due when its last try says (that plus the wait)
    in_lease = {n for n, row in rows.items()
                if row.next_attempt_at != tried[n][-1].at + timedelta(seconds=SCHEDULE_S)}
    assert all(rows[n].next_attempt_at > killed_at for n in in_lease)
    assert target in in_lease
    lease_ends = {n: rows[n].next_attempt_at for n in in_lease}
    # another notifier polling now (this process) does not touch what the dead one leased
    fast = settings.model_copy(update={"gateway_notify_schedule_s": (SCHEDULE_S,) * 7,
                                       "gateway_notify_lease_s": LEASE_S})
    with receiver.lock:
        before = {n: len(t) for n, t in receiver.seen.items()}
    notify.deliver_due(database, fast)
    assert datetime.now(UTC) < min(lease_ends.values())  # (still within every lease)
    with receiver.lock:
        assert all(len(receiver.seen[n]) == before[n] for n in in_lease)

    second = _notifier(database, settings)
    try:
        _until(lambda: all(r.state == NotificationState.DELIVERED
                           for r in _rows(database).values()), "every delivery", second)
        time.sleep(0.5)  # a few more rounds: nothing delivered is sent again
        second.send_signal(signal.SIGTERM)
        assert second.wait(WAIT_S) == 0
    finally:
        if second.poll() is None:
            second.kill()
            second.wait(WAIT_S)

    attempts = _attempts(database)
    with receiver.lock:
        seen = {n: list(t) for n, t in receiver.seen.items()}
    assert sorted(seen) == sorted(ids)
    for notify_id in ids:
        answers = [answer for _, answer in seen[notify_id]]
        assert answers[-1] == "success" and answers.count("success") == 1, answers
        recorded = [(a.status_code, a.answer) for a in attempts[notify_id]]
        if notify_id == target:  # the receiver saw the killed call; no one recorded it
            assert answers == ["crash", "hung", "success"]
            assert recorded == [(500, "crash"), (200, "success")]
        else:
            assert answers == ["crash", "fail", "success"]
            assert recorded == [(500, "crash"), (200, "fail"), (200, "success")]
        assert _rows(database)[notify_id].attempts == len(recorded)
        if notify_id in lease_ends:  # resent only once the dead notifier's lease was over
            after = [at for at, _ in seen[notify_id] if at > killed_at]
            assert after and min(after) >= lease_ends[notify_id]
