"""ISV staff's main job, in Chromium on a desktop and a phone: create an information-page
template with its default settings, publish it, and see the merchants that authorize the
provider and the mini-apps the provider built for them."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser
ROLE = "isv"


def test_isv_publishes_a_template_and_sees_its_merchants(walk):
    page = walk.page
    name = f"社区公告模板{'手机' if walk.phone else '电脑'}"

    walk.login("isv")
    walk.open_console("/console/isv")
    provider = page.locator("main section[data-provider]").first
    merchants = provider.locator("tr[data-merchant]")
    assert merchants.count() >= 1
    walk.step("console")

    # Templates → a new information page, with its defaults → created as a draft.
    provider.locator("a[href$='/templates']").click()
    page.wait_for_url(re.compile(r"/templates"))
    page.locator("a[data-runtime=info]").click()
    form = page.locator("#template-form")
    form.wait_for()
    form.locator("input[name=name]").fill(name)
    form.locator("textarea[name=description]").fill("小区通知、停水停电和活动安排，一页看全。")
    form.locator("input[name=cfg_headline]").fill("小区公告")
    form.locator("textarea[name=cfg_body]").fill("本周六上午九点在中心广场举行义诊活动。")
    walk.step("new-template")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    row = page.locator("tr[data-template]", has_text=name)
    assert row.is_visible()
    walk.step("created")

    # Publish it: merchants can now make mini-apps from it.
    row.locator("button[name=publish]").click()
    page.wait_for_load_state()
    row = page.locator("tr[data-template]", has_text=name)
    assert row.locator(".badge.ok").is_visible()
    assert row.locator("button[name=publish]").count() == 0
    walk.step("published")

    # Back on the provider console: a merchant that authorized us, and its mini-apps, where
    # those the provider built say so.
    page.locator("main p.muted a[href='/console/isv']").click()
    page.wait_for_url(re.compile(r"/console/isv$"))
    merchant = page.locator("main section[data-provider] tr[data-merchant]").first
    merchant_name = merchant.locator("td").first.inner_text().split("\n")[0].strip()
    merchant.locator("a[href$='/miniapps']").click()
    page.wait_for_url(re.compile(r"/console/merchant/mer_\w+/miniapps"))
    assert merchant_name.split(" ")[0] in walk.heading()
    assert page.locator("#miniapps tr[data-miniapp]").count() >= 1
    walk.step("merchant-miniapps")
