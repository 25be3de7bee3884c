"""Subscribe-once messages: one consent, one send; rate limits per mini-app per user per day;
sending by client credentials to a pseudonymous user; the inbox."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tests.miniapps.shell_data import SECRET, make_miniapp
from townsquare.accounts.models import Role
from townsquare.core.clock import clock
from townsquare.core.errors import Conflict, RateLimited, ValidationFailed
from townsquare.messaging import service
from townsquare.miniapps.models import MiniApp
from townsquare.miniapps.shell import launch


def _app(database):
    app = make_miniapp(database)
    with database.unit_of_work() as db:
        miniapp = db.scalar(select(MiniApp).where(MiniApp.public_id == app.id))
        service.ensure_template(db, miniapp=miniapp, key="order_ready", title="订单已备好",
                                body="您的订单 {order} 已可自提，取货码 {code}。")
    return app


def _send(db, settings, app_id, user, **data):
    miniapp = db.scalar(select(MiniApp).where(MiniApp.public_id == app_id))
    return service.send(db, settings=settings, miniapp=miniapp, user=db.merge(user),
                        key="order_ready", data={"order": "A1", "code": "42", **data})


def test_one_consent_allows_exactly_one_message(database, settings, make_user):
    app, user = _app(database), make_user(Role.RESIDENT)
    with database.unit_of_work() as db:
        with pytest.raises(Conflict):
            _send(db, settings, app.id, user)
        left = service.subscribe(db, actor=db.merge(user), miniapp_id=app.id,
                                 keys=["order_ready"])
        assert left == {"order_ready": 1}
        message = _send(db, settings, app.id, user)
        assert message.body == "您的订单 A1 已可自提，取货码 42。"
        with pytest.raises(Conflict):
            _send(db, settings, app.id, user)
        assert service.unread_count(db, actor=db.merge(user)) == 1


def test_rate_limit_per_app_per_user_per_day(database, settings, make_user):
    app, user = _app(database), make_user(Role.RESIDENT)
    settings.messages_per_app_user_day = 2
    clock.freeze(datetime(2026, 3, 10, 2, 0, tzinfo=UTC))  # 10:00 in Shanghai
    with database.unit_of_work() as db:
        for _ in range(4):
            service.subscribe(db, actor=db.merge(user), miniapp_id=app.id, keys=["order_ready"])
        _send(db, settings, app.id, user)
        _send(db, settings, app.id, user)
        with pytest.raises(RateLimited):
            _send(db, settings, app.id, user)
        clock.freeze(datetime(2026, 3, 10, 16, 30, tzinfo=UTC))  # 00:30 the next local day
        _send(db, settings, app.id, user)


def test_message_values_are_checked_before_a_consent_is_spent(database, settings, make_user):
    app, user = _app(database), make_user(Role.RESIDENT)
    with database.unit_of_work() as db:
        service.subscribe(db, actor=db.merge(user), miniapp_id=app.id, keys=["order_ready"])
        miniapp = db.scalar(select(MiniApp).where(MiniApp.public_id == app.id))
        for data in ({"order": "A1"}, {"order": "x\ny", "code": 1}, {"order": {"a": 1}, "code": 1}):
            with pytest.raises(ValidationFailed):
                service.send(db, settings=settings, miniapp=miniapp, user=db.merge(user),
                             key="order_ready", data=data)
        assert _send(db, settings, app.id, user)
        with pytest.raises(ValidationFailed):
            service.ensure_template(db, miniapp=miniapp, key="bad", title="t",
                                    body="{0.__class__}")


def test_backend_sends_by_pseudonymous_id_and_the_user_reads_the_inbox(
        client, database, settings, make_user, token_for):
    app, user, other = _app(database), make_user(Role.RESIDENT), make_user(Role.RESIDENT)
    headers = token_for(user)
    answer = client.post(f"/api/miniapps/{app.id}/subscriptions", json={"keys": ["order_ready"]},
                         headers=headers)
    assert answer.status_code == 200 and answer.json()["open"] == {"order_ready": 1}
    sub = launch.pseudonymous_id(settings.effective_secret_key, user.public_id, app.id)
    other_sub = launch.pseudonymous_id(settings.effective_secret_key, other.public_id, app.id)
    body = {"client_id": app.id, "client_secret": SECRET, "sub": sub, "key": "order_ready",
            "data": {"order": "B7", "code": 9}, "link": "/"}
    assert client.post("/api/messages", json={**body, "client_secret": "wrong"}).status_code == 401
    assert client.post("/api/messages", json={**body, "sub": other_sub}).status_code == 409
    sent = client.post("/api/messages", json=body)
    assert sent.status_code == 201, sent.text
    assert client.post("/api/messages", json=body).status_code == 409  # consent spent
    inbox = client.get("/api/me/inbox", headers=headers).json()
    assert inbox["unread"] == 1 and inbox["messages"][0]["body"].startswith("您的订单 B7")
    assert client.get("/api/me/inbox", headers=token_for(other)).json()["messages"] == []
    message_id = inbox["messages"][0]["id"]
    # another user's message answers as if there were none (404), and stays unread
    assert client.post(f"/api/me/inbox/{message_id}/read", headers=token_for(other)
                       ).status_code == 404
    assert client.get("/api/me/inbox", headers=headers).json()["unread"] == 1  # not theirs
    assert client.post(f"/api/me/inbox/{message_id}/read", headers=headers).status_code == 204
    assert client.get("/api/me/inbox", headers=headers).json()["unread"] == 0
    # marking one's own message again is harmless
    assert client.post(f"/api/me/inbox/{message_id}/read", headers=headers).status_code == 204
