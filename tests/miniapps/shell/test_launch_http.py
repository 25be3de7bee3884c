"""Launch contexts over HTTP: the published key set, the container's iframe URL and the
first-party /run pages that verify the context like an outside backend would."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from tests.miniapps.shell_data import browser_login, make_miniapp, set_listed
from townsquare.core.clock import clock
from townsquare.miniapps.shell import launch

SUB = re.compile(r'id="launch-status"[^>]*data-sub="(ou_[0-9a-f]+)"')


def _iframe_src(html: str) -> str:
    match = re.search(r'<iframe id="miniapp-frame"[^>]*src="([^"]+)"', html)
    assert match, "no mini-app frame"
    return match.group(1).replace("&amp;", "&")


def test_published_keys_verify_a_launch_token(client, make_user, token_for, settings, database):
    app = make_miniapp(database, kind="template")
    user = make_user()
    keys = client.get("/api/launch/keys")
    assert keys.status_code == 200
    assert list(keys.json()) == list(launch.ACCEPTED_KIDS)
    launched = client.post(f"/api/launch/{app.id}", headers=token_for(user))
    assert launched.status_code == 200, launched.text
    body = launched.json()
    context = launch.verify(
        body["token"], launch.keys_from_text(keys.json()), app=app.id,
        now=clock.now().timestamp(), max_age=settings.launch_context_ttl_seconds,
    )
    assert context.sub == body["sub"]
    assert context.sub == launch.pseudonymous_id(
        settings.effective_secret_key, user.public_id, app.id
    )
    assert body["url"].startswith(f"/run/{app.id}?ts_launch=")
    assert client.post(f"/api/launch/{app.id}").status_code == 401


def test_sub_is_stable_per_miniapp_and_different_across_miniapps(
    client, make_user, token_for, database
):
    first, second = make_miniapp(database), make_miniapp(database, name="药房")
    headers = token_for(make_user())
    sub = lambda app: client.post(f"/api/launch/{app.id}", headers=headers).json()["sub"]  # noqa: E731
    assert sub(first) == sub(first)
    assert sub(first) != sub(second)


def test_container_needs_login(client, database):
    app = make_miniapp(database)
    response = client.get(f"/apps/{app.id}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=/apps/{app.id}"


def test_template_miniapp_runs_in_the_frame_with_config_over_defaults(
    client, make_user, database
):
    app = make_miniapp(
        database, runtime="storefront", certified_brand="百果园",
        template_defaults={"welcome": "默认欢迎语", "opening_hours": "全天", "min_order_fen": 1500},
        config={"welcome": "欢迎来到鲜果店", "delivery": True},
    )
    browser_login(client, make_user())
    page = client.get(f"/apps/{app.id}")
    assert page.status_code == 200
    assert app.name in page.text and "百果园" in page.text
    src = _iframe_src(page.text)
    assert src.startswith(f"/run/{app.id}?ts_launch=")
    framed = client.get(src)
    assert framed.status_code == 200
    # it must load inside the container (same origin) and in no other site's frame
    assert framed.headers["x-frame-options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in framed.headers["content-security-policy"]
    assert SUB.search(framed.text)
    assert "欢迎来到鲜果店" in framed.text and "默认欢迎语" not in framed.text  # version wins
    assert "全天" in framed.text and "¥15.00" in framed.text  # defaults fill the gaps
    assert 'id="delivery"' in framed.text and 'id="pickup"' not in framed.text


def test_every_runtime_renders(client, make_user, database):
    browser_login(client, make_user())
    expected = {"info": "停水通知", "storefront": "欢迎光临", "consultation": "视频"}
    for runtime, text in expected.items():
        app = make_miniapp(database, runtime=runtime)
        framed = client.get(_iframe_src(client.get(f"/apps/{app.id}").text))
        assert framed.status_code == 200, runtime
        assert text in framed.text, runtime
        assert f"runtime-{runtime}" in framed.text


def test_run_rejects_missing_altered_expired_and_foreign_tokens(client, make_user, database):
    app, other = make_miniapp(database), make_miniapp(database, name="药房")
    browser_login(client, make_user())
    src = _iframe_src(client.get(f"/apps/{app.id}").text)
    token = parse_qs(urlsplit(src).query)["ts_launch"][0]
    other_token = parse_qs(urlsplit(_iframe_src(client.get(f"/apps/{other.id}").text)).query)[
        "ts_launch"
    ][0]
    assert client.get(f"/run/{app.id}").status_code == 401
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    assert client.get(f"/run/{app.id}", params={"ts_launch": tampered}).status_code == 401
    foreign = client.get(f"/run/{app.id}", params={"ts_launch": other_token})
    assert foreign.status_code == 401
    assert "这个服务的打开链接已失效" in foreign.text and "launch-status" not in foreign.text
    clock.freeze(clock.now() + timedelta(seconds=301))
    expired = client.get(f"/run/{app.id}", params={"ts_launch": token}, headers={})
    assert expired.status_code == 401
    english = client.get(f"/run/{app.id}", params={"ts_launch": token, "lang": "en"})
    assert "Launch context invalid or expired" in english.text


def test_external_miniapp_gets_the_parameter_added_properly(client, make_user, database):
    with_query = make_miniapp(
        database, kind="external", external_url="https://shop.example.com/m/?app=ma_x&a=1#top"
    )
    without = make_miniapp(database, kind="external", external_url="https://shop.example.com/m")
    browser_login(client, make_user())
    src = _iframe_src(client.get(f"/apps/{with_query.id}").text)
    parts = urlsplit(src)
    assert (parts.scheme, parts.netloc, parts.path, parts.fragment) == (
        "https", "shop.example.com", "/m/", "top"
    )
    query = parse_qs(parts.query)
    assert query["app"] == ["ma_x"] and query["a"] == ["1"] and len(query["ts_launch"]) == 1
    assert _iframe_src(client.get(f"/apps/{without.id}").text).startswith(
        "https://shop.example.com/m?ts_launch="
    )


def test_unlisted_or_unknown_miniapps_do_not_open(client, make_user, token_for, database):
    app = make_miniapp(database)
    user = make_user()
    browser_login(client, user)
    set_listed(database, app.id, False)
    assert client.get(f"/apps/{app.id}").status_code == 404
    assert client.get("/apps/ma_doesnotexist").status_code == 404
    assert client.get("/apps/%00weird").status_code == 404
    assert client.post(f"/api/launch/{app.id}", headers=token_for(user)).status_code == 404
    # and a still-valid token no longer runs it
    set_listed(database, app.id, True)
    src = _iframe_src(client.get(f"/apps/{app.id}").text)
    set_listed(database, app.id, False)
    assert client.get(src).status_code == 404


def test_sample_backend_verifies_like_an_outside_backend(app, client, make_user, database):
    external = make_miniapp(database, kind="external", external_url="https://placeholder")
    user = make_user()
    headers = {"Authorization": "Bearer " + client.post(
        "/api/auth/token", json={"username": user.username, "password": "correct-horse-9"}
    ).json()["token"]}
    token = client.post(f"/api/launch/{external.id}", headers=headers).json()["token"]
    outsider = TestClient(app)  # no cookies, no session: only what the URL carries
    page = outsider.get("/sample-miniapp/", params={"app": external.id, "ts_launch": token})
    assert page.status_code == 200
    assert SUB.search(page.text)
    wrong_app = outsider.get("/sample-miniapp/", params={"app": "ma_other", "ts_launch": token})
    assert wrong_app.status_code == 401
    assert outsider.get("/sample-miniapp/", params={"app": external.id}).status_code == 401
