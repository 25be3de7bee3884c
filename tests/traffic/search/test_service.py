"""Search: Chinese and English queries, city filter, brand pinning, and an index kept fresh."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select

from tests.traffic.world import CITY, OTHER_CITY, build_world
from townsquare.merchants import brands
from townsquare.merchants.models import Brand, BrandStatus, Merchant
from townsquare.miniapps.models import MiniApp, MiniAppKind
from townsquare.traffic.search import service as search


@pytest.fixture
def world(database):
    return build_world(database)


def run(database, text, **kw):
    with database.unit_of_work() as db:
        return search.query(db, text=text, **kw)


def keys(world, result):
    by_id = {app.id: key for key, app in world.apps.items()}
    return [by_id.get(hit.miniapp_id, hit.miniapp_id) for hit in result.hits]


def edit_app(database, world, key, **values):
    with database.unit_of_work() as db:
        app = db.get(MiniApp, world.app(key).id)
        for name, value in values.items():
            setattr(app, name, value)


def test_chinese_queries_find_by_name_tags_and_description(database, world):
    fruit = run(database, "水果")
    assert set(keys(world, fruit)) == {"brand", "lookalike", "newcomer"}
    assert all(hit.score > 0 for hit in fruit.hits)
    assert set(keys(world, run(database, "蔬菜"))) == {"grocer", "newcomer"}
    assert keys(world, run(database, "粮油")) == ["declining"]
    assert keys(world, run(database, "茶")) == ["faraway"]  # one character, inside "西湖茶社"


def add_app(database, *, merchant, name, description="", tags=(), cities=(CITY,)) -> int:
    with database.unit_of_work() as db:
        category = db.get(MiniApp, 1).category_id
        owner = Merchant(name=merchant, category_id=category, cities=[CITY])
        db.add(owner)
        db.flush()
        app = MiniApp(merchant_id=owner.id, category_id=category, kind=MiniAppKind.EXTERNAL,
                      client_secret_digest="0" * 64, name=name, description=description,
                      tags=list(tags), cities=list(cities), listed=True)
        db.add(app)
        db.flush()
        return app.id


def test_fields_rank_name_then_tags_then_merchant_then_description(database, world):
    blurb = "社区里的老字号，周末也营业"
    order = [
        add_app(database, merchant="阿福工作室", name="阿福推拿馆", tags=["养生"],
                description=blurb),
        add_app(database, merchant="小周工作室", name="小周养生馆", tags=["推拿"],
                description=blurb),
        add_app(database, merchant="推拿世家", name="老王养生馆", tags=["养生"],
                description=blurb),
        add_app(database, merchant="小李工作室", name="小李养生馆", tags=["养生"],
                description="社区里的老字号，提供推拿服务"),
    ]
    assert [hit.miniapp_id for hit in run(database, "推拿").hits] == order


def test_english_queries_whole_words_and_prefixes(database, world):
    assert keys(world, run(database, "clinic")) == ["clinic"]
    assert keys(world, run(database, "CLINIC")) == ["clinic"]
    assert keys(world, run(database, "ＣＬＩＮＩＣ")) == ["clinic"]  # full width
    assert keys(world, run(database, "cli")) == ["clinic"]  # a prefix finds the word
    assert keys(world, run(database, "Tea")) == ["faraway"]
    assert keys(world, run(database, "vegetables")) == ["grocer"]
    assert run(database, "steam").hits == []  # "tea" inside a word is not the word


def test_exact_words_rank_above_prefix_matches(database, world):
    edit_app(database, world, "grocer", description="teapots and cups")
    edit_app(database, world, "declining", description="tea and cups")
    result = run(database, "tea", city=CITY)
    assert keys(world, result) == ["declining", "grocer"]
    assert result.hits[0].score > result.hits[1].score > 0


def test_city_filter_and_apps_serving_every_city(database, world):
    assert keys(world, run(database, "Tea", city=OTHER_CITY)) == ["faraway"]
    assert run(database, "Tea", city=CITY).hits == []
    assert keys(world, run(database, "蔬菜", city=OTHER_CITY)) == []
    edit_app(database, world, "faraway", cities=[])  # no city listed: serves every city
    assert keys(world, run(database, "Tea", city=CITY)) == ["faraway"]


def test_a_certified_brand_named_in_the_query_comes_first(database, world):
    result = run(database, "鲜丰水果")
    assert keys(world, result)[:2] == ["brand", "lookalike"]
    assert [hit.official for hit in result.hits] == [True] + [False] * (len(result.hits) - 1)
    assert result.brand == search.BrandMatch("鲜丰水果", world.app("brand").merchant_id,
                                             [world.app("brand").id])
    # the look-alike's own app name contains the brand: it still may not take the first place
    lookalike_name = run(database, "鲜丰水果特卖")
    assert keys(world, lookalike_name)[:2] == ["brand", "lookalike"]
    assert lookalike_name.hits[1].score > lookalike_name.hits[0].score  # pinned, not outscored
    # spacing and width do not hide the name; more words around it neither
    assert keys(world, run(database, "武汉 鲜丰 水果 店"))[0] == "brand"


def test_a_look_alike_or_partial_name_pins_nothing(database, world):
    lookalike = run(database, "鲜丰果业")
    assert keys(world, lookalike)[0] == "lookalike" and lookalike.brand is None
    assert not any(hit.official for hit in lookalike.hits)
    # "鲜丰" alone is shared by both names: it does not name the brand, relevance decides
    partial = run(database, "鲜丰")
    assert set(keys(world, partial)) == {"brand", "lookalike"} and partial.brand is None
    assert not any(hit.official for hit in partial.hits)


def test_brand_pin_respects_the_city(database, world):
    result = run(database, "鲜丰水果", city=OTHER_CITY)
    assert result.hits == [] and result.brand is None


def test_all_of_the_brand_merchants_listed_apps_are_official(database, world):
    brand = world.app("brand")
    with database.unit_of_work() as db:
        merchant = db.get(Merchant, brand.merchant_id)
        db.add(MiniApp(merchant_id=merchant.id, category_id=merchant.category_id,
                       kind=MiniAppKind.EXTERNAL, client_secret_digest="0" * 64, name="会员卡",
                       description="积分与储值", tags=[], cities=[CITY], listed=True))
    result = run(database, "鲜丰水果")
    assert [hit.official for hit in result.hits[:2]] == [True, True]
    assert keys(world, result)[0] == "brand"  # the official apps in their own relevance order
    assert len(result.brand.miniapp_ids) == 2


def test_brand_named_in(database, world):
    brand = world.app("brand")
    with database.unit_of_work() as db:
        found = search.brand_named_in(db, text="我要买 鲜丰水果")
        assert found == search.BrandMatch("鲜丰水果", brand.merchant_id, [brand.id])
        assert search.brand_named_in(db, text="鲜丰果业") is None
        assert search.brand_named_in(db, text="鲜丰") is None
        assert search.brand_named_in(db, text="") is None


def test_a_revoked_brand_pins_nothing(database, world):
    with database.unit_of_work() as db:
        brand = db.scalar(select(Brand))
        operator = db.merge(world.operator)
        brands.revoke(db, actor=operator, brand_id=brand.public_id, reason="商标争议")
    with database.unit_of_work() as db:
        assert search.brand_named_in(db, text="鲜丰水果") is None
    result = run(database, "鲜丰水果")
    assert result.brand is None and not any(hit.official for hit in result.hits)


def test_an_unlisted_app_disappears_from_the_index(database, world):
    assert keys(world, run(database, "clinic")) == ["clinic"]
    edit_app(database, world, "clinic", listed=False)
    assert run(database, "clinic").hits == []
    edit_app(database, world, "clinic", listed=True)
    assert keys(world, run(database, "clinic")) == ["clinic"]


def test_a_renamed_app_is_reindexed(database, world):
    assert keys(world, run(database, "在线")) == ["clinic"]
    edit_app(database, world, "clinic", name="仁心康复理疗", description="physiotherapy")
    assert keys(world, run(database, "理疗")) == ["clinic"]
    assert keys(world, run(database, "physio")) == ["clinic"]
    assert run(database, "在线").hits == []
    assert run(database, "consultation").hits == []


def test_a_renamed_merchant_is_reindexed(database, world):
    assert run(database, "米行").hits == []
    with database.unit_of_work() as db:
        db.get(Merchant, world.app("declining").merchant_id).name = "百年米行"
    assert keys(world, run(database, "米行")) == ["declining"]


def test_a_query_over_unchanged_cards_reads_no_catalogue(database, world):
    """Given the serving snapshot's cards, a query reads only the certified brands (a few rows)
    and writes nothing: the index is in memory and patched only when the cards change."""
    with database.unit_of_work() as db:
        cards = search.documents(db)
        assert keys(world, search.query(db, text="水果", cards=cards))
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        with database.unit_of_work() as db:
            assert keys(world, search.query(db, text="水果", cards=cards))
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    writes = [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE",
                                                                      "DELETE"))]
    assert len(reads) == 1 and "brands" in reads[0] and writes == []


def test_bad_input_gives_an_empty_result(database, world):
    for text in ("", "   ", "\x00\x01\x1f", "!!! ——", "\t\n"):
        assert run(database, text) == search.SearchResult()
    assert keys(world, run(database, "粮\x00油")) == ["declining"]  # controls are removed
    long = run(database, "粮油" + "x" * 500)  # trimmed to 64 characters, still answers
    assert keys(world, long) == ["declining"]
    assert len(run(database, "水果", limit=1).hits) == 1
    assert len(run(database, "水果", limit=0).hits) == 1  # at least one


def test_equal_scores_are_ordered_by_id(database, world):
    grocer = world.app("grocer")
    with database.unit_of_work() as db:
        merchant = db.get(Merchant, grocer.merchant_id)
        for _ in range(3):
            db.add(MiniApp(merchant_id=merchant.id, category_id=merchant.category_id,
                           kind=MiniAppKind.EXTERNAL, client_secret_digest="0" * 64,
                           name="同名小店", description="", tags=[], cities=[CITY], listed=True))
    result = run(database, "同名小店")
    ids = [hit.miniapp_id for hit in result.hits]
    assert len(ids) == 3 and ids == sorted(ids)
    assert len({hit.score for hit in result.hits}) == 1
    assert run(database, "同名小店") == result


def test_a_brand_named_unlike_its_merchant_is_indexed_and_pinned(database, world):
    clinic = world.app("clinic")
    with database.unit_of_work() as db:
        db.add(Brand(merchant_id=clinic.merchant_id, name="Renxin Health",
                     status=BrandStatus.CERTIFIED))
    named = run(database, "RENXIN health 问诊")
    assert keys(world, named)[0] == "clinic" and named.hits[0].official
    partial = run(database, "renxin")  # part of the brand: found through the index, not pinned
    assert keys(world, partial) == ["clinic"] and partial.brand is None


def test_a_one_character_brand_pins_nothing(database, world):
    with database.unit_of_work() as db:
        db.add(Brand(merchant_id=world.app("faraway").merchant_id, name="茶",
                     status=BrandStatus.CERTIFIED))
        assert search.brand_named_in(db, text="西湖茶社") is None
