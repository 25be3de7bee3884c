"""The search page on the demo city at phone and desktop size, in Chromium: 买菜 finds the
生鲜买菜 shops and says why (the words searched, the synonym, the category, the topic, and for each
result where it matched), without sideways scrolling. Screenshots go to var/screenshots/."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import select

from townsquare.merchants.models import Category
from townsquare.miniapps.models import MiniApp

from .conftest import VIEWPORTS, screenshot

pytestmark = pytest.mark.browser


def _grocers_in(database, city: str) -> int:
    """Listed 生鲜买菜 mini-apps serving `city` (no cities: every city)."""
    with database.unit_of_work() as db:
        served = db.scalars(select(MiniApp.cities).join(Category)
                            .where(MiniApp.listed, Category.name_zh == "生鲜买菜")).all()
    return sum(1 for cities in served if not cities or city in cities)


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_a_need_finds_the_category_and_says_why(live_server, database, browser, size):
    context = browser.new_context(locale="zh-CN", viewport=VIEWPORTS[size])
    try:
        page = context.new_page()
        page.goto(f"{live_server}/search?q={quote('我想买菜')}")
        page.wait_for_load_state("networkidle")
        screenshot(page, f"search-{size}")
        explain = page.locator("#search-explain").inner_text()
        assert "搜索词：买菜" in explain and "同义词：买菜 → 生鲜" in explain
        assert "按分类「生鲜买菜」匹配" in explain
        results = page.locator("li.result")
        city = page.locator(".city-switch .current").inner_text().strip()
        grocers = _grocers_in(database, city)
        assert grocers >= 3 and results.count() >= grocers  # every grocer of the city, at least
        assert "匹配：" in results.first.inner_text()
        width = page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
        assert width[0] <= width[1], width
    finally:
        context.close()
