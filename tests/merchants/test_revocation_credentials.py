"""Revoking an ISV disables, at once, every client secret it received for the merchant's
mini-apps (created or rotated by its staff); re-authorizing it later does not revive them; the
merchant's own rotation gives a working secret again."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tests.miniapps.registry_world import build_world, external_app
from townsquare.core.clock import clock
from townsquare.merchants import authorizations
from townsquare.merchants.models import Authorization
from townsquare.miniapps import registry
from townsquare.miniapps.shell.consent import InvalidClient, authenticate_client

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
def world(database, make_user):
    clock.freeze(T0)
    return build_world(database, make_user)


def _revoke_isv(database, world) -> None:
    with database.unit_of_work() as db:
        auth_id = db.scalar(select(Authorization.public_id).where(
            Authorization.revoked_at.is_(None)))
        authorizations.revoke(db, actor=world.owner, merchant_id=world.merchant,
                              authorization_id=auth_id)


def test_revoking_the_isv_kills_the_secrets_it_holds(database, world, client):
    with database.unit_of_work() as db:
        built = registry.create_miniapp(db, actor=world.isv_user, merchant_id=world.merchant,
                                        **external_app())
        app_id, built_secret = built.miniapp.public_id, built.client_secret
        own = registry.create_miniapp(db, actor=world.owner, merchant_id=world.merchant,
                                      **external_app(name="自营"))
        own_id = own.miniapp.public_id
        rotated = registry.rotate_secret(db, actor=world.isv_user, miniapp_id=own_id)
    with database.unit_of_work() as db:
        assert authenticate_client(db, client_id=app_id, client_secret=built_secret)
        assert authenticate_client(db, client_id=own_id, client_secret=rotated)
    _revoke_isv(database, world)
    with database.unit_of_work() as db:
        for client_id, secret in ((app_id, built_secret), (own_id, rotated)):
            with pytest.raises(InvalidClient):
                authenticate_client(db, client_id=client_id, client_secret=secret)
    # the intake API refuses it too
    response = client.post("/api/events", headers={"X-Client-Id": app_id,
                                                   "X-Client-Secret": built_secret},
                           json={"event_id": "e", "type": "visit", "sub": "ou_" + "a" * 32,
                                 "occurred_at": T0.isoformat()})
    assert response.status_code == 401
    # re-authorizing the same ISV later does not bring the old secret back
    with database.unit_of_work() as db:
        authorizations.grant(db, actor=world.owner, merchant_id=world.merchant,
                             provider_id=world.isv)
    with database.unit_of_work() as db, pytest.raises(InvalidClient):
        authenticate_client(db, client_id=app_id, client_secret=built_secret)
    # the merchant's own rotation works (and is the merchant's, not the ISV's)
    with database.unit_of_work() as db:
        fresh = registry.rotate_secret(db, actor=world.owner, miniapp_id=app_id)
    with database.unit_of_work() as db:
        assert authenticate_client(db, client_id=app_id, client_secret=fresh)
    _revoke_isv(database, world)
    with database.unit_of_work() as db:
        assert authenticate_client(db, client_id=app_id, client_secret=fresh)
