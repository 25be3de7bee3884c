"""The registry JSON API end to end: public ids only, error bodies, and each role's view."""

from __future__ import annotations

import re

import pytest

from tests.miniapps.registry_world import build_world


@pytest.fixture
def world(database, make_user):
    return build_world(database, make_user)


@pytest.fixture
def headers(world, token_for):
    cache: dict[str, dict[str, str]] = {}

    def get(user):
        if user.username not in cache:
            cache[user.username] = token_for(user)
        return cache[user.username]

    return get


def _external(world, **overrides):
    return {
        "merchant_id": world.merchant, "kind": "external", "name": "鲜果到家", "icon": "🍎",
        "cities": ["武汉"], "tags": ["水果"], "external_url": "https://shop.example.com/app",
        **overrides,
    }


def _no_integer_ids(body) -> None:
    """Nothing that looks like a database id leaks: every `id`-ish value is a prefixed string."""
    if isinstance(body, dict):
        for key, value in body.items():
            if key == "id" or key.endswith("_id"):
                assert value is None or re.match(r"^[a-z]{2,4}_[0-9a-z]+$", value), (key, value)
            _no_integer_ids(value)
    elif isinstance(body, list):
        for item in body:
            _no_integer_ids(item)


def test_create_get_and_list(client, world, headers):
    response = client.post("/api/miniapps", json=_external(world), headers=headers(world.owner))
    assert response.status_code == 201, response.text
    body = response.json()
    assert len(body["client_secret"]) >= 40
    app = body["miniapp"]
    assert app["id"].startswith("ma_") and app["merchant_id"] == world.merchant
    assert [v["state"] for v in app["versions"]] == ["draft"]
    assert [h["action"] for h in app["history"]] == ["miniapp.create", "version.draft"]
    _no_integer_ids(body)

    detail = client.get(f"/api/miniapps/{app['id']}", headers=headers(world.isv_user)).json()
    assert "client_secret" not in detail and detail["versions"][0]["label"] == "1.0.0"
    listing = client.get(f"/api/merchants/{world.merchant}/miniapps",
                         headers=headers(world.operator))
    assert [m["latest_version"]["state"] for m in listing.json()] == ["draft"]
    _no_integer_ids(listing.json())


def test_validation_errors_have_the_error_body(client, world, headers):
    bad = client.post("/api/miniapps", json=_external(world, icon="abc"),
                      headers=headers(world.owner))
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid"
    assert bad.json()["error"]["details"]["field"] == "icon"
    schema_bad = client.post("/api/miniapps", json=_external(world, tags=["x" * 17]),
                             headers=headers(world.owner))
    assert schema_bad.status_code == 422 and schema_bad.json()["error"]["details"]
    config_bad = client.post(
        f"/api/templates/{world.template}/miniapps",
        json={"merchant_id": world.merchant, "name": "店", "cities": ["武汉"],
              "config": {"welcome": "", "min_order_fen": -5}},
        headers=headers(world.owner),
    )
    assert config_bad.status_code == 422
    fields = {d["field"] for d in config_bad.json()["error"]["details"]}
    assert fields == {"welcome", "min_order_fen"}


def test_every_outsider_gets_404(client, world, headers):
    created = client.post("/api/miniapps", json=_external(world), headers=headers(world.owner))
    ma_id = created.json()["miniapp"]["id"]
    ver_id = created.json()["miniapp"]["versions"][0]["id"]
    for who, outsider in world.outsiders.items():
        h = headers(outsider)
        for method, path, body in (
            ("get", f"/api/miniapps/{ma_id}", None),
            ("get", f"/api/miniapps/{ma_id}/versions", None),
            ("get", f"/api/versions/{ver_id}", None),
            ("get", f"/api/merchants/{world.merchant}/miniapps", None),
            ("patch", f"/api/versions/{ver_id}", {"name": "偷改"}),
            ("post", f"/api/versions/{ver_id}/submit", {}),
            ("post", f"/api/miniapps/{ma_id}/secret", None),
            ("post", f"/api/miniapps/{ma_id}/versions", {"label": "1.1.0"}),
            ("post", "/api/miniapps", _external(world)),
        ):
            response = client.request(method, path, json=body, headers=h)
            assert response.status_code == 404, (who, method, path, response.text)
            assert response.json()["error"]["code"] == "not_found"
    assert client.get(f"/api/miniapps/{ma_id}").status_code == 401


def test_versions_crud_and_secret_rotation(client, world, headers):
    h = headers(world.owner)
    created = client.post("/api/miniapps", json=_external(world), headers=h).json()
    ma_id, ver_id = created["miniapp"]["id"], created["miniapp"]["versions"][0]["id"]
    patched = client.patch(f"/api/versions/{ver_id}", json={"description": "更新描述"}, headers=h)
    assert patched.status_code == 200 and patched.json()["description"] == "更新描述"
    assert patched.json()["name"] == "鲜果到家"
    conflict = client.post(f"/api/miniapps/{ma_id}/versions", json={"label": "1.1.0"}, headers=h)
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "conflict"
    rotated = client.post(f"/api/miniapps/{ma_id}/secret", headers=h)
    assert rotated.status_code == 200
    assert rotated.json()["client_secret"] != created["client_secret"]
    assert client.post(f"/api/miniapps/{ma_id}/secret",
                       headers=headers(world.operator)).status_code == 403
    assert client.delete(f"/api/versions/{ver_id}", headers=h).status_code == 409
    versions = client.get(f"/api/miniapps/{ma_id}/versions", headers=h).json()
    assert [v["id"] for v in versions] == [ver_id]


