"""Pooled PostgreSQL connections are pinged only after sitting idle (core/database.py,
`_ping_when_idle`): one used a moment ago is handed out as it is, an idle one is pinged first
and a dead one replaced. Time is moved with `database.monotonic`, never waited for."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from townsquare.core import database as db_module
from townsquare.core.database import PING_AFTER_IDLE_S, Database


@pytest.fixture
def clock_at(monkeypatch):
    now = [1_000.0]
    monkeypatch.setattr(db_module, "monotonic", lambda: now[0])

    def move(seconds: float) -> None:
        now[0] += seconds

    return move


def _engine(tmp_path, monkeypatch, *, fail: bool = False):
    engine = create_engine(f"sqlite:///{tmp_path}/ping.db")
    db_module._ping_when_idle(engine)
    pings: list[object] = []
    real = engine.dialect.do_ping

    def ping(dbapi_conn):
        pings.append(dbapi_conn)
        if fail:
            raise OSError("server closed the connection unexpectedly")
        return real(dbapi_conn)

    monkeypatch.setattr(engine.dialect, "do_ping", ping)
    return engine, pings


def test_a_connection_used_a_moment_ago_is_not_pinged_an_idle_one_is(
        tmp_path, monkeypatch, clock_at):
    engine, pings = _engine(tmp_path, monkeypatch)
    with engine.connect() as conn:  # a new connection: never pinged
        conn.execute(text("SELECT 1"))
    clock_at(PING_AFTER_IDLE_S / 2)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert pings == []
    clock_at(PING_AFTER_IDLE_S * 2)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert len(pings) == 1
    engine.dispose()


def test_an_idle_connection_whose_ping_fails_is_replaced(tmp_path, monkeypatch, clock_at):
    engine, pings = _engine(tmp_path, monkeypatch, fail=True)
    with engine.connect() as conn:
        first = conn.connection.dbapi_connection
    clock_at(PING_AFTER_IDLE_S * 2)
    with engine.connect() as conn:  # the ping fails: the pool hands out a new connection
        assert conn.execute(text("SELECT 1")).scalar() == 1
        assert conn.connection.dbapi_connection is not first
    assert pings == [first]
    engine.dispose()


def test_postgresql_a_killed_idle_connection_is_replaced_before_use(database, clock_at):
    if database.is_sqlite:
        pytest.skip("a server-side kill needs PostgreSQL")
    engine = Database(database.url).engine
    admin = Database(database.url).engine
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        with admin.connect() as conn:  # as a server restart or an administrator would
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        clock_at(PING_AFTER_IDLE_S * 2)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != pid
    finally:
        engine.dispose()
        admin.dispose()
