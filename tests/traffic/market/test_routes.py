"""The bids JSON API: who may call what, the error envelope, and that a merchant sees and
changes only its own bids."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.traffic.market_world import api_error, snapshot, tokens
from tests.traffic.serving_data import LEGACY_ADS, configure
from tests.traffic.world import build_world
from townsquare.core.clock import clock

NOW = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)


@pytest.fixture
def world(database):
    clock.freeze(NOW)
    found = build_world(database)
    configure(database, found, **LEGACY_ADS)  # the look-alike (tier C) bids here
    return found


@pytest.fixture
def auth(client, world, token_for):
    return tokens(world, token_for)


def test_merchants_bid_and_see_only_their_own(client, world, auth, database):
    brand = world.app("brand")
    url = f"/api/merchants/{brand.merchant_public_id}/bids"
    body = {"miniapp_id": brand.public_id, "target_kind": "keyword", "target": " 鲜丰水果 ",
            "max_cpc_fen": 120, "daily_budget_fen": 5_000}
    placed = client.post(url, json=body, headers=auth["owner"])
    assert placed.status_code == 200, placed.text
    bid = placed.json()
    assert (bid["target"], bid["active"], bid["today"]) == (
        "鲜丰水果", True, {"budget_fen": 5_000, "spent_fen": 0, "clicks": 0,
                            "filtered_clicks": 0, "impressions": 0})
    assert bid["id"].startswith("bid_") and bid["miniapp"]["id"] == brand.public_id

    listed = client.get(url, headers=auth["owner"]).json()
    assert [b["id"] for b in listed] == [bid["id"]]
    api_error(client.get(url, headers=auth["other_owner"]), 403, "forbidden")
    api_error(client.get(url, headers=auth["resident"]), 403, "forbidden")

    lookalike = world.app("lookalike")
    theirs = f"/api/merchants/{lookalike.merchant_public_id}/bids"
    before = snapshot(database)
    refused = [
        (url, {**body, "target": "feed", "target_kind": "surface"}, "other_owner", 403,
         "forbidden"),  # not their merchant
        (theirs, {**body, "miniapp_id": lookalike.public_id}, "other_owner", 403,
         "brand_keyword"),  # the certified brand's name
        (theirs, {**body, "miniapp_id": brand.public_id}, "other_owner", 404, "not_found"),
        (url, {**body, "max_cpc_fen": 5}, "owner", 422, "invalid"),  # below the reserve
        (url, {**body, "max_cpc_fen": 10**12}, "owner", 422, "invalid"),  # schema bound
        (url, {**body, "daily_budget_fen": 100}, "owner", 422, "invalid"),  # below the cpc
        (url, {**body, "target_kind": "surface", "target": "search"}, "owner", 422, "invalid"),
        (url, {**body, "target_kind": "banner"}, "owner", 422, "invalid"),
        (url, {**body, "target": "a\u0000b"}, "owner", 422, "invalid"),
        (url, {**body, "miniapp_id": world.app("grocer").public_id}, "owner", 404, "not_found"),
    ]
    for path, payload, who, status, code in refused:
        api_error(client.post(path, json=payload, headers=auth[who]), status, code)
    newcomer = world.app("newcomer")
    api_error(client.post(f"/api/merchants/{newcomer.merchant_public_id}/bids",
                       headers=auth["other_owner"],
                       json={**body, "miniapp_id": newcomer.public_id, "target": "蔬菜"}),
           422, "tier_too_low")
    api_error(client.post(f"/api/bids/{bid['id']}/pause", headers=auth["other_owner"]), 404,
           "not_found")
    api_error(client.post("/api/bids/bid_nothing/pause", headers=auth["owner"]), 404, "not_found")
    api_error(client.post(f"/api/bids/{bid['id']}/pause"), 401, "unauthenticated")
    assert snapshot(database) == before

    paused = client.post(f"/api/bids/{bid['id']}/pause", headers=auth["owner"])
    assert paused.json()["active"] is False
    resumed = client.post(f"/api/bids/{bid['id']}/resume", headers=auth["owner"])
    assert resumed.json()["active"] is True
    # placing the same target again updates the one bid
    again = client.post(url, json={**body, "max_cpc_fen": 200}, headers=auth["owner"]).json()
    assert (again["id"], again["max_cpc_fen"]) == (bid["id"], 200)
    assert len(client.get(url, headers=auth["owner"]).json()) == 1
