"""Scoring pages and JSON API: a merchant sees only its own mini-app's score, operators run cycles,
edit the configuration and decide disputes; forms refuse bad input with a message."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.loading import rows_loaded
from tests.merchants.conftest import csrf, login
from tests.scoring.cycle_world import AS_OF, Market, build_market
from townsquare.scoring import cycles
from townsquare.scoring.models import ComplaintDispute, DisputeState, ScoringConfigVersion


@pytest.fixture
def market(database) -> Market:
    return build_market(database)


@pytest.fixture
def scored(database, settings, market) -> Market:
    with database.unit_of_work() as db:
        cycles.run_cycle(db, settings=settings, as_of=AS_OF, actor=None)
    return market


def test_score_api_is_for_the_owner_side_and_operators(client, token_for, scored):
    path = f"/api/miniapps/{scored.ours}/score"
    for user in (scored.owner, scored.isv, scored.operator):
        response = client.get(path, headers=token_for(user))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["miniapp_id"] == scored.ours and body["as_of"] == AS_OF.isoformat()
        assert body["state"] == "scored" and body["tier"] in "SABCD"
        assert "benchmarks" in body["explanation"] and body["model_version"]
    for user in scored.outsiders.values():
        response = client.get(path, headers=token_for(user))
        assert response.status_code == 404, response.text
        assert "overall" not in response.text
    assert client.get(path).status_code == 401
    history = client.get(f"/api/miniapps/{scored.ours}/scores", headers=token_for(scored.owner))
    assert [s["as_of"] for s in history.json()] == [AS_OF.isoformat()]


def test_cycles_and_config_api_are_for_operators(client, token_for, scored):
    owner, operator = token_for(scored.owner), token_for(scored.operator)
    assert client.get("/api/scoring/cycles", headers=owner).status_code == 403
    assert (
        client.post("/api/scoring/cycles", json={"as_of": "2026-02-22"}, headers=owner).status_code
        == 403
    )
    listed = client.get("/api/scoring/cycles", headers=operator).json()
    assert [c["as_of"] for c in listed] == [AS_OF.isoformat()]
    ran = client.post("/api/scoring/cycles", json={"as_of": "2026-02-22"}, headers=operator)
    assert ran.status_code == 200 and ran.json()["state"] == "done", ran.text
    future = client.post("/api/scoring/cycles", json={"as_of": "2026-03-02"}, headers=operator)
    assert future.status_code == 422 and future.json()["error"]["code"] == "invalid"
    scores = client.get(f"/api/scoring/cycles/{ran.json()['id']}/scores", headers=operator)
    assert len(scores.json()) == 10  # the new mini-app had no events by then
    config = client.get("/api/scoring/config", headers=operator).json()
    saved = client.post(
        "/api/scoring/config",
        headers=operator,
        json={
            "changes": {"pillar_weights.quality": 0.6},
            "cycle_days": 14,
            "note": "更重视质量",
        },
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == config["version"] + 1
    assert saved.json()["editable"]["pillar_weights.quality"] == 0.6
    refused = client.post(
        "/api/scoring/config", headers=operator, json={"changes": {"pillar_weights.quality": -1}}
    )
    assert refused.status_code == 422
    assert client.post("/api/scoring/config", headers=owner, json={}).status_code == 403


def test_dispute_api_round_trip(client, token_for, database, scored):
    owner, operator = token_for(scored.owner), token_for(scored.operator)
    event_id = scored.complaint_ids[0]
    complaints = client.get(f"/api/miniapps/{scored.ours}/complaints", headers=owner).json()
    assert event_id in {c["event_id"] for c in complaints}
    stranger = client.post(
        "/api/disputes",
        headers=token_for(scored.other_owner),
        json={"miniapp_id": scored.ours, "event_id": event_id, "reason": "x"},
    )
    assert stranger.status_code == 404
    opened = client.post(
        "/api/disputes",
        headers=owner,
        json={"miniapp_id": scored.ours, "event_id": event_id, "reason": "误投诉"},
    )
    assert opened.status_code == 201, opened.text
    dispute_id = opened.json()["id"]
    again = client.post(
        "/api/disputes",
        headers=owner,
        json={"miniapp_id": scored.ours, "event_id": event_id, "reason": "again"},
    )
    assert again.status_code == 409
    assert client.get("/api/disputes", headers=owner).status_code == 403
    assert (
        client.get(f"/api/disputes/{dispute_id}", headers=token_for(scored.other_owner)).status_code
        == 404
    )
    waiting = client.get("/api/disputes?state=open", headers=operator).json()
    assert [d["id"] for d in waiting] == [dispute_id]
    assert (
        client.post(
            f"/api/disputes/{dispute_id}/decision",
            headers=owner,
            json={"decision": "dismiss", "reason": "r"},
        ).status_code
        == 403
    )
    decided = client.post(
        f"/api/disputes/{dispute_id}/decision",
        headers=operator,
        json={"decision": "dismiss", "reason": "恶意投诉"},
    )
    assert decided.status_code == 200 and decided.json()["state"] == "dismissed"


def test_the_merchant_page_shows_score_trend_pillars_and_disputes(client, database, scored):
    login(client, scored.owner)
    page = client.get(f"/console/miniapps/{scored.ours}/score")
    assert page.status_code == 200
    html = page.text
    assert 'id="overall"' in html and 'id="tier"' in html
    assert 'id="trend-chart"' in html and 'id="pillar-chart"' in html, "trend and pillars"
    assert 'data-metric="fulfillment_rate"' in html
    assert f'data-complaint="{scored.complaint_ids[0]}"' in html
    token = csrf(client, f"/console/miniapps/{scored.ours}/score")
    refused = client.post(
        f"/console/miniapps/{scored.ours}/disputes",
        data={"csrf_token": token, "event_id": scored.complaint_ids[0], "reason": ""},
    )
    assert refused.status_code == 422 and 'role="alert"' in refused.text
    sent = client.post(
        f"/console/miniapps/{scored.ours}/disputes",
        follow_redirects=False,
        data={"csrf_token": token, "event_id": scored.complaint_ids[0], "reason": "顾客下错了单"},
    )
    assert sent.status_code == 303
    with database.unit_of_work() as db:
        dispute = db.scalar(select(ComplaintDispute))
        assert dispute.reason == "顾客下错了单" and dispute.state == DisputeState.OPEN
    assert "dispute-open" in client.get(f"/console/miniapps/{scored.ours}/score").text


def test_outsiders_do_not_see_the_merchant_page(client, scored):
    for user in scored.outsiders.values():
        login(client, user)
        response = client.get(f"/console/miniapps/{scored.ours}/score")
        assert response.status_code == 404
        assert 'id="overall"' not in response.text


def test_the_page_says_when_there_is_no_score_yet(client, market):
    login(client, market.owner)
    html = client.get(f"/console/miniapps/{market.ours}/score?lang=en").text
    assert 'id="no-score"' in html


def test_the_operator_page_runs_cycles_edits_config_and_decides(client, database, scored):
    login(client, scored.owner)
    assert client.get("/console/operator/scoring").status_code == 403
    login(client, scored.operator)
    page = client.get("/console/operator/scoring")
    assert page.status_code == 200
    assert 'id="next-due"' in page.text and 'id="score-histogram"' in page.text
    assert re.search(r'name="pillar_weights\.quality"', page.text)
    token = csrf(client, "/console/operator/scoring")
    ran = client.post(
        "/console/operator/scoring/run",
        follow_redirects=False,
        data={"csrf_token": token, "as_of": "2026-02-22"},
    )
    assert ran.status_code == 303
    bad = client.post(
        "/console/operator/scoring/run", data={"csrf_token": token, "as_of": "not a date"}
    )
    assert bad.status_code == 422 and 'role="alert"' in bad.text
    refused = client.post(
        "/console/operator/scoring/config",
        data={"csrf_token": token, "pillar_weights.quality": "-3"},
    )
    assert refused.status_code == 422 and 'role="alert"' in refused.text
    saved = client.post(
        "/console/operator/scoring/config",
        follow_redirects=False,
        data={"csrf_token": token, "pillar_weights.quality": "0.7", "cycle_days": "14"},
    )
    assert saved.status_code == 303
    with database.unit_of_work() as db:
        active = db.scalar(select(ScoringConfigVersion).where(ScoringConfigVersion.active))
        assert active.cycle_days == 14 and active.config["pillar_weights"]["quality"] == 0.7

    login(client, scored.owner)
    token = csrf(client, f"/console/miniapps/{scored.ours}/score")
    client.post(
        f"/console/miniapps/{scored.ours}/disputes",
        data={"csrf_token": token, "event_id": scored.complaint_ids[0], "reason": "误"},
    )
    login(client, scored.operator)
    with database.unit_of_work() as db:
        dispute_id = db.scalar(select(ComplaintDispute.public_id))
    page = client.get("/console/operator/scoring")
    assert f'data-dispute="{dispute_id}"' in page.text
    token = csrf(client, "/console/operator/scoring")
    decided = client.post(
        f"/console/operator/disputes/{dispute_id}/decide",
        follow_redirects=False,
        data={"csrf_token": token, "decision": "dismiss", "reason": "恶意"},
    )
    assert decided.status_code == 303
    with database.unit_of_work() as db:
        assert db.scalar(select(ComplaintDispute.state)) == DisputeState.DISMISSED


def _add_scores(database, count: int) -> None:
    """`count` more scored mini-apps in a 饮品 category of the latest cycle: overall 99, 98, …;
    tiers S, A, B, C, D and none in turn."""
    from townsquare.merchants.models import Category, Merchant
    from townsquare.miniapps.models import MiniApp, MiniAppKind
    from townsquare.scoring.models import MiniAppScore, ScoreCycle

    with database.unit_of_work() as db:
        cycle = db.scalar(select(ScoreCycle).order_by(ScoreCycle.as_of.desc()))
        drinks = Category(code="drinks", name_zh="饮品", name_en="Drinks", urgent=False)
        db.add(drinks)
        db.flush()
        shop = Merchant(name="奶茶铺", category_id=drinks.id, cities=["武汉"])
        db.add(shop)
        db.flush()
        tiers = ["S", "A", "B", "C", "D", None]
        for i in range(count):
            app = MiniApp(merchant_id=shop.id, category_id=drinks.id, kind=MiniAppKind.EXTERNAL,
                          client_secret_digest="x" * 64, name=f"奶茶{i:03d}")
            db.add(app)
            db.flush()
            tier = tiers[i % 6]
            db.add(MiniAppScore(
                cycle_id=cycle.id, miniapp_id=app.id, category_code="drinks",
                state="scored" if tier else "insufficient_data",
                overall=99.5 - i if tier else None, volume=50, scale=50, quality=50,
                tier=tier, rank=i + 1,
            ))


def test_the_operator_sees_every_score_filtered_and_paged_with_category_names(
    client, database, scored
):
    from townsquare.scoring.models import MiniAppScore

    _add_scores(database, 60)  # with the market's 11: 71 scores
    login(client, scored.operator)
    with rows_loaded(MiniAppScore) as loaded:
        page = client.get("/console/operator/scoring")
    rows = re.findall(r'<tr data-score="(ma_\w+)">', page.text)
    assert len(rows) == 20 and len(loaded) <= 20  # one page loaded, the rest counted in SQL
    assert "71" in page.text and 'rel="next"' in page.text and "饮品" in page.text
    assert "<td>drinks</td>" not in page.text and "<td>food</td>" not in page.text  # names
    names = []
    for n in range(1, 5):
        names += re.findall(r">(奶茶\d{3})</a>",
                            client.get(f"/console/operator/scoring?category=drinks&page={n}").text)
    assert names == [f"奶茶{i:03d}" for i in range(60) if i % 6 != 5] + [
        f"奶茶{i:03d}" for i in range(60) if i % 6 == 5
    ]  # best first, the unscored last
    tier_s = client.get("/console/operator/scoring?category=drinks&tier=S").text
    assert re.findall(r">(奶茶\d{3})</a>", tier_s) == [f"奶茶{i:03d}" for i in range(0, 60, 6)]
    none = client.get("/console/operator/scoring?tier=none&category=drinks").text
    assert len(re.findall(r'<tr data-score="', none)) == 10
    food = client.get("/console/operator/scoring?category=food").text
    assert "奶茶" not in food and len(re.findall(r'<tr data-score="', food)) == 11
    assert "category=food&amp;page=" not in food  # one page only: no pager links
    second = client.get("/console/operator/scoring?category=drinks&tier=S&page=2").text
    assert 'rel="prev"' in second and "category=drinks&amp;tier=S&amp;page=1" in second
    assert client.get("/console/operator/scoring?tier=Z&page=x").status_code == 200


def test_the_config_form_has_translated_labels_not_keys(client, scored):
    login(client, scored.operator)
    page = client.get("/console/operator/scoring").text
    assert "<code>pillar_weights.quality</code>" not in page
    assert re.search(r'<label for="cfg-pillar_weights\.quality"[^>]*>服务质量权重', page)
    assert "S 级：最低订单数" in page and "最少订单数（低于此不评分）" in page
    keys = re.findall(r'<input id="cfg-([\w.]+)" name="\1"', page)
    labels = re.findall(r'<label for="cfg-[\w.]+" title="[\w.]+">([^<]+)', page)
    # one distinct label each (37 settings before trust, recency and intervals came)
    assert len(keys) == len(labels) > 37 and len(set(labels)) == len(labels)
    assert not any("." in label or "_" in label for label in labels)
    english = client.get("/console/operator/scoring?lang=en").text
    assert "Weight of Quality" in english and "Tier S: minimum orders" in english
