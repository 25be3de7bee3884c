"""The writers of one process queue for a SQLite file (core/sqlite_writers.py): one at a time,
released at commit, rollback or the connection's return, "database is locked" after the lock
timeout, and readers never in the queue."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from townsquare.core.database import Database, unavailable


@pytest.fixture
def url(tmp_path):
    url = f"sqlite:///{tmp_path}/queue.db"
    database = Database(url)
    with database.unit_of_work() as db:
        db.execute(text("CREATE TABLE t (n INTEGER)"))
    database.dispose()
    return url


def test_a_writer_is_let_in_after_the_one_before_commits_or_rolls_back(url):
    database = Database(url, lock_timeout_ms=2_000)
    with database.unit_of_work() as db:
        db.execute(text("INSERT INTO t VALUES (1)"))
    with pytest.raises(RuntimeError), database.unit_of_work() as db:
        db.execute(text("INSERT INTO t VALUES (2)"))
        raise RuntimeError("rolled back")
    started = time.monotonic()
    with database.unit_of_work() as db:  # neither left the queue held
        db.execute(text("INSERT INTO t VALUES (3)"))
    assert time.monotonic() - started < 1.0
    with database.unit_of_work(read_only=True) as db:
        assert db.scalars(text("SELECT n FROM t ORDER BY n")).all() == [1, 3]
    database.dispose()


def test_writers_wait_their_turn_and_time_out_as_locked(url):
    holder, waiter = Database(url, lock_timeout_ms=5_000), Database(url, lock_timeout_ms=300)
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with holder.unit_of_work() as db:
            db.execute(text("INSERT INTO t VALUES (1)"))
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=hold)
    thread.start()
    assert inside.wait(5)
    try:
        # a reader is not in the queue: it reads the last commit at once
        with waiter.unit_of_work(read_only=True) as db:
            assert db.scalars(text("SELECT n FROM t")).all() == []
        started = time.monotonic()
        with pytest.raises(Exception) as caught, waiter.unit_of_work() as db:
            db.execute(text("INSERT INTO t VALUES (2)"))
        assert 0.25 < time.monotonic() - started < 3
        assert unavailable(caught.value) and "locked" in str(caught.value)
    finally:
        release.set()
        thread.join()
    # the holder committed; the next writer gets in
    with waiter.unit_of_work() as db:
        db.execute(text("INSERT INTO t VALUES (3)"))
    with waiter.unit_of_work(read_only=True) as db:
        assert db.scalars(text("SELECT n FROM t ORDER BY n")).all() == [1, 3]
    holder.dispose()
    waiter.dispose()
