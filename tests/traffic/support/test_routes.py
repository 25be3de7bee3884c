"""The support JSON API: points and redemptions (with the Idempotency-Key header), stages and
campaigns, and that a merchant sees only its own figures."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.traffic.support_helpers import freeze, snapshot
from tests.traffic.world import build_world
from townsquare.traffic.support import points


@pytest.fixture
def world(database):
    freeze()
    return build_world(database)


@pytest.fixture
def as_(token_for, world):
    return {name: token_for(getattr(world, name))
            for name in ("owner", "other_owner", "resident", "operator")}


def _fund(database, world, amount=250):
    with database.unit_of_work() as db:
        points.earn(db, merchant_id=world.app("brand").merchant_id, rule_code="complete_profile",
                    points=amount, reference="earn:complete_profile:brand:once",
                    miniapp_id=world.app("brand").id)


def test_points_and_redemptions(client, world, database, as_):
    _fund(database, world)
    brand = world.app("brand")
    mer = brand.merchant_public_id
    body = {"package_code": "feed_small", "miniapp_id": brand.public_id}
    first = client.post(f"/api/merchants/{mer}/redemptions", json=body,
                        headers=as_["owner"] | {"Idempotency-Key": "order-1"})
    assert first.status_code == 201, first.text
    assert first.json()["points"] == 100 and first.json()["state"] == "active"
    assert first.json()["planned"] == 0 and first.json()["delivered"] == 0
    retry = client.post(f"/api/merchants/{mer}/redemptions",
                        json=body | {"idempotency_key": "order-1"}, headers=as_["owner"])
    assert retry.status_code == 200 and retry.json()["id"] == first.json()["id"]
    overview = client.get(f"/api/merchants/{mer}/points", headers=as_["owner"]).json()
    assert overview["balance"] == 150
    assert [(e["kind"], e["delta"], e["balance_after"]) for e in overview["entries"]] == [
        ("redeem", -100, 150), ("earn", 250, 250)]
    assert overview["entries"][1]["miniapp_id"] == brand.public_id
    listed = client.get(f"/api/merchants/{mer}/redemptions", headers=as_["owner"]).json()
    assert [r["id"] for r in listed] == [first.json()["id"]]
    packages = client.get("/api/traffic/packages", headers=as_["owner"]).json()
    assert {p["code"] for p in packages} == {"feed_small", "feed_large", "search_boost"}


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        ({}, {}, 422),  # no key at all
        ({"idempotency_key": "a"}, {"Idempotency-Key": "b"}, 422),  # two different keys
        ({"idempotency_key": "bad key"}, {}, 422),
        ({}, {"Idempotency-Key": "bad key!"}, 422),
        ({"idempotency_key": "k", "package_code": "nope"}, {}, 422),
        ({"idempotency_key": "k", "package_code": "feed_large"}, {}, 409),  # 500 > 250 points
        ({"idempotency_key": "k", "miniapp_id": "ma_unknownunknown"}, {}, 404),
        ({"idempotency_key": "k", "miniapp_id": "x" * 41}, {}, 422),
    ],
)
def test_bad_redemption_requests_change_nothing(client, world, database, as_, body, headers,
                                                status):
    _fund(database, world)
    brand = world.app("brand")
    with database.unit_of_work() as db:
        before = snapshot(db)
    response = client.post(
        f"/api/merchants/{brand.merchant_public_id}/redemptions",
        json={"package_code": "feed_small", "miniapp_id": brand.public_id} | body,
        headers=as_["owner"] | headers,
    )
    assert response.status_code == status, response.text
    assert "error" in response.json() or "detail" in response.json()
    with database.unit_of_work() as db:
        assert snapshot(db) == before


def test_a_merchant_sees_only_its_own_figures(client, world, database, as_):
    _fund(database, world)
    mer = world.app("brand").merchant_public_id
    reads = [f"/api/merchants/{mer}/points", f"/api/merchants/{mer}/redemptions",
             f"/api/merchants/{mer}/stages", f"/api/merchants/{mer}/campaigns"]
    for path in reads:
        assert client.get(path).status_code == 401
        for outsider in ("other_owner", "resident"):
            response = client.get(path, headers=as_[outsider])
            assert response.status_code == 403, (path, outsider)
            assert "250" not in response.text
        assert client.get(path, headers=as_["owner"]).status_code == 200
        assert client.get(path, headers=as_["operator"]).status_code == 200
    with database.unit_of_work() as db:
        before = snapshot(db)
    stolen = client.post(f"/api/merchants/{mer}/redemptions",
                         json={"package_code": "feed_small", "miniapp_id": world.app("brand")
                               .public_id, "idempotency_key": "steal"},
                         headers=as_["other_owner"])
    assert stolen.status_code == 403
    # the owner cannot spend its points on someone else's mini-app either
    foreign = client.post(f"/api/merchants/{mer}/redemptions",
                          json={"package_code": "feed_small", "idempotency_key": "x",
                                "miniapp_id": world.app("grocer").public_id},
                          headers=as_["owner"])
    assert foreign.status_code == 404
    with database.unit_of_work() as db:
        assert snapshot(db) == before


def test_stages_endpoint_explains_the_rule(client, world, as_):
    mer = world.app("brand").merchant_public_id
    body = client.get(f"/api/merchants/{mer}/stages?lang=en", headers=as_["owner"]).json()
    assert body["stage"] == "mature" and body["label"] == "Mature"
    [app] = body["miniapps"]
    assert app["miniapp_id"] == world.app("brand").public_id and app["stage"] == "mature"
    assert app["explanation"]  # the world's profiles carry no figures: the label at least


def test_operator_adjusts_points(client, world, as_):
    mer = world.app("brand").merchant_public_id
    path = f"/api/merchants/{mer}/points/adjustments"
    assert client.post(path, json={"delta": 30, "reason": "补偿"},
                       headers=as_["owner"]).status_code == 403
    assert client.post(path, json={"delta": -1, "reason": "x"},
                       headers=as_["operator"]).status_code == 409
    made = client.post(path, json={"delta": 30, "reason": "补偿"}, headers=as_["operator"])
    assert made.status_code == 201 and made.json()["balance_after"] == 30


def test_campaign_lifecycle_through_the_api(client, world, database, as_):
    today = freeze().date()
    payload = {"title_zh": "春季生鲜节", "title_en": "Spring fresh", "surfaces": ["feed"],
               "starts_on": str(today), "ends_on": str(today + timedelta(days=6)),
               "eligible_stages": ["mature"], "min_tier": "B", "category_codes": ["grocery"],
               "impressions_per_miniapp": 800}
    assert client.post("/api/traffic/campaigns", json=payload,
                       headers=as_["owner"]).status_code == 403
    bad = client.post("/api/traffic/campaigns", json=payload | {"surfaces": ["nowhere"]},
                      headers=as_["operator"])
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid"
    made = client.post("/api/traffic/campaigns", json=payload, headers=as_["operator"])
    assert made.status_code == 201, made.text
    cmp = made.json()["id"]
    assert made.json()["state"] == "draft"
    mer = world.app("brand").merchant_public_id
    assert client.get(f"/api/merchants/{mer}/campaigns", headers=as_["owner"]).json() == []
    opened = client.post(f"/api/traffic/campaigns/{cmp}/state", json={"state": "open"},
                         headers=as_["operator"])
    assert opened.status_code == 200 and opened.json()["state"] == "open"
    [offer] = client.get(f"/api/merchants/{mer}/campaigns", headers=as_["owner"]).json()
    assert offer["campaign"]["id"] == cmp
    assert offer["miniapps"] == [{"miniapp_id": world.app("brand").public_id,
                                  "name": world.app("brand").name, "eligible": True,
                                  "reasons": [], "enrolled": False}]
    path = f"/api/traffic/campaigns/{cmp}/enrolments"
    body = {"miniapp_id": world.app("brand").public_id}
    first = client.post(path, json=body, headers=as_["owner"])
    assert first.status_code == 201, first.text
    again = client.post(path, json=body, headers=as_["owner"])
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert client.post(path, json=body, headers=as_["other_owner"]).status_code == 404
    refused = client.post(path, json={"miniapp_id": world.app("lookalike").public_id},
                          headers=as_["other_owner"])
    assert refused.status_code == 409 and len(refused.json()["error"]["details"]) == 2
    [offer] = client.get(f"/api/merchants/{mer}/campaigns", headers=as_["owner"]).json()
    assert offer["miniapps"][0]["enrolled"] is True
    listed = client.get("/api/traffic/campaigns", headers=as_["operator"]).json()
    assert [(c["id"], c["enrolments"]) for c in listed] == [(cmp, 1)]
    assert client.get("/api/traffic/campaigns", headers=as_["owner"]).status_code == 403
    gone = client.delete(f"{path}/{world.app('brand').public_id}", headers=as_["owner"])
    assert gone.status_code == 200 and gone.json()["withdrawn_at"]
    assert client.delete(f"{path}/{world.app('brand').public_id}",
                         headers=as_["other_owner"]).status_code == 404
    closed = client.post(f"/api/traffic/campaigns/{cmp}/state", json={"state": "draft"},
                         headers=as_["operator"])
    assert closed.status_code == 409
