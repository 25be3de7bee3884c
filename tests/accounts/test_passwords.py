"""Password change (with the current password; the user's other sessions end) and the
operator-assisted reset (a temporary password; every session of the user ends)."""

from __future__ import annotations

from tests.conftest import PASSWORD
from townsquare.accounts.models import Role


def _token(client, username, password=PASSWORD):
    response = client.post("/api/auth/token", json={"username": username, "password": password})
    return response.json().get("token") if response.status_code == 200 else None


def test_change_needs_the_old_password_and_ends_other_sessions(client, make_user):
    user = make_user()
    here, elsewhere = _token(client, user.username), _token(client, user.username)
    auth = {"Authorization": f"Bearer {here}"}
    wrong = client.post("/api/me/password", headers=auth,
                        json={"old_password": "not-it-at-all", "new_password": "brand-new-pass"})
    assert wrong.status_code == 422
    ok = client.post("/api/me/password", headers=auth,
                     json={"old_password": PASSWORD, "new_password": "brand-new-pass"})
    assert ok.status_code == 204
    assert client.get("/api/me", headers=auth).status_code == 200  # this session stays
    assert client.get("/api/me", headers={"Authorization": f"Bearer {elsewhere}"}
                      ).status_code == 401
    assert _token(client, user.username) is None
    assert _token(client, user.username, "brand-new-pass")


def test_operator_reset_ends_every_session(client, make_user):
    operator, user = make_user(Role.OPERATOR), make_user()
    victim_session = _token(client, user.username)
    op = {"Authorization": f"Bearer {_token(client, operator.username)}"}
    assert client.post(f"/api/users/{user.username}/password-reset",
                       headers={"Authorization": f"Bearer {victim_session}"}).status_code == 403
    response = client.post(f"/api/users/{user.username}/password-reset", headers=op)
    assert response.status_code == 200
    temporary = response.json()["temporary_password"]
    assert client.get("/api/me", headers={"Authorization": f"Bearer {victim_session}"}
                      ).status_code == 401
    assert _token(client, user.username) is None and _token(client, user.username, temporary)
    assert client.post("/api/users/nobody-here/password-reset", headers=op).status_code == 404
