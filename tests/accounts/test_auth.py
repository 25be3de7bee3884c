from datetime import timedelta

from tests.conftest import PASSWORD
from townsquare.accounts.models import Role
from townsquare.core.clock import clock


def test_token_login_and_me(client, make_user, token_for):
    user = make_user(Role.MERCHANT_STAFF, username="alice")
    headers = token_for(user)
    me = client.get("/api/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["username"] == "alice"
    assert me.json()["roles"] == ["merchant_staff"]


def test_wrong_password_is_401_with_error_body(client, make_user):
    make_user(username="bob")
    response = client.post("/api/auth/token", json={"username": "bob", "password": "nope-nope"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "login_failed"


def test_lockout_after_repeated_failures(client, make_user):
    make_user(username="carol")
    for _ in range(5):
        client.post("/api/auth/token", json={"username": "carol", "password": "wrong-pass"})
    locked = client.post("/api/auth/token", json={"username": "carol", "password": PASSWORD})
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    clock.freeze(clock.now() + timedelta(minutes=16))
    assert (
        client.post("/api/auth/token", json={"username": "carol", "password": PASSWORD}).status_code
        == 200
    )


def test_unauthenticated_api_is_401_json(client):
    response = client.get("/api/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
