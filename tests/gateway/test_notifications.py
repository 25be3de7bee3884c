"""The notification outbox: signed so that both SDKs' notification checks pass, retried on
Alipay's schedule until the receiver answers exactly `success`, kept across a restart, never
sent to private addresses unless allowed, and resent from the console."""

from __future__ import annotations

import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import pytest
from sqlalchemy import select

from tests.gateway import gateway_world
from tests.gateway.sdk import run_sdk, sdk_dir
from tests.miniapps.shell_data import browser_login
from townsquare.core.clock import clock
from townsquare.core.database import Database
from townsquare.gateway import notify
from townsquare.gateway.models import GatewayApp, Notification, NotificationState


class Receiver:
    """An ISV's notify_url: records each POST and answers from a script of answers."""

    def __init__(self, answers: list[str]) -> None:
        self.answers, self.received = answers, []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                length = int(self.headers.get("content-length", 0))
                body = self.rfile.read(length).decode()
                receiver.received.append(dict(parse_qsl(body, keep_blank_values=True)))
                answer = receiver.answers.pop(0) if receiver.answers else "success"
                self.send_response(500 if answer == "crash" else 200)
                self.end_headers()
                self.wfile.write(answer.encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/notify"

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def world(database, settings, make_user):
    return gateway_world.build(database, settings, make_user)


@pytest.fixture
def receiver():
    made = Receiver(["crash", "fail"])  # fails twice, then answers success
    yield made
    made.close()


def _enqueue(database, world, url, **params):
    with database.unit_of_work() as db:
        app = db.scalar(select(GatewayApp).where(GatewayApp.app_id == world.app_id))
        return notify.enqueue(db, app=app, url=url, notify_type="trade_status_sync",
                              params={"out_trade_no": "T-1", "trade_status": "TRADE_SUCCESS",
                                      "total_amount": "12.50", "subject": "苹果 {2斤}",
                                      "empty": "", **params}).notify_id


def _state(database, notify_id):
    with database.unit_of_work() as db:
        row = db.scalar(select(Notification).where(Notification.notify_id == notify_id))
        return row.state, row.attempts, row.next_attempt_at


def test_retried_on_schedule_until_success(database, settings, world, receiver):
    start = clock.now()
    clock.freeze(start)
    try:
        notify_id = _enqueue(database, world, receiver.url)
        assert notify.deliver_due(database, settings) == 1
        assert _state(database, notify_id)[:2] == (NotificationState.PENDING, 1)
        assert notify.deliver_due(database, settings) == 0  # not due for 4 minutes
        clock.freeze(start + timedelta(minutes=4, seconds=1))
        assert notify.deliver_due(database, settings) == 1
        state, attempts, due = _state(database, notify_id)
        assert (state, attempts) == (NotificationState.PENDING, 2)
        assert due - clock.now() == timedelta(minutes=10)
        clock.freeze(start + timedelta(minutes=15))
        assert notify.deliver_due(database, settings) == 1
        assert _state(database, notify_id)[:2] == (NotificationState.DELIVERED, 3)
    finally:
        clock.unfreeze()
    assert len(receiver.received) == 3
    first = receiver.received[0]
    assert {r["notify_id"] for r in receiver.received} == {notify_id}  # stable id
    assert first["sign_type"] == "RSA2" and "empty" not in first
    assert first["subject"] == "苹果 {2斤}" and first["app_id"] == world.app_id


@pytest.mark.parametrize("sdk", ["official", "community"])
def test_both_sdks_verify_the_notification(sdk, database, settings, world):
    sdk_dir(sdk)
    got = Receiver([])
    try:
        _enqueue(database, world, got.url)
        notify.deliver_due(database, settings)
    finally:
        got.close()
    [form] = got.received
    job = {"app_id": world.app_id, "private_key": world.private_key,
           "platform_public_key": world.platform_public_key, "notification": form}
    assert run_sdk(sdk, job) == [{"ok": True, "verified": True}]
    tampered = {**form, "total_amount": "0.01"}
    assert run_sdk(sdk, {**job, "notification": tampered}) == [{"ok": True, "verified": False}]


def test_gives_up_after_eight_tries_and_the_owner_resends(client, database, settings, world):
    dead = Receiver(["no"] * 8)
    start = clock.now()
    try:
        notify_id = _enqueue(database, world, dead.url)
        at = start
        for wait in (timedelta(0), *notify.SCHEDULE):
            at += wait + timedelta(seconds=1)
            clock.freeze(at)
            assert notify.deliver_due(database, settings) == 1
        assert _state(database, notify_id)[:2] == (NotificationState.GAVE_UP, 8)
        clock.unfreeze()
        browser_login(client, world.owner)
        page = client.get(f"/console/miniapps/{world.miniapp_id}/gateway").text
        assert notify_id in page and "已放弃" in page
        csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
        client.post(f"/console/miniapps/{world.miniapp_id}/gateway/notifications/{notify_id}",
                    data={"csrf_token": csrf})
        assert notify.deliver_due(database, settings) == 1
        assert _state(database, notify_id)[0] == NotificationState.DELIVERED
    finally:
        clock.unfreeze()
        dead.close()


def test_private_addresses_are_refused_unless_allowed(database, settings, world, receiver):
    strict = settings.model_copy(update={"gateway_notify_private": False})
    notify_id = _enqueue(database, world, receiver.url)
    notify.deliver_due(database, strict)
    assert receiver.received == []
    with database.unit_of_work() as db:
        row = db.scalar(select(Notification).where(Notification.notify_id == notify_id))
        [attempt] = notify.attempts_of(db, [row.id])[row.id]
        assert attempt.error.startswith("refused:") and "127.0.0.1" in attempt.error


def test_kept_across_a_restart(database, settings, world, receiver):
    notify_id = _enqueue(database, world, receiver.url)
    database.dispose()  # the server stops before sending anything
    again = Database(database.url)
    try:
        receiver.answers.clear()
        assert notify.deliver_due(again, settings) == 1
        assert _state(again, notify_id)[0] == NotificationState.DELIVERED
    finally:
        again.dispose()


def test_a_lease_that_ran_out_during_a_slow_batch_is_not_sent_twice(database, settings, world):
    """A notifier stuck on one receiver past its lease must not then send the rest of its
    batch: another notifier has taken them meanwhile (and may have delivered them)."""
    short = settings.model_copy(update={"gateway_notify_lease_s": 1.0})
    hanging, release = threading.Event(), threading.Event()
    received: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            form = dict(parse_qsl(self.rfile.read(int(self.headers["content-length"])).decode()))
            received.append(form["out_trade_no"])
            if received.count("T-A") == 1 and form["out_trade_no"] == "T-A":
                hanging.set()
                release.wait(30)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"success")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/notify"
    try:
        first = _enqueue(database, world, url, out_trade_no="T-A")
        second = _enqueue(database, world, url, out_trade_no="T-B")
        stuck = threading.Thread(target=notify.deliver_due, args=(database, short))
        stuck.start()  # takes both, sends T-A, hangs there
        assert hanging.wait(30)
        while _state(database, second)[2] > clock.now():  # until its lease has run out
            threading.Event().wait(0.05)
        assert notify.deliver_due(database, short) == 2  # another notifier takes both
        release.set()
        stuck.join(30)
        assert not stuck.is_alive()
    finally:
        release.set()
        server.shutdown()
    assert received.count("T-B") == 1  # not sent again by the stuck notifier
    assert received.count("T-A") == 2  # (the stuck call was in flight: at least once)
    assert _state(database, first)[:2] == (NotificationState.DELIVERED, 1)
    assert _state(database, second)[:2] == (NotificationState.DELIVERED, 1)
