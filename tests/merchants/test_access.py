"""Nobody sees or changes another merchant's or provider's data: each outsider role is tried
against every merchant-A and provider-P endpoint."""

from __future__ import annotations

import pytest

from townsquare.merchants import authorizations

ROLES = ["resident", "other merchant's staff", "unauthorized ISV", "revoked ISV", "operator"]


@pytest.fixture(params=ROLES)
def outsider(request, world, database, token_for):
    if request.param == "revoked ISV":
        with database.unit_of_work() as db:
            authorizations.revoke(
                db, actor=None, merchant_id=world.merchant_a, authorization_id=world.authorization_p
            )
    user = {
        "resident": world.resident,
        "other merchant's staff": world.owner_b,
        "unauthorized ISV": world.isv_q,
        "revoked ISV": world.isv_p,
        "operator": world.operator,
    }[request.param]
    return request.param, token_for(user)


def test_outsiders_cannot_change_merchant_a(client, world, outsider):
    _role, headers = outsider
    a = f"/api/merchants/{world.merchant_a}"
    attempts = [
        ("patch", a, {"description": "hacked"}),
        ("get", f"{a}/staff", None),
        ("post", f"{a}/staff", {"username": "resident"}),
        ("delete", f"{a}/staff/{world.owner_a.public_id}", None),
        ("post", f"{a}/brands", {"name": "Stolen", "evidence": "none"}),
        ("get", f"{a}/authorizations", None),
        ("post", f"{a}/authorizations", {"provider_id": world.provider_q}),
        ("post", f"{a}/authorizations/{world.authorization_p}/revoke", None),
    ]
    for method, url, body in attempts:
        kwargs = {"json": body} if body is not None else {}
        response = client.request(method.upper(), url, headers=headers, **kwargs)
        assert response.status_code == 403, (method, url, response.text)
        assert response.json()["error"]["code"] == "forbidden"
    owner_view = client.get(a, headers=headers)
    assert "hacked" not in owner_view.text


def test_only_operators_may_look_at_merchant_a(client, world, outsider):
    role, headers = outsider
    a = f"/api/merchants/{world.merchant_a}"
    expected = 200 if role == "operator" else 403
    assert client.get(a, headers=headers).status_code == expected
    assert client.get(f"{a}/brands", headers=headers).status_code == expected
    mine = client.get("/api/merchants/mine", headers=headers).json()
    assert world.merchant_a not in {m["id"] for m in mine}


def test_outsiders_learn_nothing_from_missing_ids(client, world, outsider):
    role, headers = outsider
    real = client.get(f"/api/merchants/{world.merchant_a}", headers=headers)
    missing = client.get("/api/merchants/mer_0000000000000000", headers=headers)
    if role == "operator":
        assert missing.status_code == 404
    else:
        # "not yours" and "does not exist" look the same
        assert (missing.status_code, missing.json()) == (real.status_code, real.json())
    junk = client.get("/api/merchants/%00drop", headers=headers)
    assert junk.status_code in (403, 404)


def test_outsiders_cannot_see_or_change_provider_p(client, world, outsider):
    role, headers = outsider
    p = f"/api/providers/{world.provider_p}"
    if role == "revoked ISV":
        # pat still works for P, but P no longer serves merchant A
        assert client.get(f"{p}/merchants", headers=headers).json() == []
        return
    assert client.get(f"{p}/staff", headers=headers).status_code == 403
    assert client.get(f"{p}/merchants", headers=headers).status_code == 403
    assert (
        client.post(f"{p}/staff", headers=headers, json={"username": "resident"}).status_code == 403
    )
    # the public directory entry stays visible
    assert client.get(p, headers=headers).json()["name"] == "Pine ISV"


def test_anonymous_callers_get_401(client, world):
    for url in (
        f"/api/merchants/{world.merchant_a}",
        "/api/merchants/mine",
        "/api/providers",
        f"/api/providers/{world.provider_p}/merchants",
        "/api/brands",
    ):
        response = client.get(url)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthenticated"
