"""Invalid-click filtering: an anonymous client that searches a keyword and follows the
sponsored links cannot drain a rival's budget. A click counts and is charged only when it comes
from the visitor the ad was shown to, soon after; one charge per visitor per ad per window; a
per-address rate limit; a later check refunds a heavy address's clicks; the merchant sees
charged and filtered clicks apart."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.traffic.serving.test_clicks import CITY, V, _token, freeze
from tests.traffic.world import build_world
from townsquare.core.clock import clock
from townsquare.traffic.market import bids
from townsquare.traffic.models import AdClick, BidSpend, SlotReason
from townsquare.traffic.serving import clicks
from townsquare.traffic.serving import service as serving


@pytest.fixture
def world(database):
    freeze()
    return build_world(database)


@pytest.fixture
def bid_id(database, world):
    with database.unit_of_work() as db:
        bid = bids.place(db, actor=db.merge(world.other_owner),
                         miniapp_public_id=world.app("clinic").public_id, target_kind="surface",
                         target="feed", max_cpc_fen=300, daily_budget_fen=100_000)
        return bid.id


def _spend(database, bid_id):
    with database.unit_of_work() as db:
        spend = db.scalar(select(BidSpend).where(BidSpend.bid_id == bid_id))
        return (spend.spent_fen, spend.clicks, spend.filtered) if spend else (0, 0, 0)


def _ad(settings, world, bid_id, **overrides) -> str:
    return _token(settings, world.app("clinic"), reason=SlotReason.SPONSORED, promise=None,
                  bid_id=bid_id, price_fen=300, **overrides)


def _follow(database, settings, token, visitor=V, client="c1"):
    with database.unit_of_work() as db:
        return clicks.follow(db, settings=settings, token=token, user=None, visitor=visitor,
                             client=client)


def test_a_click_from_another_visitor_than_the_one_shown_is_not_charged(
        database, settings, world, bid_id):
    _follow(database, settings, _ad(settings, world, bid_id), visitor="cd" * 16)
    assert _spend(database, bid_id) == (0, 0, 1)
    with database.unit_of_work() as db:
        assert db.scalar(select(AdClick.reason)) == "no_exposure"


def test_a_click_long_after_the_exposure_is_not_charged(database, settings, world, bid_id):
    token = _ad(settings, world, bid_id)
    clock.advance(timedelta(seconds=clicks.EXPOSURE_SECONDS + 1))
    _click, new = _follow(database, settings, token)
    assert not new and _spend(database, bid_id) == (0, 0, 1)


def test_one_charge_per_visitor_per_ad_per_window(database, settings, world, bid_id):
    for _ in range(5):  # the same visitor searches again and again and clicks each time
        _follow(database, settings, _ad(settings, world, bid_id))
    assert _spend(database, bid_id) == (300, 1, 4)
    clock.advance(timedelta(seconds=bids.DEDUP_SECONDS))
    _follow(database, settings, _ad(settings, world, bid_id))
    assert _spend(database, bid_id) == (600, 2, 4)


def test_a_client_clicking_too_fast_is_rate_limited(database, settings, world, bid_id):
    n = bids.CLIENT_CLICKS_PER_MINUTE + 5
    for i in range(n):  # new visitor ids each time (cookies thrown away), one address
        visitor = f"{i:032x}"
        _follow(database, settings, _ad(settings, world, bid_id, visitor=visitor),
                visitor=visitor, client="farm")
    spent, charged, filtered = _spend(database, bid_id)
    assert charged == bids.CLIENT_CLICKS_PER_MINUTE and filtered == 5
    assert spent == 300 * charged


def test_the_later_check_refunds_a_heavy_address(database, settings, world, bid_id):
    for i in range(bids.CLIENT_CLICKS_PER_DAY + 1):
        clock.advance(timedelta(minutes=1))
        visitor = f"{i:032x}"
        _follow(database, settings, _ad(settings, world, bid_id, visitor=visitor),
                visitor=visitor, client="slow-farm")
    _follow(database, settings, _ad(settings, world, bid_id, visitor="e" * 32),
            visitor="e" * 32, client="a-resident")
    with database.unit_of_work() as db:
        refunded = bids.refund_invalid(db, now=clock.now())
    assert refunded == bids.CLIENT_CLICKS_PER_DAY + 1
    with database.unit_of_work() as db:
        statuses = {c.client: c.status for c in db.scalars(select(AdClick))}
        assert statuses == {"slow-farm": "refunded", "a-resident": "charged"}
        total = sum(s.spent_fen for s in db.scalars(select(BidSpend)))
        clicks_ = sum(s.clicks for s in db.scalars(select(BidSpend)))
        assert (total, clicks_) == (300, 1)


def test_anonymous_search_and_follow_over_http_charges_once(client, database, settings, world,
                                                            bid_id):
    serving.forget_caches()
    charged_before = _spend(database, bid_id)[1]
    for _ in range(4):
        page = client.get(f"/?city={CITY}")
        assert page.status_code == 200

        links = re.findall(r'href="(/go/[^"]+)"', page.text)
        for link in links:
            client.get(link, follow_redirects=False)
    spent, charged, filtered = _spend(database, bid_id)
    assert charged - charged_before <= 1 and filtered >= 1
    # a token carried to another browser (another visitor) is not charged
    assert "ts_vid" in client.cookies
