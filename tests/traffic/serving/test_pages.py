"""Resident pages: the home feed under the curated hub's hero, channel and topic pages, and the
ranked search page; reason labels (the sponsored one always visible) and click-through links."""

from __future__ import annotations

import re

import pytest

from tests.traffic.serving_data import add_plan, exposures, freeze, legacy_ranking
from tests.traffic.world import CITY, OTHER_CITY, build_world
from townsquare.traffic import topics
from townsquare.traffic.market import bids
from townsquare.traffic.models import PromiseKind

ITEM = re.compile(r'class="feed-item reason-(\w+)" href="(/go/[^"]+)" data-feed-miniapp="(ma_\w+)"')


@pytest.fixture
def world(database):
    freeze()
    found = build_world(database)
    legacy_ranking(database, found, ads=True)
    return found


def _bid(database, world, key: str, **target) -> None:
    with database.unit_of_work() as db:
        bids.place(db, actor=db.merge(world.other_owner),
                   miniapp_public_id=world.app(key).public_id, max_cpc_fen=100,
                   daily_budget_fen=5_000, **target)


def test_home_shows_the_feed_with_reason_labels(client, database, world):
    add_plan(database, world, [("declining", PromiseKind.TIER_INCENTIVE, 1400, 0)])
    _bid(database, world, "clinic", target_kind="surface", target="feed")
    page = client.get("/")
    assert page.status_code == 200
    assert "为你推荐" in page.text and 'id="feed"' in page.text
    items = ITEM.findall(page.text)
    assert len(items) == 6 and len(exposures(database)) == 6
    by_app = {ma: reason for reason, _url, ma in items}
    assert by_app[world.app("declining").public_id] == "guaranteed"
    assert by_app[world.app("clinic").public_id] == "sponsored"
    assert 'data-label="sponsored">广告</span>' in page.text  # the ad is labelled for residents
    # a guaranteed slot is the platform's business: residents see no label (and no jargon)
    assert 'data-label="guaranteed"' not in page.text and "保障曝光" not in page.text
    assert 'data-label="organic"' not in page.text  # organic needs no label
    assert "✔ 鲜丰水果" in page.text  # the certified badge
    # the curated hub's tiles are untouched (browser tests click `a.tile[data-miniapp=…]`)
    assert 'class="tile"' not in page.text  # this world has no hub sections
    english = client.get("/?lang=en")
    assert "Recommended for you" in english.text and ">Ad</span>" in english.text


def test_home_feed_follows_the_city_and_links_through_the_click_url(client, database, world):
    page = client.get("/", params={"city": OTHER_CITY})
    items = ITEM.findall(page.text)
    assert [ma for _r, _u, ma in items] == [world.app("faraway").public_id]
    assert f'href="/?city={CITY}"' not in page.text  # city links are URL-encoded
    assert "?city=%E6%AD%A6%E6%B1%89" in page.text  # 武汉
    followed = client.get(items[0][1], follow_redirects=False)
    assert followed.status_code == 303
    assert followed.headers["location"] == f"/apps/{world.app('faraway').public_id}"
    # a malformed city on a page falls back to the default city instead of failing
    assert len(ITEM.findall(client.get("/", params={"city": "x" * 40}).text)) == 6


def test_channel_and_topic_pages(client, database, world):
    with database.unit_of_work() as db:
        operator = db.merge(world.operator)
        topics.save_channel(db, actor=operator, slug="clinics", title_zh="看病就医",
                            title_en="Clinics", category_codes=["clinic"])
        topics.create_topic(db, actor=operator, slug="veg", title_zh="买菜",
                            title_en="Vegetables", description_zh="新鲜蔬菜送到家",
                            description_en="Fresh vegetables", category_codes=[],
                            tags=["蔬菜"])
    home = client.get("/")
    assert 'href="/channels/clinics?city=' in home.text and 'href="/topics/veg?city=' in home.text
    channel = client.get("/channels/clinics")
    assert channel.status_code == 200 and "看病就医" in channel.text
    assert [ma for _r, _u, ma in ITEM.findall(channel.text)] == [world.app("clinic").public_id]
    topic = client.get("/topics/veg")
    assert "买菜" in topic.text and "新鲜蔬菜送到家" in topic.text
    assert {ma for _r, _u, ma in ITEM.findall(topic.text)} == {
        world.app("grocer").public_id, world.app("newcomer").public_id
    }
    empty = client.get("/topics/veg", params={"city": OTHER_CITY})
    assert 'id="surface-empty"' in empty.text
    assert client.get("/channels/nothing").status_code == 404
    assert client.get("/topics/nothing").status_code == 404


def test_search_page_ranks_the_certified_brand_first_and_labels_ads(client, database, world):
    _bid(database, world, "lookalike", target_kind="keyword", target="水果")
    page = client.get("/search", params={"q": "水果"})
    assert page.status_code == 200
    found = re.findall(r'class="result" data-miniapp="(ma_\w+)" data-reason="(\w+)"', page.text)
    assert found[0] == (world.app("brand").public_id, "organic")  # the brand name contains it
    reasons = dict(found)
    assert reasons[world.app("lookalike").public_id] == "sponsored"
    assert 'data-label="sponsored">广告</span>' in page.text
    official = client.get("/search", params={"q": "鲜丰水果"})
    first = re.search(r'class="result" data-miniapp="(ma_\w+)"[^>]*data-official="true"',
                      official.text)
    assert first and first.group(1) == world.app("brand").public_id
    assert "官方" in official.text
    assert {e.surface for e in exposures(database)} == {"search"}
