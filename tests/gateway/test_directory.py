"""The gateway's per-process directory (apps, keys, grants, the platform key): a call reads one
generation instead of the gateway's tables, and a revoked grant or key, or a suspended app,
stops working at once in every process sharing the database, not after a refresh."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from tests.gateway import gateway_world
from tests.gateway.test_gateway_http import answer, signed
from townsquare.accounts.models import User
from townsquare.app import create_app
from townsquare.core.database import Database
from townsquare.gateway import apps, directory, keys
from townsquare.gateway.models import AppStatus, GatewayApp
from townsquare.gateway.protocol import signing

METHOD = "townsquare.data.service.score.query"
KEY = "townsquare_data_service_score_query_response"


@pytest.fixture
def world(database, settings, make_user):
    return gateway_world.build(database, settings, make_user, packages=("identity", "data"))


@pytest.fixture
def two(settings, database):
    """Two app instances on one database, as two server processes are: each has its own
    engine, so its own directory; they share nothing but the database."""
    other = Database(database.url)
    with TestClient(create_app(settings, database)) as one, \
            TestClient(create_app(settings, other)) as two:
        yield one, two
    other.dispose()


def _code(client, world, **extra):
    body = answer(client.post("/gateway.do", data=signed(world, METHOD, **extra)), KEY)
    return body["code"], body.get("sub_code")


def _both(two, world, **extra):
    return [_code(client, world, **extra) for client in two]


def _as(database, user_id, change):
    with database.unit_of_work() as db:
        app = db.scalar(select(GatewayApp))
        change(db, db.get(User, user_id), app)


def test_a_withdrawn_grant_stops_at_once_in_every_process(database, world, two):
    assert _both(two, world) == [("10000", None)] * 2
    _as(database, world.operator.id, lambda db, actor, app: apps.decide(
        db, actor=actor, app=app, package="data", grant=False))
    refused = ("40006", "isv.insufficient-isv-permissions")
    assert _both(two, world) == [refused] * 2
    _as(database, world.operator.id, lambda db, actor, app: apps.decide(
        db, actor=actor, app=app, package="data", grant=True))
    assert _both(two, world) == [("10000", None)] * 2


def test_a_retired_key_stops_and_a_new_one_works_at_once_in_every_process(
        database, world, two):
    old = signing.load_private_key(world.private_key)
    new = signing.new_private_key()
    assert _both(two, world) == [("10000", None)] * 2
    _as(database, world.owner.id, lambda db, actor, app: keys.add_public_key(
        db, actor=actor, app=app, public_key=signing.public_key_text(new.public_key())))
    new_world = gateway_world.World(**{**world.__dict__,
                                       "private_key": signing.private_key_pkcs1(new)})
    assert _both(two, new_world) == [("10000", None)] * 2  # the new key, at once
    assert _both(two, world) == [("10000", None)] * 2  # the old one still, in its overlap
    _as(database, world.owner.id, lambda db, actor, app: keys.retire_key(
        db, actor=actor, app=app, fingerprint=signing.fingerprint(old.public_key())))
    assert _both(two, world) == [("40002", "isv.invalid-signature")] * 2
    assert _both(two, new_world) == [("10000", None)] * 2


def test_a_suspended_app_is_unknown_at_once_in_every_process(database, world, two):
    assert _both(two, world) == [("10000", None)] * 2
    with database.unit_of_work() as db:
        db.scalar(select(GatewayApp)).status = AppStatus.SUSPENDED
    assert _both(two, world) == [("40002", "isv.invalid-app-id")] * 2


def test_a_call_reads_no_gateway_table_once_its_app_is_known(database, world, client):
    assert _code(client, world) == ("10000", None)
    loads = directory.loads
    tables: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        tables.extend(t for t in ("gateway_apps", "gateway_app_keys", "gateway_package_grants",
                                  "gateway_platform_keys") if t in statement)

    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        for _ in range(3):
            assert _code(client, world) == ("10000", None)
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)
    assert tables == [] and directory.loads == loads


def test_unknown_app_ids_are_not_kept(database, world, client):
    bogus = gateway_world.World(**{**world.__dict__, "app_id": "2026000000000000"})
    assert _code(client, bogus) == ("40002", "isv.invalid-app-id")
    with database.unit_of_work(read_only=True) as db:
        assert directory.find(db, "2026000000000000") is None
        assert "2026000000000000" not in directory._snapshot(db).apps
        assert directory.find(db, world.app_id) is not None
