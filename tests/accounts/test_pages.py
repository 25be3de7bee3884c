"""Browser-style flows through the HTML pages: cookie login, CSRF, sign-up, logout."""

import re

from tests.conftest import PASSWORD


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_login_sets_httponly_cookie_and_redirects_safely(client, make_user):
    make_user(username="dora")
    response = client.post(
        "/login",
        data={"username": "dora", "password": PASSWORD, "next": "https://evil.example/"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_wrong_password_shows_the_form_again(client, make_user):
    make_user(username="erin")
    response = client.post("/login", data={"username": "erin", "password": "wrong-one"})
    assert response.status_code == 401
    assert "用户名或密码错误" in response.text


def test_form_post_without_csrf_token_changes_nothing(client, make_user):
    make_user(username="fay")
    client.post("/login", data={"username": "fay", "password": PASSWORD})
    forged = client.post(
        "/me/identity",
        data={"real_name": "张三", "id_number": "11010519491231002X", "phone": "13812345678"},
    )
    assert forged.status_code == 403
    page = client.get("/me").text
    assert "已认证" not in page
    ok = client.post(
        "/me/identity",
        data={
            "real_name": "张三",
            "id_number": "11010519491231002X",
            "phone": "13812345678",
            "csrf_token": _csrf(page),
        },
    )
    assert ok.status_code == 200 and "110***********002X" in ok.text


def test_cookie_json_call_needs_csrf_header(client, make_user):
    make_user(username="gus")
    client.post("/login", data={"username": "gus", "password": PASSWORD})
    body = {"real_name": "张三", "id_number": "11010519491231002X", "phone": "13812345678"}
    assert client.post("/api/me/identity", json=body).status_code == 403
    token = _csrf(client.get("/me").text)
    assert (
        client.post("/api/me/identity", json=body, headers={"X-CSRF-Token": token}).status_code
        == 200
    )


def test_signup_signs_in_then_logout(client):
    bad = client.post("/signup", data={"username": "a", "password": "short", "display_name": "x"})
    assert bad.status_code == 422 and "set-cookie" not in bad.headers
    ok = client.post(
        "/signup",
        data={"username": "newbie", "password": PASSWORD, "display_name": "新人"},
        follow_redirects=False,
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/me"
    assert "httponly" in ok.headers["set-cookie"].lower()
    page = client.get("/me", follow_redirects=False)  # signed in, no second login
    assert page.status_code == 200
    assert "新人" in page.text
    client.post("/logout", data={"csrf_token": _csrf(page.text)})
    assert client.get("/me", follow_redirects=False).status_code == 303


def test_revoked_bearer_token_stops_working(client, make_user, token_for):
    headers = token_for(make_user())
    assert client.post("/api/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/me", headers=headers).status_code == 401
