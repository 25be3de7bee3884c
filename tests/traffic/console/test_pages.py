"""The traffic consoles: pages render in Chinese and English, a merchant sees only its own traffic,
a redemption through the form charges once per form, refused forms change nothing, and the
operator's forms (planner, topics, applications, campaigns, configuration) work."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.merchants.conftest import csrf, login
from tests.traffic.world import build_world
from townsquare.core.clock import clock
from townsquare.traffic.models import (
    Bid,
    Campaign,
    CampaignState,
    PointsEntry,
    Redemption,
    ServingPlan,
    Topic,
    TopicMember,
    TrafficConfigVersion,
)
from townsquare.traffic.support import points

NOW = datetime(2026, 3, 11, 2, 0, tzinfo=UTC)


@pytest.fixture
def world(database):
    clock.freeze(NOW)
    return build_world(database)


def page(world, key: str = "brand") -> str:
    return f"/console/merchant/{world.app(key).merchant_public_id}/traffic"


def count(database, model, *where) -> int:
    with database.unit_of_work() as db:
        return db.scalar(select(func.count()).select_from(model).where(*where))


def test_pages_render_in_chinese_and_english(client, world):
    login(client, world.owner)
    zh = client.get(page(world))
    assert zh.status_code == 200, zh.text
    assert "流量" in zh.text and "积分" in zh.text and 'id="points-balance"' in zh.text
    assert world.app("brand").name in zh.text and "stage-mature" in zh.text  # its growth stage
    assert zh.text.count('class="echart-figure"') >= 2  # impressions and clicks per day
    en = client.get(page(world) + "?lang=en")
    assert en.status_code == 200
    assert "Impressions and clicks by source" in en.text and "Paid exposure" in en.text
    # the paid-traffic quality rules, from the active configuration
    assert "付费推广位还要求服务分至少 60 分" in zh.text and "质量^2" in zh.text
    assert "at least 60. Ranking is by bid × quality^2" in en.text and "at most 25%" in en.text
    merchant = client.get(f"/console/merchant/{world.app('brand').merchant_public_id}")
    assert f'href="{page(world)}"' in merchant.text

    login(client, world.operator)
    for lang, text in (("zh-CN", "流量分配"), ("en", "Traffic distribution")):
        console = client.get(f"/console/operator/traffic?lang={lang}")
        assert console.status_code == 200, console.text
        assert text in console.text and 'id="gini"' in console.text
        config_page = client.get(f"/console/operator/traffic/config?lang={lang}")
        assert config_page.status_code == 200 and "tier_impressions" in config_page.text
        for knob in ("ads_min_score", "ads_quality_exponent", "ads_max_merchant_share",
                     "ranking"):
            assert knob in config_page.text
    assert 'href="/console/operator/traffic"' in client.get("/console/operator").text
    # an operator may look at a merchant's traffic
    assert client.get(page(world)).status_code == 200


def test_a_merchant_sees_only_its_own_traffic(client, world, database):
    login(client, world.other_owner)  # staff of the look-alike and the other merchants
    assert client.get(page(world, "lookalike")).status_code == 200
    response = client.get(page(world, "brand"))
    assert response.status_code in (403, 404)
    assert "points-balance" not in response.text
    token = csrf(client, page(world, "lookalike"))
    before = count(database, Redemption)
    posted = client.post(
        page(world, "brand") + "/redeem", follow_redirects=False,
        data={"csrf_token": token, "package": "feed_small", "miniapp": world.app("brand").public_id,
              "idempotency_key": "k" * 32},
    )
    assert posted.status_code in (403, 404)
    assert count(database, Redemption) == before
    login(client, world.resident)
    assert client.get(page(world, "brand")).status_code in (403, 404)
    assert client.get("/console/operator/traffic").status_code == 403


def _form_key(html: str) -> str:
    found = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', html)
    assert found, "no idempotency key on the page"
    return found.group(1)


def test_redeem_through_the_form_charges_once(client, world, database):
    brand = world.app("brand")
    with database.unit_of_work() as db:
        points.earn(db, merchant_id=brand.merchant_id, rule_code="complete_profile", points=300,
                    reference="test:welcome")
    login(client, world.owner)
    html = client.get(page(world)).text
    key, token = _form_key(html), csrf(client, page(world))
    assert _form_key(client.get(page(world)).text) != key  # a new key for every form shown
    form = {"csrf_token": token, "package": "feed_small", "miniapp": brand.public_id,
            "idempotency_key": key}
    for _ in range(2):  # a double submit of the same form
        response = client.post(page(world) + "/redeem", data=form, follow_redirects=False)
        assert response.status_code == 303, response.text
    with database.unit_of_work() as db:
        assert points.balance(db, merchant_id=brand.merchant_id) == 200
    assert count(database, Redemption) == 1
    assert count(database, PointsEntry, PointsEntry.kind == "redeem") == 1
    shown = client.get(response.headers["location"])
    assert re.search(r'id="points-balance">200<', shown.text)
    assert "feed_small" in shown.text and 'data-redemption="rdm_' in shown.text
    # more than the balance: refused with a message, nothing charged
    refused = client.post(page(world) + "/redeem", data={**form, "package": "feed_large",
                                                          "idempotency_key": "other-key"})
    assert refused.status_code in (409, 422) and 'role="alert"' in refused.text
    with database.unit_of_work() as db:
        assert points.balance(db, merchant_id=brand.merchant_id) == 200
    assert count(database, Redemption) == 1


def test_bad_bid_input_shows_the_message_and_changes_nothing(client, world, database):
    login(client, world.owner)
    token = csrf(client, page(world))
    good = {"csrf_token": token, "miniapp": world.app("brand").public_id,
            "target_kind": "surface", "target": "feed", "max_cpc": "1.50",
            "daily_budget": "100"}
    for field, value, message in (
        ("max_cpc", "abc", "以元为单位"),
        ("daily_budget", "-5", "以元为单位"),
        ("target", "nowhere", ""),
        ("max_cpc", "0", ""),
    ):
        response = client.post(page(world) + "/bids", data={**good, field: value})
        assert response.status_code in (403, 404, 409, 422), (field, response.status_code)
        assert 'role="alert"' in response.text and message in response.text
        assert count(database, Bid) == 0
    placed = client.post(page(world) + "/bids", data=good, follow_redirects=False)
    assert placed.status_code == 303, placed.text
    shown = client.get(placed.headers["location"])
    assert "¥1.50" in shown.text and "¥100.00" in shown.text and 'class="spent">¥0.00' in shown.text
    with database.unit_of_work() as db:
        bid = db.scalar(select(Bid))
        assert (bid.max_cpc_fen, bid.daily_budget_fen, bid.active) == (150, 10_000, True)
        bid_id = bid.public_id
    paused = client.post(page(world) + f"/bids/{bid_id}/active",
                         data={"csrf_token": token, "active": "0"}, follow_redirects=False)
    assert paused.status_code == 303
    with database.unit_of_work() as db:
        assert db.scalar(select(Bid.active)) is False

    # a tier-D mini-app may not buy traffic: the message, and no bid
    login(client, world.other_owner)
    token = csrf(client, page(world, "declining"))
    refused = client.post(page(world, "declining") + "/bids", data={
        **good, "csrf_token": token, "miniapp": world.app("declining").public_id})
    assert refused.status_code in (403, 409, 422) and 'role="alert"' in refused.text
    assert count(database, Bid) == 1
    # and the brand's bid is not theirs to pause
    other = client.post(page(world, "declining") + f"/bids/{bid_id}/active",
                        data={"csrf_token": token, "active": "1"})
    assert other.status_code in (403, 404)
    with database.unit_of_work() as db:
        assert db.scalar(select(Bid.active)) is False


def test_operator_forms(client, world, database):
    login(client, world.operator)
    home = "/console/operator/traffic"
    token = csrf(client, home)
    topic = {"csrf_token": token, "slug": "groceries", "title_zh": "买菜", "title_en": "Groceries",
             "category_codes": ["grocery"], "tags": "蔬菜, 水果"}
    bad = client.post(home + "/topics", data={**topic, "slug": "Bad Slug!"})
    assert bad.status_code == 422 and 'role="alert"' in bad.text
    assert count(database, Topic) == 0
    made = client.post(home + "/topics", data=topic, follow_redirects=False)
    assert made.status_code == 303, made.text
    with database.unit_of_work() as db:
        saved = db.scalar(select(Topic))
        assert saved.tags == ["蔬菜", "水果"] and saved.category_codes == ["grocery"]
        db.add(TopicMember(topic_id=saved.id, miniapp_id=world.app("clinic").id, note="请收录"))
    with database.unit_of_work() as db:
        member = db.scalar(select(TopicMember)).public_id
    assert "请收录" in client.get(home).text
    no_reason = client.post(home + f"/applications/{member}/decide",
                            data={"csrf_token": token, "decision": "reject", "reason": ""})
    assert no_reason.status_code == 422
    rejected = client.post(home + f"/applications/{member}/decide", follow_redirects=False,
                           data={"csrf_token": token, "decision": "reject", "reason": "不相关"})
    assert rejected.status_code == 303
    with database.unit_of_work() as db:
        assert db.scalar(select(TopicMember.state)) == "rejected"

    today = NOW.date()
    campaign = {"csrf_token": token, "title_zh": "春季鲜果节", "title_en": "Spring fruit",
                "surfaces": "feed", "starts_on": today.isoformat(),
                "ends_on": (today + timedelta(days=14)).isoformat(),
                "eligible_stages": ["mature"], "min_tier": "B",
                "impressions_per_miniapp": "2000", "max_enrolments": ""}
    wrong = client.post(home + "/campaigns", data={**campaign, "ends_on": "14 March"})
    assert wrong.status_code == 422 and "YYYY-MM-DD" in wrong.text
    assert count(database, Campaign) == 0
    created = client.post(home + "/campaigns", data=campaign, follow_redirects=False)
    assert created.status_code == 303, created.text
    with database.unit_of_work() as db:
        made = db.scalar(select(Campaign))
        assert (made.state, made.min_tier, made.eligible_stages, made.max_enrolments) == (
            CampaignState.DRAFT, "B", ["mature"], None)
        cmp_id = made.public_id
    opened = client.post(home + f"/campaigns/{cmp_id}/state",
                         data={"csrf_token": token, "state": "open"}, follow_redirects=False)
    assert opened.status_code == 303
    # the brand (mature, tier S) may enrol; the page lists the campaign for its owner
    login(client, world.owner)
    owner_token = csrf(client, page(world))
    assert "春季鲜果节" in client.get(page(world)).text
    enrolled = client.post(page(world) + f"/campaigns/{cmp_id}/enrol", follow_redirects=False,
                           data={"csrf_token": owner_token,
                                 "miniapp": world.app("brand").public_id})
    assert enrolled.status_code == 303, enrolled.text

    login(client, world.operator)
    token = csrf(client, home)
    planned = client.post(home + "/plan", data={"csrf_token": token}, follow_redirects=False)
    assert planned.status_code == 303, planned.text
    assert count(database, ServingPlan) == 1
    summary = re.search(r'id="plan-summary".*?</p>', client.get(home).text, re.S).group(0)
    assert "最优解" in summary and "· exact ·" not in summary  # a label, not the method's code


def test_config_form_validates(client, world, database):
    login(client, world.operator)
    path = "/console/operator/traffic/config"
    token = csrf(client, path)
    broken = client.post(path, data={"csrf_token": token, "text": "{not json"})
    assert broken.status_code == 422 and 'role="alert"' in broken.text
    invalid = client.post(path, data={"csrf_token": token, "text": '{"feed_size": 1000}'})
    assert invalid.status_code == 422 and "feed_size" in invalid.text
    assert count(database, TrafficConfigVersion) == 0
    text = client.get(path).text
    current = re.search(r'<textarea name="text"[^>]*>(.*?)</textarea>', text, re.S).group(1)
    data = json.loads(html.unescape(current))
    data["feed_size"] = 12
    saved = client.post(path, data={"csrf_token": token, "text": json.dumps(data), "note": "更大"},
                        follow_redirects=False)
    assert saved.status_code == 303, saved.text
    with database.unit_of_work() as db:
        row = db.scalar(select(TrafficConfigVersion))
        assert row.version == 1 and row.config["feed_size"] == 12 and row.note == "更大"
