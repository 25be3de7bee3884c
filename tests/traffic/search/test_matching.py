"""Search beyond words: categories, topics, synonyms and query segmentation, ranking ties by
quality, what it matched (API and page), freshness through the serving snapshot, and the
in-memory index's patches and merges."""

from __future__ import annotations

import math
import time

import pytest

from tests.traffic.world import CITY, build_world
from townsquare.merchants.models import Category
from townsquare.miniapps.models import MiniApp, MiniAppKind
from townsquare.traffic.models import Topic
from townsquare.traffic.search import segment
from townsquare.traffic.search import service as search
from townsquare.traffic.search.index import Index
from townsquare.traffic.search.service import Document, Match

GROCERS = {"brand", "lookalike", "grocer", "newcomer", "declining"}


@pytest.fixture
def world(database):
    return build_world(database)


def run(database, text, **kw):
    with database.unit_of_work() as db:
        return search.query(db, text=text, **kw)


def keys(world, result):
    by_id = {app.id: key for key, app in world.apps.items()}
    return [by_id.get(hit.miniapp_id, hit.miniapp_id) for hit in result.hits]


def add_topic(database, **values):
    with database.unit_of_work() as db:
        db.add(Topic(slug="groceries", title_zh="买菜", title_en="Grocery run", **values))


def test_a_category_name_finds_its_mini_apps(database, world):
    result = run(database, "生鲜", city=CITY)
    assert set(keys(world, result)) == GROCERS
    assert Match("category", "生鲜", "生鲜", "Groceries") in result.matched
    assert all("category" in hit.fields for hit in result.hits)


def test_a_category_only_match_ranks_ties_by_quality(database, world):
    # "Groceries" is only the category's English name: every grocer scores alike
    result = run(database, "Groceries", city=CITY)
    assert keys(world, result) == ["brand", "grocer", "lookalike", "declining", "newcomer"]
    assert len({hit.score for hit in result.hits}) == 1


def test_a_synonym_finds_the_trade_word_and_says_so(database, world):
    result = run(database, "买菜", city=CITY)
    assert set(keys(world, result)) == GROCERS
    assert Match("synonym", "买菜", "生鲜") in result.matched
    assert Match("synonym", "买菜", "蔬菜") in result.matched
    assert run(database, "看病", city=CITY).hits[0].miniapp_id == world.app("clinic").id


def test_a_renamed_category_is_found_by_its_new_name(database, world):
    assert run(database, "菜市场", city=CITY).hits  # by synonym (生鲜)
    with database.unit_of_work() as db:
        db.query(Category).filter_by(code="grocery").one().name_zh = "生鲜买菜"
    result = run(database, "买菜", city=CITY)
    assert Match("category", "买菜", "生鲜买菜", "Groceries") in result.matched


def test_a_topic_title_finds_its_members(database, world):
    add_topic(database, tags=["问诊"])  # a topic can gather by tag, beyond its title's words
    result = run(database, "买菜", city=CITY)
    assert Match("topic", "买菜", "买菜", "Grocery run") in result.matched
    clinic = next(h for h in result.hits if h.miniapp_id == world.app("clinic").id)
    assert clinic.fields == ("topic",)
    assert set(keys(world, result)) == GROCERS | {"clinic"}


def test_the_query_is_cut_into_words(database, world):
    assert segment.words("我想买菜") == ("买菜",)  # one-character words dropped beside longer
    assert segment.words("鲜丰水果") == ("鲜丰", "水果")
    assert segment.words("茶") == ("茶",)
    assert segment.words("附近的社区医院 clinic") == ("附近", "社区", "医院", "clinic")
    assert keys(world, run(database, "我想买菜", city=CITY)) == keys(
        world, run(database, "买菜", city=CITY))
    assert run(database, "我想买菜").words == ("买菜",)


def add_app(database, *, name, listed=True) -> int:
    with database.unit_of_work() as db:
        template = db.get(MiniApp, 1)
        app = MiniApp(merchant_id=template.merchant_id, category_id=template.category_id,
                      kind=MiniAppKind.EXTERNAL, client_secret_digest="0" * 64, name=name,
                      description="", tags=[], cities=[CITY], listed=listed)
        db.add(app)
        db.flush()
        return app.id


def api_ids(client, q):
    body = client.get("/api/search", params={"q": q, "city": CITY}).json()
    return [item["name"] for item in body["items"]], body


