"""The signed-in lookup keeps a per-process copy of each login (accounts/logins.py): whatever
changes in the database - by this process or, as here, by a plain statement as another worker
would send - the very next request must see it."""

from datetime import timedelta

from sqlalchemy import delete, update

from tests.conftest import PASSWORD
from townsquare.accounts.models import AuthSession, Role, RoleGrant, User
from townsquare.core.clock import clock


def _me(client, headers):
    return client.get("/api/me", headers=headers)


def test_revocation_by_another_worker_is_seen_at_once(client, make_user, token_for, database):
    user = make_user(username="dora")
    headers = token_for(user)
    assert _me(client, headers).status_code == 200
    assert _me(client, headers).status_code == 200  # now answered from the copy
    with database.unit_of_work() as db:  # a bulk UPDATE: no ORM event in this process
        db.execute(update(AuthSession).where(AuthSession.user_id == user.id)
                   .values(revoked_at=clock.now()))
    assert _me(client, headers).status_code == 401


def test_role_and_profile_changes_are_seen_at_once(client, make_user, token_for, database):
    user = make_user(Role.RESIDENT, Role.MERCHANT_STAFF, username="emil")
    headers = token_for(user)
    assert _me(client, headers).json()["roles"] == ["merchant_staff", "resident"]
    with database.unit_of_work() as db:
        db.execute(delete(RoleGrant).where(RoleGrant.user_id == user.id,
                                           RoleGrant.role == Role.MERCHANT_STAFF))
        db.execute(update(User).where(User.id == user.id).values(display_name="新名字"))
    body = _me(client, headers).json()
    assert body["roles"] == ["resident"]
    assert body["display_name"] == "新名字"


def test_deactivated_user_and_expired_login_are_refused(client, make_user, token_for, database):
    user = make_user(username="fern")
    headers = token_for(user)
    other = make_user(username="gus")
    other_headers = token_for(other)
    assert _me(client, headers).status_code == 200
    assert _me(client, other_headers).status_code == 200
    with database.unit_of_work() as db:
        db.execute(update(User).where(User.id == user.id).values(is_active=False))
    assert _me(client, headers).status_code == 401
    clock.freeze(clock.now() + timedelta(days=400))
    assert _me(client, other_headers).status_code == 401


def test_a_cookie_token_is_not_a_bearer_token(client, make_user):
    make_user(username="hana")
    response = client.post("/login", data={"username": "hana", "password": PASSWORD,
                                           "next": "/"}, follow_redirects=False)
    cookie = response.cookies.get("ts_session")
    assert cookie
    assert client.get("/api/me", cookies={"ts_session": cookie}).status_code == 200
    client.cookies.clear()
    assert _me(client, {"Authorization": f"Bearer {cookie}"}).status_code == 401


def test_writes_through_the_copied_user_are_stored(client, make_user, token_for, database):
    """The request's user is merged from the copy: changing it must still reach the database
    (and the copy must not keep the old password hash for the next request)."""
    user = make_user(username="ivan")
    headers = token_for(user)
    assert _me(client, headers).status_code == 200
    changed = client.post("/api/me/password", headers=headers,
                          json={"old_password": PASSWORD, "new_password": "a-new-password-1"})
    assert changed.status_code in (200, 204), changed.text
    with database.unit_of_work() as db:
        stored = db.get(User, user.id)
        assert stored is not None and stored.password_hash != user.password_hash
    assert _me(client, headers).status_code == 200
    login = client.post("/api/auth/token", json={"username": "ivan",
                                                 "password": "a-new-password-1"})
    assert login.status_code == 200
