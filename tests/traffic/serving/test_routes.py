"""The surfaces' JSON API: feed, channel, topic and search responses with slot reasons, promise
ids, sponsored flags and click URLs; one exposure per item; bad input answers 4xx."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from tests.conftest import PASSWORD
from tests.traffic.serving_data import add_plan, exposures, freeze, legacy_ranking
from tests.traffic.world import CITY, OTHER_CITY, build_world
from townsquare.app import create_app
from townsquare.traffic import topics
from townsquare.traffic.market import bids
from townsquare.traffic.models import PromiseKind
from townsquare.traffic.serving import cache as serving_cache
from townsquare.traffic.serving import routes as feed_routes
from townsquare.traffic.serving.routes import FeedItemOut, FeedOut


@pytest.fixture
def world(database):
    freeze()
    found = build_world(database)
    legacy_ranking(database, found, ads=True)
    return found


def _bearer(client, username: str) -> dict[str, str]:
    response = client.post("/api/auth/token", json={"username": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {response.json()['token']}"}


def test_home_feed_items_say_why_they_are_there(client, database, world):
    plan = add_plan(database, world, [("newcomer", PromiseKind.COLD_START, 1400, 0)])
    with database.unit_of_work() as db:
        bids.place(db, actor=db.merge(world.other_owner),
                   miniapp_public_id=world.app("clinic").public_id, target_kind="surface",
                   target="feed", max_cpc_fen=100, daily_budget_fen=5_000)
    response = client.get("/api/feed", params={"city": CITY})
    assert response.status_code == 200
    body = response.json()
    assert (body["surface"], body["city"], body["audience"]) == ("feed", CITY, "guest")
    items = body["items"]
    assert [i["position"] for i in items] == list(range(1, len(items) + 1))
    first = items[0]
    assert first["miniapp_id"] == world.app("newcomer").public_id
    assert (first["reason"], first["promise_id"], first["new_merchant"]) == (
        "cold_start", plan["newcomer"].promise_public_id, True
    )
    ad = items[2]
    assert ad["miniapp_id"] == world.app("clinic").public_id
    assert ad["reason"] == "sponsored" and ad["sponsored"] is True
    brand = next(i for i in items if i["miniapp_id"] == world.app("brand").public_id)
    assert brand["certified_brand"] == "鲜丰水果" and brand["merchant"] == "鲜丰水果"
    assert brand["name"] == "鲜丰水果官方商城" and brand["icon"] == "🛒"
    assert all(i["click_url"].startswith("/go/") for i in items)
    assert all(i["promise_id"] is None for i in items if i["reason"] == "organic")
    assert len(exposures(database)) == len(items)
    # following the click URL opens the mini-app
    opened = client.get(first["click_url"], follow_redirects=False)
    assert opened.headers["location"] == f"/apps/{first['miniapp_id']}"


def test_city_defaults_to_the_first_served_city_and_is_validated(client, database, world):
    body = client.get("/api/feed").json()
    assert body["city"] == CITY
    other = client.get("/api/feed", params={"city": OTHER_CITY}).json()
    assert [i["miniapp_id"] for i in other["items"]] == [world.app("faraway").public_id]
    assert client.get("/api/feed", params={"city": "x" * 33}).status_code == 422
    assert client.get("/api/feed", params={"city": "a\x01b"}).status_code == 422
    assert client.get("/api/feed", params={"city": "无此城"}).json()["items"] == []


def test_a_signed_in_resident_is_a_resident_segment(client, database, world):
    body = client.get("/api/feed", headers=_bearer(client, "resident")).json()
    assert body["audience"] == "resident"
    assert {e.audience for e in exposures(database)} == {"resident"}
    assert all(e.user_sub.startswith("ou_") for e in exposures(database))


def test_channel_and_topic_feeds(client, database, world):
    with database.unit_of_work() as db:
        operator = db.merge(world.operator)
        topics.save_channel(db, actor=operator, slug="clinics", title_zh="看病",
                            title_en="Clinics", category_codes=["clinic"])
        topics.create_topic(db, actor=operator, slug="fruit", title_zh="买水果",
                            title_en="Fruit", description_zh="", description_en="",
                            category_codes=[], tags=["水果"])
    channel = client.get("/api/channels/clinics/feed", params={"city": CITY}).json()
    assert channel["surface"] == "channel.clinics"
    assert [i["miniapp_id"] for i in channel["items"]] == [world.app("clinic").public_id]
    topic = client.get("/api/topics/fruit/feed").json()
    assert {i["miniapp_id"] for i in topic["items"]} == {
        world.app(k).public_id for k in ("brand", "lookalike", "newcomer")
    }
    assert client.get("/api/channels/nothing/feed").status_code == 404
    assert client.get("/api/topics/nothing/feed").status_code == 404
    assert client.get("/api/topics/NO/feed").status_code == 422


def test_search_puts_the_certified_brand_first(client, database, world):
    body = client.get("/api/search", params={"q": "鲜丰水果", "city": CITY}).json()
    assert body["brand"] == "鲜丰水果"
    first = body["items"][0]
    assert first["miniapp_id"] == world.app("brand").public_id
    assert first["official"] is True and first["reason"] == "organic"
    others = [i for i in body["items"][1:]]
    assert world.app("lookalike").public_id in {i["miniapp_id"] for i in others}
    assert not any(i["official"] for i in others)
    assert client.get("/api/search", params={"q": ""}).json()["items"] == []
    assert client.get("/api/search", params={"q": "x" * 65}).status_code == 422


def test_feed_json_is_a_valid_feed_out(client, database, world):
    add_plan(database, world, [("newcomer", PromiseKind.COLD_START, 1400, 0)])
    for path, params in (("/api/feed", {}), ("/api/search", {"q": "鲜丰水果"})):
        response = client.get(path, params=params)
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        parsed = FeedOut.model_validate_json(response.content)  # the documented response model
        assert parsed.model_dump(mode="json") == body  # every field, nothing more
        assert set(body) == set(FeedOut.model_fields)
        assert all(set(item) == set(FeedItemOut.model_fields) for item in body["items"])
    assert parsed.brand == "鲜丰水果" and parsed.items[0].official


def test_a_guest_feed_between_checks_is_answered_from_memory(database, settings, world,
                                                              monkeypatch):
    moment = [1_000.0]
    monkeypatch.setattr(serving_cache, "monotonic", lambda: moment[0])
    handed = []
    real = feed_routes.run_in_threadpool

    async def counted(fn, *args, **kwargs):
        handed.append(args[1])  # the surface
        return await real(fn, *args, **kwargs)

    monkeypatch.setattr(feed_routes, "run_in_threadpool", counted)
    statements: list[str] = []

    def seen(conn, cursor, statement, *rest):
        statements.append(statement)

    live = settings.model_copy(update={"serving_refresh_ms": 1_000, "exposure_flush_ms": 3_600_000})
    plan = add_plan(database, world, [("newcomer", PromiseKind.COLD_START, 1400, 0)])
    with TestClient(create_app(live, database)) as client:
        first = client.get("/api/feed", params={"city": CITY}).json()  # loads: a worker thread
        assert handed == ["feed"]
        event.listen(database.engine, "before_cursor_execute", seen)
        try:
            moment[0] += 0.5
            again = client.get("/api/feed", params={"city": CITY}).json()
            assert handed == ["feed"] and statements == []  # no thread, no statement
            assert again["items"][0]["promise_id"] == plan["newcomer"].promise_public_id
            assert [i["miniapp_id"] for i in again["items"]] == [
                i["miniapp_id"] for i in first["items"]]
            later = [
                client.get("/api/feed", headers=_bearer(client, "resident")),  # signed in
                client.get("/api/search", params={"q": "水果"}),  # search reads its index
            ]
            moment[0] += 1.0
            later.append(client.get("/api/feed"))  # due for a check
        finally:
            event.remove(database.engine, "before_cursor_execute", seen)
        assert handed == ["feed", "feed", "search", "feed"]  # the three went to a thread
        assert exposures(database) == []  # all still buffered
    shown = [first, again] + [r.json() for r in later]
    assert len(exposures(database)) == sum(len(body["items"]) for body in shown)  # at shutdown
