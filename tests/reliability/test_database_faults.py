"""Issue 13, items 1 and 2: a database that is down or locked answers 503 with Retry-After and
the JSON error body (a friendly page for pages), readiness says so while liveness stays up, and
on SQLite a read never waits for a writer."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from townsquare.app import create_app
from townsquare.core.database import Database

# nothing listens on port 9 (discard) of loopback: connecting is refused at once
DEAD_PG = "postgresql+psycopg://postgres@127.0.0.1:9/nowhere"


@pytest.fixture
def dead_client(settings) -> Iterator[TestClient]:
    dead = Database(DEAD_PG)
    app = create_app(settings.model_copy(update={"database_url": DEAD_PG}), dead)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    dead.dispose()


def test_api_answers_503_with_retry_after_and_json_while_database_is_down(dead_client, caplog):
    caplog.set_level(logging.INFO)
    headers = {"Authorization": "Bearer not-checked-before-the-database-answers"}
    answers = [dead_client.get("/api/me", headers=headers) for _ in range(5)]
    for response in answers:
        assert response.status_code == 503, response.text
        assert response.headers["content-type"].startswith("application/json")
        assert int(response.headers["retry-after"]) > 0
        assert response.json()["error"]["code"] == "unavailable"
    posted = dead_client.post("/api/auth/token", json={"username": "someone", "password": "b" * 12})
    assert posted.status_code == 503 and posted.json()["error"]["code"] == "unavailable"
    # logged once for the burst, without a traceback per request
    outage_lines = [r for r in caplog.records if "database_unavailable" in r.getMessage()]
    assert len(outage_lines) == 1
    assert not any(r.exc_info for r in caplog.records)


def test_pages_answer_a_friendly_503_page_while_database_is_down(dead_client):
    response = dead_client.get("/login?lang=en")
    page = dead_client.get("/", headers={"Cookie": "ts_session=whatever"})
    for answer in (page,):
        assert answer.status_code == 503
        assert answer.headers["content-type"].startswith("text/html")
        assert "briefly unavailable" in answer.text or "暂时不可用" in answer.text
    assert response.status_code in (200, 503)  # the login form needs no database


def test_readiness_follows_the_database_while_liveness_stays_up(dead_client, client):
    assert dead_client.get("/api/health").status_code == 200
    down = dead_client.get("/api/ready")
    assert down.status_code == 503
    assert down.json()["status"] == "unavailable" and "retry-after" in down.headers
    up = client.get("/api/ready")
    assert up.status_code == 200 and up.json()["status"] == "ready"


@pytest.fixture
def sqlite_only(database):
    if not database.is_sqlite:
        pytest.skip("SQLite's write lock")
    return database


@pytest.fixture
def locked(sqlite_only, settings, make_user) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """A client whose database is held by another process's writer for the whole test."""
    user = make_user()
    short = Database(sqlite_only.url, lock_timeout_ms=300)
    app = create_app(settings.model_copy(update={"database_lock_timeout_ms": 300}), short)
    with TestClient(app, raise_server_exceptions=False) as client:
        token = client.post(
            "/api/auth/token", json={"username": user.username, "password": "correct-horse-9"}
        ).json()["token"]
        writer = sqlite3.connect(sqlite_only.url.split("///", 1)[1], isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        writer.execute("UPDATE users SET display_name = display_name")
        try:
            yield client, {"Authorization": f"Bearer {token}"}
        finally:
            writer.execute("ROLLBACK")
            writer.close()
    short.dispose()


def test_sqlite_reads_do_not_wait_for_a_writer(locked):
    client, headers = locked
    for _ in range(3):
        response = client.get("/api/me", headers=headers)
        assert response.status_code == 200, response.text
    assert client.get("/api/ready").status_code == 200  # a busy writer is not "unavailable"


def test_sqlite_lock_timeout_is_a_503_with_retry_after(locked):
    client, headers = locked
    response = client.post("/api/auth/logout", headers=headers)
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "unavailable"
    assert "retry-after" in response.headers
