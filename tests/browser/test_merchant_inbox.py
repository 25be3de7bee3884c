"""A merchant's inbox in Chromium, at desktop and phone size: the work notifications (a review
decided, a complaint, a new template version), the unread count in the top bar on desktop and on
the 消息 tab on a phone, no sideways scrolling, and opening one goes to its console page and
counts it read. Screenshots go to var/screenshots/ (look at them)."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from tests.miniapps.registry_world import STOREFRONT_DEFAULTS, build_world
from townsquare.core.clock import clock
from townsquare.events import intake
from townsquare.miniapps import registry, review, templates_service
from townsquare.miniapps.models import MiniApp

from .conftest import VIEWPORTS, login, screenshot

pytestmark = pytest.mark.browser


def _merchant_with_news(database, settings) -> tuple[object, str]:
    world = build_world(database)
    with database.unit_of_work() as db:
        created = templates_service.create_from_template(
            db, actor=world.owner, settings=settings, template_id=world.template,
            merchant_id=world.merchant, name="城东鲜果", cities=["武汉"], submit=True)
        first, miniapp_id = created.version.public_id, created.miniapp.public_id
    with database.unit_of_work() as db:
        review.approve(db, actor=world.operator, version_id=first)
        second = registry.new_version(db, actor=world.owner, miniapp_id=miniapp_id,
                                      label="1.1.0")
        review.submit(db, actor=world.owner, settings=settings, version_id=second.public_id)
        second_id = second.public_id
    with database.unit_of_work() as db:
        review.reject(db, actor=world.operator, version_id=second_id,
                      reason="店铺图标与营业执照名称不一致，请更换后重新提交")
        miniapp = db.query(MiniApp).filter_by(public_id=miniapp_id).one()
        intake.record(db, miniapp=miniapp, type="complaint", event_id="c-1",
                      sub="ou_" + "1" * 32, occurred_at=clock.now(),
                      complaint_category="quality")
        templates_service.edit_template(
            db, actor=world.isv_user, template_id=world.template, name="社区小店模板",
            description="几分钟上线的小店", category="grocery",
            defaults={**STOREFRONT_DEFAULTS, "welcome": "欢迎光临，新鲜直达"},
            note="新的欢迎语")
    return world, miniapp_id


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_merchants_inbox(size, database, settings, small_server, page):
    world, miniapp_id = _merchant_with_news(database, settings)
    page.set_viewport_size(VIEWPORTS[size])
    login(page, small_server, world.owner.username, PASSWORD)
    page.goto(f"{small_server}/inbox")
    items = page.locator("#notifications li")
    assert items.count() == 4
    text = page.locator("#notifications").inner_text()
    assert "城东鲜果 1.1.0 未通过审核" in text and "店铺图标与营业执照名称不一致" in text
    assert "城东鲜果 收到新投诉：1 条" in text
    assert "模板「社区小店模板」发布了第 2 版" in text
    assert "城东鲜果 1.0.0 已通过审核并上线" in text
    if size == "desktop":
        page.locator("#inbox-unread").wait_for()
        assert page.locator("#inbox-unread").inner_text() == "4"
    else:
        badge = page.locator("#inbox-unread-tab")
        badge.wait_for()
        assert badge.is_visible() and badge.inner_text() == "4"
        assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS[size]["width"]
    screenshot(page, f"merchant-inbox-{size}")
    # opening the newest goes to its page and counts it read
    items.first.locator("button[name=open]").click()
    page.wait_for_url(f"**/console/miniapps/{miniapp_id}")
    page.goto(f"{small_server}/inbox")
    badge_id = "#inbox-unread" if size == "desktop" else "#inbox-unread-tab"
    page.locator(badge_id).wait_for()
    assert page.locator(badge_id).inner_text() == "3"
    assert page.locator("#notifications li.unread").count() == 3


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_template_pages_after_an_edit_and_a_withdrawal(size, database, settings, small_server,
                                                       page):
    world, miniapp_id = _merchant_with_news(database, settings)
    page.set_viewport_size(VIEWPORTS[size])
    login(page, small_server, world.isv_user.username, PASSWORD)
    page.goto(f"{small_server}/console/isv/{world.isv}/templates?edit={world.template}#edit")
    assert page.locator("#edit-form").is_visible()
    assert "保存为第 3 版" in page.locator("#edit-form").inner_text()
    screenshot(page, f"isv-template-edit-{size}")
    # the merchant is offered the upgrade on its mini-app's page
    page.context.clear_cookies()
    login(page, small_server, world.owner.username, PASSWORD)
    page.goto(f"{small_server}/console/miniapps/{miniapp_id}")
    assert "模板第 2 版已可用" in page.locator("#template").inner_text()
    screenshot(page, f"merchant-template-upgrade-{size}")
    # the ISV withdraws it; the merchant's page says the mini-app keeps working
    page.context.clear_cookies()
    login(page, small_server, world.isv_user.username, PASSWORD)
    page.goto(f"{small_server}/console/isv/{world.isv}/templates")
    row = page.locator(f'tr[data-template="{world.template}"]')
    row.locator("details.withdraw summary").click()
    row.locator("input[name=reason]").fill("不再维护，请改用新模板")
    row.locator("button[name=withdraw]").click()
    page.wait_for_url("**/templates?ok=withdrawn")
    assert page.locator(f'tr[data-template="{world.template}"]').get_attribute(
        "data-status") == "withdrawn"
    screenshot(page, f"isv-templates-withdrawn-{size}")
    page.context.clear_cookies()
    login(page, small_server, world.owner.username, PASSWORD)
    page.goto(f"{small_server}/console/miniapps/{miniapp_id}")
    assert "照常运行" in page.locator("#template-withdrawn").inner_text()
    if size == "phone":
        assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS[size]["width"]
    screenshot(page, f"merchant-template-withdrawn-{size}")
