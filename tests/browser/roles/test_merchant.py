"""Merchant staff's main job, in Chromium on a desktop and a phone: create a mini-app from a
template, submit it for review, read a listed mini-app's service score, and work the traffic
console: bid on a search keyword, redeem points for an exposure package, see the campaigns (and
why a mini-app may not join) and planned against delivered exposure."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from townsquare.accounts.models import User
from townsquare.merchants.models import Merchant, MerchantStaff
from townsquare.miniapps.models import MiniApp, Template, TemplateStatus
from townsquare.traffic import config as traffic_config
from townsquare.traffic.support import points

pytestmark = pytest.mark.browser
ROLE = "merchant"


def _world(database) -> dict[str, str]:
    """The demo merchant, a published storefront template, its listed mini-app and the cheapest
    exposure package; the operator grants the points the redemption spends (setup: a merchant
    does not do it)."""
    with database.unit_of_work() as db:
        staff = db.scalar(select(User).where(User.username == "merchant"))
        merchant = db.scalars(select(Merchant).join(MerchantStaff).where(
            MerchantStaff.user_id == staff.id).order_by(Merchant.id)).first()
        template = db.scalars(select(Template).where(
            Template.status == TemplateStatus.PUBLISHED, Template.runtime == "storefront")
            .order_by(Template.id)).first()
        listed = db.scalars(select(MiniApp).where(MiniApp.merchant_id == merchant.id,
                                                  MiniApp.listed).order_by(MiniApp.id)).first()
        package = min(traffic_config.active(db).packages, key=lambda p: p.points)
        operator = db.scalar(select(User).where(User.username == "operator"))
        points.adjust(db, actor=operator, merchant_public_id=merchant.public_id,
                      delta=package.points, reason="浏览器测试：兑换用积分")
        return {"merchant": merchant.public_id, "template": template.public_id,
                "listed": listed.public_id, "listed_name": listed.name,
                "package": package.code}


def test_merchant_creates_submits_and_works_traffic(walk, demo_server):
    world = _world(demo_server[1])
    page = walk.page
    name = f"行走小店{'手机' if walk.phone else '电脑'}"
    keyword = f"鲜果{'手机' if walk.phone else '电脑'}"

    walk.login("merchant")
    walk.open_console("/console/merchant")
    assert page.locator(f"main a[href='/console/merchant/{world['merchant']}']").count() >= 1
    walk.step("console")

    # Mini-apps → a template → its form (prefilled with the template's defaults) → create.
    page.locator(f"main a[href='/console/merchant/{world['merchant']}/miniapps']").click()
    page.wait_for_url(re.compile(r"/miniapps$"))
    page.locator(f"a.tile[data-template={world['template']}]").click()
    form = page.locator("#template-form")
    form.wait_for()
    walk.step("template")
    form.locator("input[name=name]").fill(name)
    form.locator("input[name=submit_now]").uncheck()  # submitted by hand below
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/console/miniapps/ma_"))
    assert name in walk.heading()
    assert page.locator("#submit-form").is_visible()
    walk.step("created")

    # Submit the draft: the lane and the decision deadline are shown.
    page.locator("#submit-form button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("#submit-form").count() == 0
    assert page.locator("#versions td .badge").first.is_visible()
    assert page.locator("#versions").get_by_text(re.compile("审核中|已提交")).first.is_visible()
    walk.step("submitted")

    # A listed mini-app's service score page, from its console page.
    page.locator("main p.muted a[href$='/miniapps']").first.click()
    page.locator(f"#miniapps tr[data-miniapp={world['listed']}] a").click()
    page.locator("#score-link").click()
    page.wait_for_url(re.compile(r"/score$"))
    assert world["listed_name"] in walk.heading()
    assert page.locator("#pillars").is_visible()
    walk.step("score")

    # The traffic console, from the merchant's page.
    walk.goto(f"/console/merchant/{world['merchant']}")
    page.locator("#traffic-link").click()
    page.wait_for_url(re.compile(r"/traffic$"))
    assert page.locator("#source-totals").is_visible()
    # each open campaign shows each mini-app as enrolled, with an enrol button, or with the
    # reason it may not join
    campaign = page.locator("#campaigns div[data-campaign]").first
    offers = campaign.locator("li")
    assert offers.count() >= 1
    for i in range(offers.count()):
        offer = offers.nth(i)
        enrolled = offer.locator(".badge.ok").count() == 1
        can_enrol = offer.locator("button").count() == 1
        why_not = offer.locator(".badge.bad").count() == 1 and bool(
            offer.locator(".muted").inner_text().strip())
        assert enrolled or can_enrol or why_not, offer.inner_text()
    assert page.locator("#promises").is_visible()
    walk.step("traffic")

    # Bid on a search keyword with a daily budget (in yuan).
    bid_form = page.locator("#bids form.stack")
    bid_form.locator("select[name=target_kind]").select_option("keyword")
    bid_form.locator("input[name=target]").fill(keyword)
    bid_form.locator("input[name=max_cpc]").fill("0.80")
    bid_form.locator("input[name=daily_budget]").fill("30")
    bid_form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    row = page.locator("#bid-list tr[data-bid]", has_text=keyword)
    assert row.is_visible() and "¥0.80" in row.inner_text() and "¥30.00" in row.inner_text()
    walk.step("bid")

    # Redeem the cheapest package: the balance drops and the redemption is listed.
    before = int(page.locator("#points-balance").inner_text())
    redeem = page.locator("#points form.stack")
    redeem.locator("select[name=package]").select_option(world["package"])
    redeem.locator("button[type=submit]").click()
    page.wait_for_load_state()
    after = int(page.locator("#points-balance").inner_text())
    assert after < before, (before, after)
    assert page.locator("#redemptions tr[data-redemption]").count() >= 1
    # consoles show labels, never codes (issue 11 item 8): the package and the earning rules
    ledger = page.locator("#points").inner_text()
    for code in (world["package"], "store_pickup", "on_time_streak", "quick_replies"):
        assert code not in ledger, code
    walk.step("redeemed")