def test_review_flow_over_the_api(client, world, headers):
    owner, operator = headers(world.owner), headers(world.operator)
    created = client.post("/api/miniapps", json=_external(world, category="medicine"),
                          headers=owner).json()
    ma_id, ver_id = created["miniapp"]["id"], created["miniapp"]["versions"][0]["id"]
    submitted = client.post(f"/api/versions/{ver_id}/submit",
                            json={"publish_on_approval": True}, headers=owner)
    assert submitted.status_code == 200 and submitted.json()["lane"] == "expedited"
    assert client.get("/api/reviews/queue", headers=owner).status_code == 403
    queue = client.get("/api/reviews/queue", headers=operator).json()
    assert [item["version"]["id"] for item in queue] == [ver_id]
    assert queue[0]["lane"] == "expedited" and queue[0]["overdue"] is False
    _no_integer_ids(queue)
    assert client.post(f"/api/versions/{ver_id}/approve", headers=owner).status_code == 403
    approved = client.post(f"/api/versions/{ver_id}/approve", headers=operator)
    assert approved.json()["state"] == "published"
    assert client.get(f"/api/miniapps/{ma_id}", headers=owner).json()["listed"] is True
    listed = client.get("/api/listed-miniapps", headers=operator).json()
    assert [row["miniapp"]["id"] for row in listed] == [ma_id]
    no_reason = client.post(f"/api/versions/{ver_id}/takedown", json={"reason": ""},
                            headers=operator)
    assert no_reason.status_code == 422
    down = client.post(f"/api/versions/{ver_id}/takedown", json={"reason": "虚假宣传"},
                       headers=operator)
    assert down.json()["state"] == "taken_down"
    detail = client.get(f"/api/miniapps/{ma_id}", headers=owner).json()
    assert (detail["listed"], detail["taken_down_reason"]) == (False, "虚假宣传")
    assert detail["versions"][0]["reason"] == "虚假宣传"
    assert detail["history"][-1]["reason"] == "虚假宣传"


def test_templates_over_the_api(client, world, headers):
    isv = headers(world.isv_user)
    created = client.post("/api/templates", headers=isv, json={
        "provider_id": world.isv, "runtime": "info", "name": "公告页",
        "defaults": {"headline": "本周通知"},
    })
    assert created.status_code == 201, created.text
    # a draft may leave a required setting blank; it is published only once every one is set
    refused = client.post(f"/api/templates/{created.json()['id']}/publish", headers=headers(
        world.isv_user))
    assert refused.status_code == 422
    assert [d["field"] for d in refused.json()["error"]["details"]] == ["body"]
    created = client.post("/api/templates", headers=isv, json={
        "provider_id": world.isv, "runtime": "info", "name": "公告页",
        "defaults": {"headline": "本周通知", "body": "详情见正文"},
    })
    assert created.status_code == 201, created.text
    tpl = created.json()
    assert tpl["status"] == "draft"
    assert {f["name"]: f["default"] for f in tpl["fields"]}["headline"] == "本周通知"
    hidden = client.get(f"/api/templates/{tpl['id']}", headers=headers(world.owner))
    assert hidden.status_code == 404
    stranger = client.post("/api/templates", headers=headers(world.stranger_isv_user), json={
        "provider_id": world.isv, "runtime": "info", "name": "冒名"})
    assert stranger.status_code == 404
    assert client.post(f"/api/templates/{tpl['id']}/publish", headers=isv).status_code == 200
    published = client.get("/api/templates", headers=headers(world.resident)).json()
    assert {t["id"] for t in published} == {tpl["id"], world.template}
    mine = client.get(f"/api/providers/{world.isv}/templates", headers=isv).json()
    assert len(mine) == 4  # two published and the two drafts
    assert client.get(f"/api/providers/{world.isv}/templates",
                      headers=headers(world.owner)).status_code == 404
    app = client.post(f"/api/templates/{tpl['id']}/miniapps", headers=headers(world.owner), json={
        "merchant_id": world.merchant, "name": "小区公告", "cities": ["武汉"],
        "config": {"body": "周六停水"}, "submit": True,
    })
    assert app.status_code == 201, app.text
    version = app.json()["miniapp"]["versions"][0]
    assert version["config"] == {"headline": "本周通知", "body": "周六停水"}
    assert version["state"] == "submitted" and version["publish_on_approval"] is True
    runtimes = client.get("/api/runtimes").json()
    assert {r["key"] for r in runtimes} >= {"info", "storefront", "consultation"}
