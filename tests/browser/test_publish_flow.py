"""The platform core end to end in Chromium: a merchant creates a mini-app from a template and
submits it; an operator approves it from the queue and puts it in the hub; a resident finds it in
the hub and opens it, and the mini-app receives a launch context that verifies."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

import httpx

from townsquare.miniapps.shell import launch
from townsquare.simulation import demo_city

NAME = "浏览器测试鲜果铺"


def _session(browser, base_url: str, username: str):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{base_url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", demo_city.DEMO_PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_load_state()
    return context, page


def test_merchant_to_operator_to_resident(live_server, browser):
    # The merchant creates a mini-app from the storefront template and submits it.
    context, page = _session(browser, live_server, "merchant")
    page.goto(f"{live_server}/console/merchant")
    page.locator("a[href$='/miniapps']").first.click()
    page.locator("a.tile[data-template]", has_text="社区小店模板").click()
    page.fill("#template-form input[name=name]", NAME)
    page.click("#template-form button[type=submit]")
    # a template mini-app has no backend, so no client secret: straight to its page
    page.wait_for_url(re.compile(r"/console/miniapps/ma_"))
    assert "请立即复制密钥" not in page.content() and "flash ok" in page.content()
    miniapp_id = re.search(r"ma_[0-9a-z]+", page.url).group(0)
    assert "已提交" in page.content() or "submitted" in page.content()
    context.close()

    # The operator approves it from the queue (publish-on-approval lists it) and adds it to the hub.
    context, page = _session(browser, live_server, "operator")
    page.goto(f"{live_server}/console/operator/reviews")
    page.fill("#queue-filters input[name=q]", NAME)  # the demo queue is paged: search for it
    page.click("#queue-filters button[type=submit]")
    page.wait_for_load_state()
    row = page.locator("tr[data-version]", has_text=NAME)
    row.locator("form.approve-form button").click()
    page.wait_for_load_state()
    assert page.locator("tr[data-version]", has_text=NAME).count() == 0
    page.goto(f"{live_server}/console/operator/hub")
    first_section = page.locator("section[data-section]").first
    first_section.locator("input[name=q]").fill(NAME)  # the search picker, live through htmx
    choice = first_section.locator(f"li[data-choice={miniapp_id}]")
    choice.wait_for()
    choice.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator(f"tr[data-miniapp={miniapp_id}]").count() == 1
    context.close()

    # A resident finds it on the home page and opens it.
    context, page = _session(browser, live_server, "resident")
    page.goto(f"{live_server}/")
    page.locator(f"a.tile[data-miniapp={miniapp_id}]").click()
    page.wait_for_url(re.compile(rf"/apps/{miniapp_id}"))
    status = page.frame_locator("#miniapp-frame").locator("#launch-status")
    status.wait_for(state="attached")
    sub = status.get_attribute("data-sub")
    src = page.locator("#miniapp-frame").get_attribute("src")
    context.close()

    # What the mini-app received verifies with the platform's published public keys.
    token = parse_qs(urlsplit(src).query)["ts_launch"][0]
    keys = launch.keys_from_text(httpx.get(f"{live_server}/api/launch/keys").json())
    verified = launch.verify(token, keys, app=miniapp_id, now=time.time(), max_age=300)
    assert verified.sub == sub and sub.startswith("ou_")
