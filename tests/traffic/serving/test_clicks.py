"""Click tokens: signed, opaque, expiring; a click is recorded once and a sponsored click charged
once, however often the link is followed; a bad token records nothing."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from tests.traffic.serving_data import count_events, freeze
from tests.traffic.world import CITY, build_world
from townsquare.core.clock import clock
from townsquare.core.errors import ValidationFailed
from townsquare.events.models import BehaviourEvent, EventType
from townsquare.miniapps.shell import launch
from townsquare.traffic.market import bids
from townsquare.traffic.models import AdClick, BidSpend, SlotReason
from townsquare.traffic.serving import clicks
from townsquare.traffic.serving import service as serving


@pytest.fixture
def world(database):
    freeze()
    return build_world(database)


V = "ab" * 16  # the visitor the item was shown to


def browser_visitor(settings, user_public_id=None) -> str:
    """The visitor id of the test client (no cookie: its address and agent), or of a user."""
    return clicks.visitor_id(settings.effective_secret_key, user_public_id=user_public_id,
                             cookie=None, address="testclient", agent="testclient")


def _token(settings, app, **overrides) -> str:
    fields = {"settings": settings, "miniapp": app.public_id, "surface": "feed",
              "reason": SlotReason.GUARANTEED, "promise": "prm_abc", "bid_id": None,
              "price_fen": None, "city": CITY, "audience": "guest", "visitor": V}
    return clicks.issue(**{**fields, **overrides})


def test_a_token_says_what_was_clicked_and_cannot_be_forged(settings, database, world):
    app = world.app("grocer")
    token = _token(settings, app)
    click = clicks.verify(settings=settings, token=token)
    assert (click.miniapp, click.surface, click.reason, click.promise, click.city,
            click.audience) == (app.public_id, "feed", SlotReason.GUARANTEED, "prm_abc", CITY,
                                "guest")
    assert click.issued_at == clock.now().replace(microsecond=0)
    assert app.public_id not in token and "prm_abc" not in token  # opaque
    tampered = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    for bad in (tampered, "", "x" * 600, "not-a-token", token + "=="):
        with pytest.raises(ValidationFailed):
            clicks.verify(settings=settings, token=bad)
    other = settings.model_copy(update={"secret_key": "another-secret-key-for-testing"})
    with pytest.raises(ValidationFailed):
        clicks.verify(settings=other, token=token)


def test_a_token_expires_after_a_day(settings, database, world):
    token = _token(settings, world.app("grocer"))
    clock.advance(timedelta(seconds=clicks.TOKEN_SECONDS - 1))
    clicks.verify(settings=settings, token=token)
    clock.advance(timedelta(seconds=2))
    with pytest.raises(ValidationFailed):
        clicks.verify(settings=settings, token=token)


def test_following_a_click_records_it_once(settings, database, world, make_user):
    app = world.app("grocer")
    token = _token(settings, app)
    with database.unit_of_work() as db:
        user = db.merge(world.resident)
        click, new = clicks.follow(db, settings=settings, token=token, user=user, visitor=V)
        assert new and click.miniapp == app.public_id
        _again, new_again = clicks.follow(db, settings=settings, token=token, user=user,
                                          visitor=V)
        assert not new_again
    with database.unit_of_work() as db:
        events = list(db.scalars(select(BehaviourEvent).where(
            BehaviourEvent.type == EventType.CLICK)))
    assert len(events) == 1
    event = events[0]
    assert (event.miniapp_id, event.surface, event.slot_reason, event.city, event.audience) == (
        app.id, "feed", "guaranteed", CITY, "guest"
    )
    assert event.user_sub == launch.pseudonymous_id(
        settings.effective_secret_key, world.resident.public_id, app.public_id
    )


def test_a_sponsored_click_is_charged_once(settings, database, world):
    app = world.app("clinic")
    with database.unit_of_work() as db:
        bid = bids.place(db, actor=db.merge(world.other_owner), miniapp_public_id=app.public_id,
                         target_kind="surface", target="feed", max_cpc_fen=300,
                         daily_budget_fen=10_000)
        bid_id = bid.id
    serving.forget_caches()
    with database.unit_of_work() as db:
        served = serving.serve(db, settings=settings, surface="feed", city=CITY, user=None,
                               visitor=V)
    ad = next(item for item in served.items if item.sponsored)
    token = ad.click_url.removeprefix(clicks.PREFIX)
    for _ in range(3):
        with database.unit_of_work() as db:
            clicks.follow(db, settings=settings, token=token, user=None, visitor=V)
    with database.unit_of_work() as db:
        spend = db.scalar(select(BidSpend).where(BidSpend.bid_id == bid_id))
        assert spend.spent_fen == ad.price_fen and spend.clicks == 1
        assert db.scalar(select(func.count()).select_from(AdClick)) == 1
    assert count_events(database, EventType.CLICK) == 1


def test_go_redirects_to_the_miniapp_and_a_bad_link_records_nothing(
    client, settings, database, world
):
    app = world.app("brand")
    token = _token(settings, app, reason=SlotReason.ORGANIC, promise=None,
                   visitor=browser_visitor(settings))
    response = client.get(f"/go/{token}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/apps/{app.public_id}"
    assert client.get(f"/go/{token}", follow_redirects=False).status_code == 303
    assert count_events(database, EventType.CLICK) == 1
    bad = client.get("/go/forged-token", follow_redirects=False)
    assert bad.status_code == 400 and "链接无效或已过期" in bad.text
    clock.advance(timedelta(days=2))
    expired = _token(settings, world.app("grocer"))
    clock.advance(timedelta(days=2))
    assert client.get(f"/go/{expired}", follow_redirects=False).status_code == 400
    assert count_events(database, EventType.CLICK) == 1


def test_a_signed_in_click_carries_the_residents_sub(client, settings, database, world):
    login = client.post("/api/auth/token", json={"username": "resident", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {login.json()['token']}"}
    app = world.app("clinic")
    token = _token(settings, app, audience="resident",
                   visitor=browser_visitor(settings, world.resident.public_id))
    assert client.get(f"/go/{token}", headers=headers, follow_redirects=False).status_code == 303
    with database.unit_of_work() as db:
        event = db.scalar(select(BehaviourEvent).where(BehaviourEvent.type == EventType.CLICK))
    assert event.user_sub.startswith("ou_") and event.audience == "resident"


def test_a_token_has_one_spelling(settings, database, world):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    token = next(t for n in range(3) if len(t := _token(settings, world.app("grocer"),
                                                         promise="prm_" + "x" * n)) % 4)
    clicks.verify(settings=settings, token=token)
    # the last character's unused low bit: the same bytes, another spelling (another digest)
    respelt = token[:-1] + alphabet[alphabet.index(token[-1]) ^ 1]
    padded = token + "=" * (-len(token) % 4)
    assert base64.urlsafe_b64decode(respelt + "==") == base64.urlsafe_b64decode(padded)
    for other in (respelt, padded, token + "\n", " " + token):
        with pytest.raises(ValidationFailed):
            clicks.verify(settings=settings, token=other)


def test_a_fernet_token_from_before_the_change_is_honoured_until_it_expires(
    settings, database, world
):
    app = world.app("grocer")
    data = json.dumps([app.public_id, "feed", "organic", "", 0, 0, CITY, "guest"],
                      ensure_ascii=False, separators=(",", ":")).encode()
    legacy = clicks._fernet(settings.effective_secret_key).encrypt_at_time(
        data, int(clock.now().timestamp())).decode()
    click = clicks.verify(settings=settings, token=legacy)
    assert (click.miniapp, click.reason, click.promise, click.city) == (
        app.public_id, SlotReason.ORGANIC, None, CITY)
    clock.advance(timedelta(days=2))
    with pytest.raises(ValidationFailed):
        clicks.verify(settings=settings, token=legacy)
