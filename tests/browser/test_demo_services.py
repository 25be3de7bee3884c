"""In Chromium on a 390×844 phone: the demo hub's services are real pages. A resident looks up a
risk area, sends a repair request with a bad phone number (the problem shows beside the field),
corrects it and gets the confirmation; a donation drive shows its progress. Screenshots go to
var/screenshots/demo-*.png."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.simulation.test_demo_services import _build
from townsquare.core.settings import Settings
from townsquare.miniapps.models import MiniApp
from townsquare.simulation import demo_city

from .conftest import VIEWPORTS, login, screenshot

pytestmark = pytest.mark.browser


def _app_id(database, name: str) -> str:
    with database.unit_of_work() as db:
        found = db.scalars(select(MiniApp.public_id).where(MiniApp.name == name)).first()
    assert found, name
    return found


def _fits(page) -> None:
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"sideways scrolling on {page.url}: {width}"


def test_a_resident_uses_the_hub_services_on_a_phone(small_server, database, tmp_path, browser):
    _build(database, Settings(data_dir=tmp_path, database_url=database.url))
    context = browser.new_context(locale="zh-CN", viewport=VIEWPORTS["phone"])
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        login(page, small_server, "resident", demo_city.DEMO_PASSWORD)

        # the risk-area lookup, opened through the container as from the hub
        page.goto(f"{small_server}/apps/{_app_id(database, '风险地区查询')}")
        frame = page.frame_locator("#miniapp-frame")
        frame.locator("#entries").wait_for()
        assert "中风险" in frame.locator("#entries").inner_text()
        screenshot(page, "demo-risk-areas-phone")
        src = page.locator("#miniapp-frame").get_attribute("src")
        page.goto(small_server + src)  # the framed page alone, to read all of it
        first = page.locator("#entries li strong").first.inner_text()
        street = re.search(r"区(.+?街道)", first).group(1)
        page.fill("input[name=q]", street)
        page.click(".runtime-search button")
        page.locator("#found").wait_for()
        assert street in page.locator("#entries").inner_text()
        _fits(page)
        screenshot(page, "demo-risk-areas-search-phone")
        page.fill("input[name=q]", "不存在的小区")
        page.click(".runtime-search button")
        assert "低风险地区" in page.locator("#not-found").inner_text()

        # a repair request: a bad phone number is refused beside its field, then it goes through
        page.goto(f"{small_server}/apps/{_app_id(database, '物业报修')}")
        src = page.locator("#miniapp-frame").get_attribute("src")
        page.goto(small_server + src)
        page.select_option("select[name=kind]", "water")
        page.fill("input[name=address]", "3栋2单元501")
        page.fill("textarea[name=problem]", "厨房水龙头漏水")
        page.fill("input[name=phone]", "12345")
        page.select_option("select[name=when]", "morning")
        page.click("#service-form button[type=submit]")
        error = page.locator("#e-phone")
        error.wait_for()
        assert "11位" in error.inner_text()
        assert page.locator("input[name=address]").input_value() == "3栋2单元501"
        _fits(page)
        screenshot(page, "demo-repair-error-phone")
        page.fill("input[name=phone]", "13812345678")
        page.click("#service-form button[type=submit]")
        page.locator("#done").wait_for()
        assert "报修已受理" in page.locator("#done").inner_text()
        assert re.fullmatch(r"[0-9A-Z]{8}", page.locator("#done-ref").inner_text())
        screenshot(page, "demo-repair-done-phone")

        # a donation drive's progress
        page.goto(f"{small_server}/apps/{_app_id(database, '抗疫捐款')}")
        frame = page.frame_locator("#miniapp-frame")
        frame.locator(".progress").wait_for()
        assert int(frame.locator(".progress").get_attribute("aria-valuenow")) > 0
        screenshot(page, "demo-donation-phone")
        page.goto(small_server + page.locator("#miniapp-frame").get_attribute("src"))
        _fits(page)
        screenshot(page, "demo-donation-page-phone")

        # a shop takes an order for delivery; in English the page's own words are English
        page.goto(f"{small_server}/apps/{_app_id(database, '药店送药')}?lang=en")
        page.goto(small_server + page.locator("#miniapp-frame").get_attribute("src"))
        assert "Order for delivery" in page.locator("#service-form h2").inner_text()
        assert "药师" in page.locator("#welcome").inner_text()  # the shop's own words stay
        _fits(page)
        screenshot(page, "demo-pharmacy-en-phone")
    finally:
        context.close()
