"""The channels and topics JSON API: who may call what, the error envelope, and that a merchant
sees and changes only its own applications."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.traffic.market_world import api_error, snapshot, tokens
from tests.traffic.world import CITY, OTHER_CITY, build_world
from townsquare.core.clock import clock

NOW = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)
TOPIC = {"slug": "fruit", "title_zh": "买水果", "title_en": "Buy fruit",
         "description_zh": "新鲜水果", "category_codes": [], "tags": ["水果"]}


@pytest.fixture
def world(database):
    clock.freeze(NOW)
    return build_world(database)


@pytest.fixture
def auth(client, world, token_for):
    return tokens(world, token_for)


def test_operators_define_channels_and_topics_everyone_reads_them(client, world, auth, database):
    before = snapshot(database)
    api_error(client.post("/api/topics", json=TOPIC), 401, "unauthenticated")
    api_error(client.post("/api/topics", json=TOPIC, headers=auth["owner"]), 403, "forbidden")
    api_error(client.put("/api/channels/life", headers=auth["resident"],
                      json={"title_zh": "生活", "title_en": "Life"}), 403, "forbidden")
    api_error(client.post("/api/topics", headers=auth["operator"],
                       json={**TOPIC, "category_codes": ["nope"]}), 422, "invalid")
    assert snapshot(database) == before

    created = client.post("/api/topics", json=TOPIC, headers=auth["operator"])
    assert created.status_code == 201, created.text
    assert created.json()["surface"] == "topic.fruit" and created.json()["id"].startswith("top_")
    api_error(client.post("/api/topics", json=TOPIC, headers=auth["operator"]), 409, "conflict")
    channel = client.put("/api/channels/life", headers=auth["operator"],
                         json={"title_zh": "生活", "title_en": "Life",
                               "category_codes": ["clinic"]})
    assert channel.status_code == 200, channel.text

    assert [c["slug"] for c in client.get("/api/channels").json()] == ["life"]
    detail = client.get("/api/channels/life", params={"city": CITY}).json()
    assert [m["id"] for m in detail["miniapps"]] == [world.app("clinic").public_id]
    assert [t["slug"] for t in client.get("/api/topics").json()] == ["fruit"]
    fruit = client.get("/api/topics/fruit", params={"city": CITY}).json()
    assert {m["id"] for m in fruit["miniapps"]} == {
        world.app(k).public_id for k in ("brand", "lookalike", "newcomer")
    }
    assert client.get("/api/topics/fruit", params={"city": OTHER_CITY}).json()["miniapps"] == []
    api_error(client.get("/api/topics/nothing"), 404, "not_found")

    hidden = client.patch("/api/topics/fruit", json={"active": False},
                          headers=auth["operator"])
    assert hidden.json()["active"] is False
    assert client.get("/api/topics").json() == []
    api_error(client.get("/api/topics/fruit"), 404, "not_found")
    assert client.get("/api/topics/fruit", headers=auth["operator"]).status_code == 200
    everything = client.get("/api/topics", params={"include_inactive": True},
                            headers=auth["operator"])
    assert [t["slug"] for t in everything.json()] == ["fruit"]
    assert client.get("/api/topics", params={"include_inactive": True}).json() == []


def test_applications_from_merchant_to_operator_decision(client, world, auth, database):
    assert client.post("/api/topics", json=TOPIC, headers=auth["operator"]).status_code == 201
    clinic = world.app("clinic")
    body = {"miniapp_id": clinic.public_id, "note": "也卖水果"}
    api_error(client.post("/api/topics/fruit/applications", json=body, headers=auth["owner"]),
           404, "not_found")  # not the owner's mini-app
    applied = client.post("/api/topics/fruit/applications", json=body,
                          headers=auth["other_owner"])
    assert applied.status_code == 201, applied.text
    tpm = applied.json()["id"]
    assert (applied.json()["state"], applied.json()["merchant_id"]) == \
        ("applied", clinic.merchant_public_id)
    api_error(client.post("/api/topics/fruit/applications", json=body,
                       headers=auth["other_owner"]), 409, "conflict")

    queue = client.get("/api/topics/applications", params={"state": "applied"},
                       headers=auth["operator"])
    assert [a["id"] for a in queue.json()] == [tpm]
    api_error(client.get("/api/topics/applications", headers=auth["other_owner"]), 403, "forbidden")
    api_error(client.get("/api/topics/applications", params={"state": "bogus"},
                      headers=auth["operator"]), 422, "invalid")

    before = snapshot(database)
    api_error(client.post(f"/api/topics/applications/{tpm}/decision", headers=auth["operator"],
                       json={"approve": False, "reason": ""}), 422, "invalid")
    api_error(client.post(f"/api/topics/applications/{tpm}/decision", headers=auth["other_owner"],
                       json={"approve": True}), 403, "forbidden")
    api_error(client.post(f"/api/topics/applications/{tpm}/removal", headers=auth["operator"],
                       json={"reason": "x"}), 409, "conflict")
    assert snapshot(database) == before

    decided = client.post(f"/api/topics/applications/{tpm}/decision", headers=auth["operator"],
                          json={"approve": True})
    assert decided.json()["state"] == "approved"
    assert clinic.public_id in {m["id"] for m in client.get("/api/topics/fruit").json()["miniapps"]}
    removed = client.post(f"/api/topics/applications/{tpm}/removal", headers=auth["operator"],
                          json={"reason": "不再销售"})
    assert (removed.json()["state"], removed.json()["reason"]) == ("removed", "不再销售")

    mine = client.get(f"/api/merchants/{clinic.merchant_public_id}/topic-applications",
                      headers=auth["other_owner"])
    assert [a["id"] for a in mine.json()] == [tpm]
    api_error(client.get(f"/api/merchants/{clinic.merchant_public_id}/topic-applications",
                      headers=auth["owner"]), 403, "forbidden")
