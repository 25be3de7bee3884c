"""The property's catalog form in a real Chromium, at phone and desktop sizes: choosing an
admitted merchant as the provider leaves only its own stores, items and mini-apps in the pick
lists (the property's are hidden by the small script), the service is added from picks alone,
and the page fits a phone's width. Screenshots go to var/screenshots/catalog-form-*.png."""

from __future__ import annotations

import pytest

from tests.community.services import world as w
from tests.conftest import PASSWORD

from .conftest import VIEWPORTS, login, screenshot

pytestmark = pytest.mark.browser

VISIBLE = """sel => Array.from(document.querySelectorAll(sel + ' option'))
  .filter(o => o.value && !(o.parentElement.hidden)).map(o => o.value)"""


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_the_manager_adds_a_service_from_pick_lists(small_server, database, browser, settings,
                                                    make_user, size):
    world = w.build(database, settings, make_user)
    adm, _ = w.admit(database, world)
    context = browser.new_context(locale="zh-CN", viewport=VIEWPORTS[size])
    problems: list[str] = []
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        login(page, small_server, world.base.manager.username, PASSWORD)
        page.goto(f"{small_server}/community/{world.com}/manage/services")
        assert page.eval_on_selector("#service-provider", "s => s.value") == ""
        assert page.evaluate(VISIBLE, "#service-store") == [world.property_store]
        assert page.evaluate(VISIBLE, "#service-sku") == [world.property_sku]
        page.select_option("#service-provider", adm)
        assert page.evaluate(VISIBLE, "#service-store") == [world.water_store]
        assert page.evaluate(VISIBLE, "#service-sku") == [world.water_sku]
        assert page.evaluate(VISIBLE, "#service-link") == [world.water_app]
        page.select_option("#service-store", world.water_store)
        page.select_option("#service-sku", world.water_sku)
        form = page.locator("#add-service")
        form.locator("input[name=name]").fill("送水上门")
        form.locator("input[name=price]").fill("12")
        form.locator("#service-sku").scroll_into_view_if_needed()
        screenshot(page, f"catalog-form-{size}-01-picked")
        assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS[size]["width"]
        form.locator("button").click()
        page.wait_for_load_state()
        assert "送水上门" in page.inner_text("body") and "¥12.00" in page.inner_text("body")
        screenshot(page, f"catalog-form-{size}-02-added")
    finally:
        context.close()
    assert problems == []
