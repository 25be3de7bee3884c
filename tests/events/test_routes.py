"""The intake API: client credentials, one app's events only, per-event errors, retries."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from tests.miniapps.shell_data import SECRET, issue_sub, make_miniapp
from townsquare.core.clock import clock
from townsquare.events.models import BehaviourEvent

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
SUB = "ou_" + "cd" * 16


def _headers(app_id: str, secret: str = SECRET) -> dict[str, str]:
    return {"X-Client-Id": app_id, "X-Client-Secret": secret}


def _visit(event_id: str, **extra) -> dict:
    return {"event_id": event_id, "type": "visit", "sub": SUB, "occurred_at": NOW.isoformat(),
            **extra}


def _count(database) -> int:
    with database.unit_of_work() as db:
        return db.scalar(select(func.count(BehaviourEvent.id)))


def test_single_event_is_idempotent(client, database):
    clock.freeze(NOW)
    app = make_miniapp(database)
    issue_sub(database, app.id, SUB)
    first = client.post("/api/events", json=_visit("v1"), headers=_headers(app.id))
    again = client.post("/api/events", json=_visit("v1"), headers=_headers(app.id))
    assert first.status_code == 200 and first.json() == {"event_id": "v1", "status": "accepted"}
    assert again.json()["status"] == "duplicate"
    assert _count(database) == 1


def test_a_malformed_single_event_is_a_clear_error(client, database):
    clock.freeze(NOW)
    app = make_miniapp(database)
    issue_sub(database, app.id, SUB)
    response = client.post("/api/events", json=_visit("r1", type="rating", rating=9),
                           headers=_headers(app.id))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid"
    response = client.post("/api/events", json=_visit("r2", type="rating"),
                           headers=_headers(app.id))
    assert response.status_code == 422
    assert response.json()["error"]["details"] == {"field": "rating"}
    assert _count(database) == 0


def test_wrong_or_missing_credentials_are_refused(client, database):
    clock.freeze(NOW)
    app = make_miniapp(database)
    issue_sub(database, app.id, SUB)
    for headers in (_headers(app.id, "wrong-secret"), {}, _headers("ma_nosuchapp0000000")):
        for path, body in (("/api/events", _visit("a")), ("/api/events/batch",
                                                          {"events": [_visit("a")]})):
            response = client.post(path, json=body, headers=headers)
            assert response.status_code == 401, response.text
            assert response.json()["error"]["code"] == "invalid_client"
    assert _count(database) == 0


def test_an_app_cannot_send_another_apps_events(client, database):
    clock.freeze(NOW)
    mine, theirs = make_miniapp(database), make_miniapp(database)
    issue_sub(database, mine.id, SUB)
    single = client.post("/api/events", json=_visit("s", miniapp=theirs.id),
                         headers=_headers(mine.id))
    assert single.status_code == 403
    batch = client.post("/api/events/batch", headers=_headers(mine.id), json={"events": [
        _visit("b1", miniapp=theirs.id), _visit("b2", miniapp=mine.id), _visit("b3"),
    ]})
    body = batch.json()
    assert batch.status_code == 200
    assert (body["accepted"], body["rejected"]) == (2, 1)
    assert body["errors"][0]["code"] == "forbidden" and body["errors"][0]["index"] == 0
    with database.unit_of_work() as db:
        owners = set(db.scalars(select(BehaviourEvent.miniapp_id)))
    assert len(owners) == 1


def test_batch_reports_each_event_and_keeps_the_good_ones(client, database):
    clock.freeze(NOW)
    app = make_miniapp(database)
    issue_sub(database, app.id, SUB)
    events = [_visit("g1"), _visit("g2", occurred_at="yesterday"), 7, _visit("g3")]
    response = client.post("/api/events/batch", json={"events": events}, headers=_headers(app.id))
    body = response.json()
    assert response.status_code == 200
    assert [r["status"] for r in body["results"]] == ["accepted", "rejected", "rejected",
                                                      "accepted"]
    assert [(e["index"], e["event_id"], e["field"]) for e in body["errors"]] == [
        (1, "g2", "occurred_at"), (2, "", "")]
    retry = client.post("/api/events/batch", json={"events": events}, headers=_headers(app.id))
    assert (retry.json()["accepted"], retry.json()["duplicates"]) == (0, 2)
    assert _count(database) == 2


def test_errors_are_translated(client, database):
    clock.freeze(NOW)
    app = make_miniapp(database)
    issue_sub(database, app.id, SUB)
    events = [_visit("t1", type="rating", rating=0)]
    zh = client.post("/api/events/batch", json={"events": events}, headers=_headers(app.id))
    en = client.post("/api/events/batch?lang=en", json={"events": events},
                     headers=_headers(app.id))
    assert en.json()["errors"][0]["message"] == "rating must be a whole number from 1 to 5."
    assert zh.json()["errors"][0]["message"] != en.json()["errors"][0]["message"]


def test_batch_limits(client, database):
    app = make_miniapp(database)
    issue_sub(database, app.id, SUB)
    too_many = {"events": [_visit(f"e{i}") for i in range(501)]}
    assert client.post("/api/events/batch", json=too_many,
                       headers=_headers(app.id)).status_code == 422
    assert client.post("/api/events/batch", json={"events": []},
                       headers=_headers(app.id)).status_code == 422
