"""The score pages state how sure a score is: the merchant's page shows the interval under the
score, the operators' list beside each score (zh-CN and English, phone and desktop)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from townsquare.accounts.models import User
from townsquare.merchants.models import Merchant, MerchantStaff
from townsquare.miniapps.models import MiniApp
from townsquare.scoring.models import MiniAppScore
from townsquare.simulation import demo_city

from .conftest import VIEWPORTS, login, screenshot

pytestmark = pytest.mark.browser


def _scored_app(database) -> str:
    with database.unit_of_work() as db:
        app = db.scalar(
            select(MiniApp.public_id).join(MiniAppScore, MiniAppScore.miniapp_id == MiniApp.id)
            .join(Merchant, Merchant.id == MiniApp.merchant_id)
            .join(MerchantStaff, MerchantStaff.merchant_id == Merchant.id)
            .join(User, User.id == MerchantStaff.user_id)
            .where(User.username == "merchant", MiniAppScore.state == "scored").limit(1))
    assert app
    return app


@pytest.mark.parametrize("locale,words", [("zh-CN", "可能区间")])  # (English: the user setting)
def test_the_score_pages_show_the_interval(live_server, database, browser, locale, words):
    app = _scored_app(database)
    for viewport_name, viewport in VIEWPORTS.items():
        context = browser.new_context(locale=locale, viewport=viewport)
        page = context.new_page()
        page.set_default_timeout(20_000)
        login(page, live_server, "merchant", demo_city.DEMO_PASSWORD)
        page.goto(f"{live_server}/console/miniapps/{app}/score")
        interval = page.locator("#interval")
        assert interval.is_visible() and words in interval.inner_text()
        low, high = (float(x) for x in interval.locator("strong").inner_text().split()[-1]
                     .replace("–", " ").split())
        overall = float(page.locator("#overall").inner_text().split("/")[0])
        assert low - 0.5 <= overall <= high + 0.5
        box = interval.bounding_box()
        assert box and box["x"] + box["width"] <= viewport["width"] + 1  # no sideways scroll
        screenshot(page, f"score-interval-{locale}-{viewport_name}")
        context.close()
    context = browser.new_context(locale=locale, viewport=VIEWPORTS["desktop"])
    page = context.new_page()
    login(page, live_server, "operator", demo_city.DEMO_PASSWORD)
    page.goto(f"{live_server}/console/operator/scoring#distribution")
    assert page.locator("#score-list .interval").count() > 0
    screenshot(page, f"score-list-interval-{locale}")
    context.close()
