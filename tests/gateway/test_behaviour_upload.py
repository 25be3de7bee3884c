"""`townsquare.data.behaviour.batch.upload`: behaviour events through the gateway go through the
same intake as `POST /api/events` (same checks, same idempotency, the calling app's mini-app as
the reporter), whichever channel sends an event first."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.gateway import gateway_world
from tests.gateway.sdk import run_sdk, sdk_dir, serve_on_port_80
from tests.gateway.test_gateway_http import answer, signed
from tests.miniapps.shell_data import SECRET, issue_sub
from townsquare.app import create_app
from townsquare.core.clock import clock
from townsquare.events.intake import storage_key
from townsquare.events.models import BehaviourEvent
from townsquare.gateway import dispatch

METHOD = "townsquare.data.behaviour.batch.upload"
KEY = "townsquare_data_behaviour_batch_upload_response"
SUB = "ou_" + "ab" * 16


@pytest.fixture
def world(database, settings, make_user):
    made = gateway_world.build(database, settings, make_user, packages=("data",))
    issue_sub(database, made.miniapp_id, SUB)
    return made


def _events() -> list[dict]:
    at = (clock.now() - timedelta(minutes=5)).isoformat()
    return [
        {"event_id": "order-1:placed", "type": "order_placed", "occurred_at": at, "sub": SUB,
         "order_id": "1", "amount_fen": 1250},
        {"event_id": "order-1:rated", "type": "rating", "occurred_at": at, "sub": SUB,
         "rating": 9},
        {"event_id": "shown", "type": "exposure", "occurred_at": at, "surface": "feed"},
        {"event_id": "visit-x", "type": "visit", "occurred_at": at, "sub": "ou_" + "cd" * 16},
    ]


def _upload(client, world, events) -> dict:
    biz = json.dumps({"events": events}, ensure_ascii=False)
    return answer(client.post("/gateway.do", data=signed(world, METHOD, biz_content=biz)), KEY)


def _stored(database) -> int:
    with database.unit_of_work() as db:
        return db.scalar(select(func.count(BehaviourEvent.id)))


def test_a_batch_is_counted_with_per_event_errors_and_accepted_once(client, database, world):
    first = _upload(client, world, _events())
    assert first["code"] == "10000", first
    assert (first["accepted"], first["duplicates"], first["rejected"]) == (1, 0, 3)
    assert [r["status"] for r in first["results"]] == ["accepted", "rejected", "rejected",
                                                       "rejected"]
    errors = {e["index"]: e for e in first["errors"]}
    assert errors[1]["field"] == "rating" and errors[1]["code"] == "invalid"
    assert errors[2]["code"] == "forbidden" and errors[2]["field"] == "type"  # platform only
    assert errors[3]["code"] == "unknown_user"  # not a user the platform gave this mini-app
    assert "1 到 5" in errors[1]["message"]  # in Chinese, as the gateway speaks
    again = _upload(client, world, _events()[:1] * 2)
    assert (again["accepted"], again["duplicates"], again["rejected"]) == (0, 2, 0)
    assert _stored(database) == 1
    with database.unit_of_work() as db:
        row = db.scalar(select(BehaviourEvent))
        assert row.event_id == storage_key(world.miniapp_id, "order-1:placed")
        assert row.amount_fen == 1250 and row.user_sub == SUB


def test_an_event_sent_through_the_json_api_is_a_duplicate_here(client, database, world):
    event = _events()[0]
    headers = {"X-Client-Id": world.miniapp_id, "X-Client-Secret": SECRET}
    assert client.post("/api/events", json=event, headers=headers).json()["status"] == "accepted"
    answer_ = _upload(client, world, [event, {**event, "event_id": "order-2:placed"}])
    assert [r["status"] for r in answer_["results"]] == ["duplicate", "accepted"]
    assert client.post("/api/events", json={**event, "event_id": "order-2:placed"},
                       headers=headers).json()["status"] == "duplicate"
    assert _stored(database) == 2


@pytest.mark.parametrize("biz,refusal", [
    ({}, ("40001", "isv.missing-events")),
    ({"events": {"event_id": "x"}}, ("40002", "isv.invalid-parameter")),
    ({"events": []}, ("40002", "isv.invalid-parameter")),
    ({"events": [{}] * 501}, ("40002", "isv.invalid-parameter")),
])
def test_a_batch_that_is_not_one_is_refused_whole(client, database, world, biz, refusal):
    refused = answer(client.post("/gateway.do", data=signed(
        world, METHOD, biz_content=json.dumps(biz))), KEY)
    assert (refused["code"], refused["sub_code"]) == refusal
    assert _stored(database) == 0


def test_two_copies_racing_are_stored_once(database, settings, world):
    """The same batch sent twice at once (a client retrying on a timeout) counts once."""
    app = create_app(settings, database)
    events = _events()[:1] + [{**_events()[0], "event_id": f"order-{n}:placed",
                               "order_id": str(n)} for n in range(2, 30)]
    biz = json.dumps({"events": events})
    barrier = threading.Barrier(2)
    answers: list[dict] = []

    def send() -> None:
        params = signed(world, METHOD, biz_content=biz)
        barrier.wait()
        body = dispatch.handle(database, params, settings=settings,
                               table=app.state.gateway_methods,
                               call_log=app.state.gateway_call_log,
                               limiter=app.state.gateway_limiter)
        answers.append(json.loads(body)[KEY])

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a["code"] for a in answers] == ["10000", "10000"], answers
    assert sum(a["accepted"] for a in answers) == 29
    assert sum(a["duplicates"] for a in answers) == 29
    assert _stored(database) == 29


@pytest.mark.parametrize("sdk", ["official", "community"])
def test_an_unmodified_sdk_uploads_events(sdk, database, settings, world):
    sdk_dir(sdk)
    url_iter = serve_on_port_80(database, settings)
    url = next(url_iter)
    call = {"method": METHOD, "biz": {"events": _events()[:2]}}
    try:
        first, again = run_sdk(sdk, {
            "server_url": url, "app_id": world.app_id, "private_key": world.private_key,
            "platform_public_key": world.platform_public_key, "calls": [call, call],
        })
    finally:
        url_iter.close()
    assert first["ok"] and again["ok"], (first, again)  # the SDK verified both answers
    assert first["response"]["code"] == "10000", first
    assert (first["response"]["accepted"], first["response"]["rejected"]) == (1, 1)
    assert (again["response"]["accepted"], again["response"]["duplicates"]) == (0, 1)
    assert _stored(database) == 1


def test_a_mini_app_cannot_upload_the_platforms_punctuality_events(client, database, world):
    at = (clock.now() - timedelta(minutes=5)).isoformat()
    claims = [
        {"event_id": "a", "type": "order_accepted", "occurred_at": at, "sub": SUB,
         "order_id": "1", "response_seconds": 5, "resolution": "on_time"},
        {"event_id": "d", "type": "delivery_done", "occurred_at": at, "sub": SUB,
         "order_id": "1", "resolution": "on_time"},
    ]
    answered = _upload(client, world, claims)
    assert (answered["accepted"], answered["rejected"]) == (0, 2)
    assert {(e["code"], e["field"]) for e in answered["errors"]} == {("forbidden", "type")}
    assert all("平台" in e["message"] for e in answered["errors"])
    assert _stored(database) == 0
