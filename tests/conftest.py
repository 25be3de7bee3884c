"""Shared fixtures: every database test runs on SQLite, and on PostgreSQL when
TOWNSQUARE_TEST_DATABASE_URL is set (CI sets it, so nothing is skipped there)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from townsquare.accounts import service as accounts
from townsquare.accounts.models import Role, User
from townsquare.app import connect_hooks, create_app
from townsquare.core.clock import clock
from townsquare.core.database import Database
from townsquare.core.security import use_cheap_password_hashing
from townsquare.core.settings import Settings
from townsquare.models import metadata

PG_URL = os.environ.get("TOWNSQUARE_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
PASSWORD = "correct-horse-9"
use_cheap_password_hashing()
connect_hooks()  # as at every start of the platform: lower floors' events reach messaging


@pytest.fixture(autouse=True)
def _real_clock() -> Iterator[None]:
    yield
    clock.unfreeze()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty schema built once; each test starts from a copy of the file."""
    path = tmp_path_factory.mktemp("schema") / "template.db"
    database = Database(f"sqlite:///{path}")
    metadata.create_all(database.engine)
    database.dispose()
    return path


@pytest.fixture(scope="session")
def pg_database_url(worker_id: str) -> Iterator[str]:
    """A throw-away PostgreSQL database for this test worker, schema created once."""
    if not PG_URL:
        pytest.skip("PostgreSQL not configured")
    name = f"ts_test_{worker_id}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    database = Database(url)
    metadata.create_all(database.engine)
    database.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def worker_id(request: pytest.FixtureRequest) -> str:
    return getattr(request.config, "workerinput", {}).get("workerid", "main")


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        path = tmp_path / "townsquare.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        database = Database(f"sqlite:///{path}")
        yield database
        database.dispose()
    else:
        database = Database(request.getfixturevalue("pg_database_url"))
        yield database
        tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        with database.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        database.dispose()


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    return Settings(
        data_dir=tmp_path, database_url=database.url, secret_key="test-secret-key-for-townsquare",
        # serving re-checks its cache and writes exposures within each request, as tests expect
        serving_refresh_ms=0, exposure_flush_ms=0,
        # the outbox is sent by the tests themselves (gateway.notify.deliver_due)
        gateway_notify_interval_ms=0, gateway_notify_private=True, gateway_call_log_flush_ms=0,
        warm_up_at_start=False,  # the tests that need the warm-up turn it on
        ordering_hold_expiry_interval_ms=0,  # expiry is run by the tests themselves
        delivery_poll_interval_ms=0,  # delivery bookings and polls are run by the tests
        ordering_order_jobs_interval_ms=0,  # and so are the order jobs
    )


@pytest.fixture
def app(settings: Settings, database: Database):
    return create_app(settings, database)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def make_user(database: Database):
    """Create a user with roles directly in the database; returns the committed User."""

    counter = iter(range(1, 10_000))

    def make(*roles: Role, username: str | None = None, display_name: str = "测试用户") -> User:
        with database.unit_of_work() as db:
            user = accounts.create_user(
                db,
                actor=None,
                username=username or f"user{next(counter)}",
                password=PASSWORD,
                display_name=display_name,
                roles=roles or (Role.RESIDENT,),
            )
        return user

    return make


@pytest.fixture
def token_for(client: TestClient):
    """A bearer header for a user, obtained through the real login endpoint."""

    def headers(user: User) -> dict[str, str]:
        response = client.post(
            "/api/auth/token", json={"username": user.username, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['token']}"}

    return headers


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark browser tests; run postgres_only tests (real concurrency) on PostgreSQL alone."""
    keep, drop = [], []
    for item in items:
        if "/tests/browser/" in str(item.path):
            item.add_marker(pytest.mark.browser)
        backend = getattr(getattr(item, "callspec", None), "params", {}).get("database")
        if item.get_closest_marker("postgres_only") and backend != "postgresql":
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
