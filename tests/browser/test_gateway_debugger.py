"""The signature debugger in Chromium: the merchant pastes a request their backend signed with
the wrong string (sign_type left out) and reads why it fails; then a good one verifies. The page
fits a phone. Screenshots go to var/screenshots/."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.conftest import PASSWORD
from tests.gateway import gateway_world
from tests.gateway.test_gateway_http import signed
from townsquare.gateway.protocol import signing

from .conftest import VIEWPORTS, login, screenshot

pytestmark = pytest.mark.browser
METHOD = "townsquare.marketing.points.query"
BIZ = '{"limit":5,"note":"{苹果} & 梨"}'


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_debug_a_signature(viewport, page, small_server, database, settings, make_user):
    world = gateway_world.build(database, settings, make_user, packages=("marketing",))
    params = signed(world, METHOD, biz_content=BIZ)
    wrong = dict(params)  # signed without sign_type, as some hand-written clients do
    wrong["sign"] = signing.sign(signing.load_private_key(world.private_key),
                                 signing.string_to_sign(params, exclude=("sign", "sign_type")))
    page.set_viewport_size(VIEWPORTS[viewport])
    login(page, small_server, world.owner.username, PASSWORD)
    page.goto(f"{small_server}/console/miniapps/{world.miniapp_id}/gateway")
    page.click("#debug-link")
    body = {"biz_content": wrong.pop("biz_content")}
    page.fill("#debug-url", "https://town.example.com/gateway.do?" + urlencode(wrong))
    page.fill("#debug-body", urlencode(body))
    page.click("#debug-submit")
    page.wait_for_selector("#diagnosis")
    assert page.inner_text("#verdict") == "验签失败。"
    assert "漏了 sign_type" in page.inner_text("[data-note]")
    assert page.inner_text("#string-to-sign") == signing.string_to_sign(params)
    assert page.locator("#keys-tried tbody tr").count() == 1
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], "the page scrolls sideways"
    screenshot(page, f"gateway-debugger-{viewport}")
    page.fill("#debug-url", "https://town.example.com/gateway.do?" + urlencode(params))
    page.fill("#debug-body", "")
    page.click("#debug-submit")
    page.wait_for_selector("#diagnosis")
    assert page.inner_text("#verdict") == "验签通过。"
    # the console links the method reference; a method's page fits the screen too
    page.goto(f"{small_server}/console/miniapps/{world.miniapp_id}/gateway")
    page.click("#reference-link")
    page.click("text=townsquare.data.behaviour.batch.upload")
    page.wait_for_selector("#parameters")
    names = page.locator("#parameters tbody tr td:first-child").all_inner_texts()
    assert [name.strip() for name in names] == ["events", "mini_app_id"]
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    screenshot(page, f"gateway-reference-{viewport}")
    assert width[0] <= width[1], "the reference page scrolls sideways"
    screenshot(page, f"gateway-reference-{viewport}")
