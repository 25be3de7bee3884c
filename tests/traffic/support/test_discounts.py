"""Campaign discounts: the rule (pure, exact integer fen, never below 0 nor above the items, a
fraction of a fen to the resident), the operator's terms checked (service and console form:
a bad value is refused with its message and nothing is written), the merchant told who funds
it before enrolling, and which enrolments give one (running campaign, today within its dates,
not withdrawn; the best single one)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.merchants.conftest import csrf, login
from tests.traffic.support_helpers import NOW, freeze, snapshot
from tests.traffic.world import build_world
from townsquare.core.clock import clock
from townsquare.core.errors import ValidationFailed
from townsquare.core.i18n import current_locale
from townsquare.traffic.models import Campaign, CampaignState
from townsquare.traffic.support import campaigns, discounts
from townsquare.traffic.support.discounts import Terms, amount

TZ = "Asia/Shanghai"
TODAY = date(2026, 3, 11)  # NOW in Shanghai


# -- the rule, pure ----------------------------------------------------------------------------
def test_threshold_and_amount_off():
    terms = Terms(threshold_fen=3000, off_fen=500)  # 满 30 元减 5 元
    assert amount(terms, 2999) == 0
    assert amount(terms, 3000) == 500
    assert amount(terms, 12_345) == 500


def test_percentage_with_and_without_a_cap_rounds_for_the_resident():
    assert amount(Terms(percent=10), 1005) == 101  # 100.5 → 101 off: the total 904 rounds down
    assert amount(Terms(percent=10), 1000) == 100
    assert amount(Terms(percent=15, cap_fen=800), 10_000) == 800
    assert amount(Terms(percent=15, cap_fen=800), 1_000) == 150
    assert amount(Terms(percent=100), 777) == 777  # free items, never more


def test_both_parts_give_the_larger_and_never_more_than_the_items():
    both = Terms(threshold_fen=2000, off_fen=500, percent=10, cap_fen=2000)
    assert amount(both, 1999) == 200  # below the threshold: only the percentage
    assert amount(both, 3000) == 500  # 满减 500 > 10 % = 300
    assert amount(both, 9000) == 900  # 10 % = 900 > 500
    assert amount(Terms(threshold_fen=0, off_fen=500), 300) == 300
    assert amount(Terms(percent=50), 0) == 0 and amount(Terms(), 5000) == 0


@given(items=st.integers(min_value=0, max_value=10**10),
       threshold=st.none() | st.integers(min_value=0, max_value=discounts.MAX_FEN),
       off=st.none() | st.integers(min_value=1, max_value=discounts.MAX_FEN),
       percent=st.none() | st.integers(min_value=1, max_value=100),
       cap=st.none() | st.integers(min_value=1, max_value=discounts.MAX_FEN))
def test_a_discount_is_exact_and_between_zero_and_the_items(items, threshold, off, percent, cap):
    terms = Terms(threshold_fen=threshold if off is not None else None, off_fen=off,
                  percent=percent, cap_fen=cap if percent is not None else None)
    got = amount(terms, items)
    assert isinstance(got, int) and 0 <= got <= items
    candidates = [0]
    if off is not None and items >= (terms.threshold_fen or 0):
        candidates.append(min(off, items))
    if percent is not None:
        exact = items * percent  # in hundredths of a fen: the resident gets the fraction
        off_pct = exact // 100 + (1 if exact % 100 else 0)
        candidates.append(min(off_pct, cap) if cap is not None else off_pct)
    assert got == min(max(candidates), items)
    if percent is not None and cap is None:
        assert (items - got) * 100 <= items * (100 - percent)  # the total never rounds up


@pytest.mark.parametrize("terms, field", [
    ({"off_fen": -100, "threshold_fen": 1000}, "discount_off"),
    ({"off_fen": 0, "threshold_fen": 1000}, "discount_off"),
    ({"off_fen": 500, "threshold_fen": 499}, "discount_threshold"),
    ({"off_fen": 500, "threshold_fen": -1}, "discount_threshold"),
    ({"off_fen": 500}, "discount_threshold"),
    ({"threshold_fen": 3000}, "discount_off"),
    ({"percent": 101}, "discount_percent"),
    ({"percent": 0}, "discount_percent"),
    ({"percent": -5}, "discount_percent"),
    ({"percent": 10, "cap_fen": 0}, "discount_cap"),
    ({"cap_fen": 500}, "discount_percent"),
    ({"off_fen": True, "threshold_fen": 1000}, "discount_off"),
    ({"off_fen": discounts.MAX_FEN + 1, "threshold_fen": discounts.MAX_FEN + 1}, "discount_off"),
], ids=["negative-off", "zero-off", "threshold-below-off", "negative-threshold",
        "off-without-threshold", "threshold-without-off", "percent-over-100", "percent-0",
        "negative-percent", "zero-cap", "cap-without-percent", "bool", "too-large"])
def test_bad_terms_are_refused_with_the_field(terms, field):
    with pytest.raises(ValidationFailed) as refused:
        discounts.check(**terms)
    assert refused.value.params["field"] == field


def test_terms_in_words():
    token = current_locale.set("zh_CN")
    try:
        assert discounts.describe(Terms(threshold_fen=3000, off_fen=500)) == "满 30 元减 5 元"
        capped = discounts.describe(Terms(percent=12, cap_fen=850))
        assert capped == "商品立减 12%（最多减 8.50 元）"
        assert discounts.describe(Terms()) == ""
    finally:
        current_locale.reset(token)


# -- campaigns with a discount -----------------------------------------------------------------
@pytest.fixture
def world(database):
    freeze()
    return build_world(database)


def fields(**change):
    base = dict(title_zh="满减节", title_en="Spend and save", surfaces=["feed"],
                starts_on=TODAY, ends_on=TODAY + timedelta(days=6), eligible_stages=[],
                min_tier=None, category_codes=[], impressions_per_miniapp=500)
    return base | change


def make(database, world, *, state=CampaignState.OPEN, **change) -> str:
    with database.unit_of_work() as db:
        campaign = campaigns.create(db, actor=world.operator, timezone=TZ, **fields(**change))
        if state is not CampaignState.DRAFT:
            campaigns.set_state(db, actor=world.operator, campaign_public_id=campaign.public_id,
                                state="open", timezone=TZ)
        if state is CampaignState.CLOSED:
            campaigns.set_state(db, actor=world.operator, campaign_public_id=campaign.public_id,
                                state="closed", timezone=TZ)
        return campaign.public_id


def enrol(database, world, cmp, key="brand"):
    with database.unit_of_work() as db:
        campaigns.enrol(db, actor=world.owner, campaign_public_id=cmp,
                        miniapp_public_id=world.app(key).public_id, timezone=TZ)


def best(database, world, items, key="brand"):
    with database.unit_of_work() as db:
        found = discounts.best_for(db, miniapp_id=world.app(key).id, items_fen=items,
                                   timezone=TZ)
        return (found[0].public_id, found[1]) if found else None


def test_create_keeps_the_terms_and_bad_ones_write_nothing(database, world):
    cmp = make(database, world, discount_threshold_fen=3000, discount_off_fen=500,
               discount_percent=10, discount_cap_fen=800)
    with database.unit_of_work() as db:
        saved = db.scalar(select(Campaign).where(Campaign.public_id == cmp))
        assert (saved.discount_threshold_fen, saved.discount_off_fen, saved.discount_percent,
                saved.discount_cap_fen) == (3000, 500, 10, 800)
        before = snapshot(db), db.scalar(select(func.count()).select_from(Campaign))
    for bad in ({"discount_off_fen": -1, "discount_threshold_fen": 100},
                {"discount_off_fen": 500, "discount_threshold_fen": 100},
                {"discount_percent": 101}):
        with database.unit_of_work() as db, pytest.raises(ValidationFailed):
            campaigns.create(db, actor=world.operator, timezone=TZ, **fields(**bad))
    with database.unit_of_work() as db:
        assert (snapshot(db), db.scalar(select(func.count()).select_from(Campaign))) == before


def test_the_best_single_discount_of_running_enrolments(database, world):
    flat = make(database, world, discount_threshold_fen=2000, discount_off_fen=300)
    pct = make(database, world, discount_percent=10, discount_cap_fen=1000)
    make(database, world, discount_percent=50)  # not enrolled: gives nothing
    assert best(database, world, 5000) is None  # nothing enrolled yet
    enrol(database, world, flat)
    enrol(database, world, pct)
    assert best(database, world, 1000) == (pct, 100)  # below 满 20: only the percentage
    assert best(database, world, 2500) == (flat, 300)  # 300 > 250
    assert best(database, world, 50_000) == (pct, 1000)  # capped, still better
    assert best(database, world, 5000, key="clinic") is None  # another mini-app
    with database.unit_of_work() as db:  # withdrawn: that campaign no longer counts
        campaigns.withdraw(db, actor=world.owner, campaign_public_id=pct,
                           miniapp_public_id=world.app("brand").public_id)
    assert best(database, world, 50_000) == (flat, 300)


def test_no_discount_outside_the_dates_or_once_cancelled(database, world):
    later = make(database, world, starts_on=TODAY + timedelta(days=2),
                 ends_on=TODAY + timedelta(days=3), discount_threshold_fen=200,
                 discount_off_fen=200)
    ends_today = make(database, world, ends_on=TODAY, discount_percent=5)
    enrol(database, world, later)
    enrol(database, world, ends_today)
    assert best(database, world, 1000) == (ends_today, 50)
    clock.freeze(NOW + timedelta(days=1))  # the day after its last day: it has ended
    assert best(database, world, 1000) is None
    clock.freeze(NOW + timedelta(days=2))  # the later one has begun
    assert best(database, world, 1000) == (later, 200)
    with database.unit_of_work() as db:
        campaigns.set_state(db, actor=world.operator, campaign_public_id=later,
                            state="cancelled", timezone=TZ)
    assert best(database, world, 1000) is None


def test_a_closed_campaign_still_runs_its_discount(database, world):
    cmp = make(database, world, discount_percent=20)
    enrol(database, world, cmp)
    with database.unit_of_work() as db:
        campaigns.set_state(db, actor=world.operator, campaign_public_id=cmp, state="closed",
                            timezone=TZ)
    assert best(database, world, 1000) == (cmp, 200)


# -- the consoles ------------------------------------------------------------------------------
HOME = "/console/operator/traffic"


def _form(token, **change):
    today = NOW.date()
    return {"csrf_token": token, "title_zh": "满减节", "title_en": "Spend and save",
            "surfaces": "feed", "starts_on": today.isoformat(),
            "ends_on": (today + timedelta(days=6)).isoformat(), "min_tier": "",
            "impressions_per_miniapp": "500", "max_enrolments": ""} | change


@pytest.mark.parametrize("change, message", [
    ({"discount_threshold": "30", "discount_off": "-5"}, "两位小数"),
    ({"discount_threshold": "3", "discount_off": "5"}, "满减门槛不能低于减免金额"),
    ({"discount_percent": "120"}, "折扣比例须为 1 到 100 之间的整数"),
    ({"discount_percent": "-1"}, "折扣比例须为 1 到 100 之间的整数"),
    ({"discount_off": "5"}, "满减需要填写门槛金额"),
    ({"discount_cap": "8"}, "最高优惠只能与折扣比例一起设置"),
    ({"discount_percent": "10", "discount_cap": "1.234"}, "两位小数"),
], ids=["negative", "threshold-below-off", "percent-over-100", "negative-percent",
        "off-alone", "cap-alone", "three-decimals"])
def test_the_operator_form_refuses_bad_discounts(client, world, database, change, message):
    login(client, world.operator)
    token = csrf(client, HOME)
    with database.unit_of_work() as db:
        before = snapshot(db), db.scalar(select(func.count()).select_from(Campaign))
    refused = client.post(HOME + "/campaigns", data=_form(token, **change))
    assert refused.status_code == 422 and 'role="alert"' in refused.text
    assert message in refused.text
    for value in change.values():  # the form comes back as typed
        assert f'value="{value}"' in refused.text
    with database.unit_of_work() as db:
        assert (snapshot(db), db.scalar(select(func.count()).select_from(Campaign))) == before


def test_the_merchant_sees_the_discount_and_who_funds_it_before_enrolling(client, world,
                                                                          database):
    login(client, world.operator)
    token = csrf(client, HOME)
    made = client.post(HOME + "/campaigns", follow_redirects=False, data=_form(
        token, discount_threshold="30", discount_off="5", discount_percent="",
        discount_cap=""))
    assert made.status_code == 303, made.text
    with database.unit_of_work() as db:
        saved = db.scalar(select(Campaign))
        assert (saved.discount_threshold_fen, saved.discount_off_fen, saved.discount_percent,
                saved.discount_cap_fen) == (3000, 500, None, None)
        cmp = saved.public_id
    assert "满 30 元减 5 元" in client.get(HOME).text
    client.post(HOME + f"/campaigns/{cmp}/state", data={"csrf_token": token, "state": "open"})
    login(client, world.owner)
    page = f"/console/merchant/{world.app('brand').merchant_public_id}/traffic"
    text = client.get(page).text
    assert "居民优惠：满 30 元减 5 元" in text and "优惠由您承担" in text
    english = client.get(page + "?lang=en").text
    assert "¥5 off orders of ¥30 or more" in english and "You fund it" in english


def test_the_json_api_takes_and_shows_the_terms_in_fen(client, world, token_for):
    operator = token_for(world.operator)
    payload = {"title_zh": "满减节", "title_en": "Spend and save", "surfaces": ["feed"],
               "starts_on": str(TODAY), "ends_on": str(TODAY + timedelta(days=6)),
               "discount_percent": 12, "discount_cap_fen": 850}
    bad = client.post("/api/traffic/campaigns", headers=operator,
                      json=payload | {"discount_percent": 101})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid"
    assert client.get("/api/traffic/campaigns", headers=operator).json() == []
    made = client.post("/api/traffic/campaigns", json=payload, headers=operator)
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["discount_percent"], body["discount_cap_fen"], body["discount_off_fen"],
            body["discount_threshold_fen"]) == (12, 850, None, None)