def test_listing_and_delisting_show_at_once_through_serving(client, database, world):
    assert api_ids(client, "推拿馆")[0] == []
    app_id = add_app(database, name="阿福推拿馆")
    assert api_ids(client, "推拿馆")[0] == ["阿福推拿馆"]
    with database.unit_of_work() as db:
        db.get(MiniApp, app_id).listed = False
    assert api_ids(client, "推拿馆")[0] == []


def test_the_api_says_what_it_matched(client, database, world):
    add_topic(database)
    _names, body = api_ids(client, "我想买菜")
    assert body["words"] == ["买菜"]
    labels = [m["label"] for m in body["matched"]]
    assert "同义词：买菜 → 生鲜" in labels and "按专题「买菜」匹配" in labels
    assert "按分类「生鲜」匹配" in labels
    assert {"kind": "synonym", "word": "买菜", "name": "生鲜",
            "label": "同义词：买菜 → 生鲜"} in body["matched"]
    assert all(item["matched_fields"] for item in body["items"])
    english = client.get("/api/search", params={"q": "买菜", "city": CITY, "lang": "en"}).json()
    assert "Matched by category 「Groceries」" in [m["label"] for m in english["matched"]]


def test_the_page_says_what_it_matched(client, database, world):
    add_topic(database)
    page = client.get("/search", params={"q": "买菜", "city": CITY})
    assert page.status_code == 200
    assert 'id="search-explain"' in page.text
    assert "同义词：买菜 → 生鲜" in page.text and "按专题「买菜」匹配" in page.text
    assert "匹配：" in page.text and "搜索词：买菜" in page.text


def doc(i, name, city=CITY, quality=None):
    return Document(i, name, "", (), "商家", None, "grocery", (city,), quality)


def test_the_index_patches_and_merges_without_losing_postings():
    index = Index(category_names={"grocery": ("生鲜", "Groceries")})
    docs = {i: doc(i, f"店铺{i}号") for i in range(1, 301)}
    index.build(docs.values())
    assert index.live == 300
    docs[7] = doc(7, "阿福推拿馆")  # renamed
    del docs[8]  # delisted
    docs[301] = doc(301, "小周推拿馆")  # listed
    assert index.patch(docs) == 3
    assert index.delta  # the changes wait in the delta
    slots = index.postings("推拿")[0]
    assert sorted(index.ids[s] for s in slots if index.alive[s]) == [7, 301]
    for i in range(400, 800):  # enough new postings to fold the delta into the flat arrays
        docs[i] = doc(i, f"推拿{i}")
    index.patch(docs)
    assert not index.delta and index.live == len(docs)
    slots = index.postings("推拿")[0]
    assert len(slots) == 402 and all(index.alive[s] for s in slots)
    assert index.postings("店铺")[0].size == 298  # the renamed and the delisted are gone


def test_the_index_is_built_when_the_server_starts(app, database, world):
    from fastapi.testclient import TestClient

    app.state.settings = app.state.settings.model_copy(update={"warm_up_at_start": True})
    search.forget()
    assert search.ready(database.engine) is None
    with TestClient(app):
        assert search.ready(database.engine) == len(world.apps)


def test_a_large_snapshot_reloads_behind_the_requests(database, world, monkeypatch):
    """Above INLINE_CARDS, an old snapshot is reloaded (and the index patched to it) in a
    thread: the request that noticed gets the current one at once."""
    from townsquare.traffic.serving import cache

    monkeypatch.setattr(cache, "INLINE_CARDS", 0)
    moment = [1000.0]
    monkeypatch.setattr(cache, "monotonic", lambda: moment[0])
    cache.forget_caches()
    with database.unit_of_work() as db:
        first = cache.snapshot(db)
    add_app(database, name="阿福推拿馆")  # the listed count changes: the stamp with it
    with database.unit_of_work() as db:
        assert cache.snapshot(db) is first  # served as it is while the new one loads
    for _ in range(200):
        with database.unit_of_work() as db:
            current = cache.snapshot(db, refresh_seconds=math.inf)
        if current is not first:
            break
        time.sleep(0.05)
    assert current is not first and len(current.cards) == len(first.cards) + 1
    assert search.ready(database.engine) == len(current.cards)  # patched in the same thread
