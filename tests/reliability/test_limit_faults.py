"""Issue 13, item 7: the daily message limit holds when sends race (count and insert as one)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text

from tests.messaging.test_messaging import _app, _send
from townsquare.accounts.models import Role
from townsquare.core.clock import clock
from townsquare.core.errors import RateLimited
from townsquare.messaging import service
from townsquare.messaging.models import Message

pytestmark = pytest.mark.postgres_only
LIMIT = 3


def test_racing_sends_never_exceed_the_daily_limit(database, settings, make_user):
    app, user = _app(database), make_user(Role.RESIDENT)
    settings.messages_per_app_user_day = LIMIT
    clock.freeze(datetime(2026, 3, 10, 2, 0, tzinfo=UTC))
    with database.unit_of_work() as db:
        for _ in range(LIMIT + 2):
            service.subscribe(db, actor=db.merge(user), miniapp_id=app.id, keys=["order_ready"])
        for _ in range(LIMIT - 1):
            _send(db, settings, app.id, user)
    first = database.sessions()
    _send(first, settings, app.id, user)  # the last one allowed today, not committed yet
    outcome: dict[str, object] = {}
    done = threading.Event()

    def racing_send() -> None:
        try:
            with database.unit_of_work() as db:
                _send(db, settings, app.id, user)
        except Exception as exc:  # noqa: BLE001 — the test looks at it
            outcome["error"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=racing_send)
    thread.start()
    deadline = time.monotonic() + 20
    while not done.is_set() and time.monotonic() < deadline:
        with database.engine.connect() as conn:
            if conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                "current_database() AND wait_event_type = 'Lock'")):
                break
        time.sleep(0.02)
    first.commit()
    first.close()
    thread.join(30)
    assert isinstance(outcome.get("error"), RateLimited)
    with database.unit_of_work() as db:
        assert db.scalar(select(func.count()).select_from(Message)) == LIMIT
