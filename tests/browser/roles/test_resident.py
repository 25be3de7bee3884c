"""The resident's main job, in Chromium on a desktop and a phone: find a service on the home
page, in the community channel and by search; open it (the mini-app gets a launch context); share
the phone number when the mini-app asks, and see it among the consents; open the community pass
from the hub, subscribe to its reminders, show the pass code, and read the inbox."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from townsquare.community.models import Community
from townsquare.merchants.models import Brand, BrandStatus
from townsquare.miniapps.models import MiniApp

pytestmark = pytest.mark.browser
ROLE = "resident"


def _world(database) -> dict[str, str]:
    """A certified brand's listed mini-app (to search for) and the resident's community pass."""
    with database.unit_of_work() as db:
        brand = db.scalars(select(Brand).where(Brand.status == BrandStatus.CERTIFIED)
                           .order_by(Brand.id)).first()
        app = db.scalars(select(MiniApp).where(MiniApp.merchant_id == brand.merchant_id,
                                               MiniApp.listed).order_by(MiniApp.id)).first()
        community = db.scalars(select(Community).order_by(Community.id)).first()
        pass_app = db.get(MiniApp, community.pass_miniapp_id)
        return {"app": app.public_id, "name": app.name, "community": community.public_id,
                "community_name": community.name, "pass": pass_app.public_id}


def test_resident_finds_opens_consents_and_shows_the_pass(walk, demo_server):
    world = _world(demo_server[1])
    page = walk.page

    # Home: the curated hub and the feed recommended for the city.
    walk.login("resident")
    assert page.locator("section.hub-section").count() >= 5
    assert page.locator("section#feed a.feed-item").count() >= 3
    walk.step("home")

    # The community-life channel, linked from the home page.
    page.locator("main a[href^='/channels/']").first.click()
    page.wait_for_url(re.compile(r"/channels/"))
    assert page.locator("a.feed-item").count() >= 1
    walk.step("channel")

    # Search from the top bar for a certified brand's service by its name.
    box = page.locator(".topbar .search input")
    box.fill(world["name"])
    box.press("Enter")
    page.wait_for_url(re.compile(r"/search\?"))
    result = page.locator(f"li.result[data-miniapp={world['app']}]")
    assert result.is_visible()
    walk.step("search")

    # Open it: the container frames the mini-app with a launch context in its address.
    result.locator("a").first.click()
    page.wait_for_url(re.compile(rf"/apps/{world['app']}$"))
    assert page.locator("#miniapp-name").inner_text().strip() == world["name"]
    frame = page.locator("#miniapp-frame")
    assert "ts_launch=" in (frame.get_attribute("src") or "")
    page.frame_locator("#miniapp-frame").locator("body").wait_for()
    walk.step("open")

    # The mini-app asks for the phone number (its postMessage to the shell); the shell shows
    # the consent page; the resident allows it and sees it under 我的 → shared with mini-apps.
    page.frame(name=None, url=re.compile(r".*ts_launch=.*")).evaluate(
        "window.parent.postMessage({type: 'townsquare.consent', scopes: 'phone'}, '*')")
    page.wait_for_url(re.compile(rf"/apps/{world['app']}/consent"))
    assert page.locator("#consent-scopes li[data-scope=phone]").is_visible()
    walk.step("consent")
    page.click("#consent-allow")
    page.wait_for_url(re.compile(rf"/apps/{world['app']}($|\?)"))
    assert page.locator("main a[href='/me/consents']").is_visible()
    walk.step("shared")
    if walk.phone:
        page.locator(".tabbar a[href='/me']").click()
    else:
        page.locator(".topbar a.me").click()
    page.locator("main a[href='/me/consents']").first.click()
    assert page.locator(f"#consents tr[data-miniapp={world['app']}]").is_visible()
    walk.step("consents")

    # The community pass from the hub's 社区服务 section, then the household's page.
    page.locator(".tabbar a[href='/']" if walk.phone else ".topbar a.brand").click()
    page.locator(f"section.hub-section a.tile[data-miniapp={world['pass']}]").first.click()
    page.wait_for_url(re.compile(rf"/apps/{world['pass']}"))
    page.frame_locator("#miniapp-frame").locator("#pass-home").click()
    page.wait_for_url(re.compile(rf"/community/{world['community']}$"))
    assert world["community_name"] in walk.heading()
    assert page.locator("#household-status").is_visible()
    walk.step("community")

    # Subscribe to the reminders: the page confirms it.
    page.click("#subscribe-reminders")
    page.wait_for_url(re.compile(r"subscribed="))
    assert page.locator("main p.flash").first.is_visible()
    walk.step("subscribed")

    # The household pass code: a square QR code big enough to scan.
    page.click("#my-code")
    page.wait_for_url(re.compile(rf"/community/{world['community']}/code"))
    qr = page.locator("#pass-qr svg").bounding_box()
    assert qr and qr["width"] >= 200 and abs(qr["width"] - qr["height"]) < 2, qr
    walk.step("code")

    # The inbox, from the tab bar on a phone and the top bar on a desktop.
    page.locator(".tabbar a[href='/inbox']" if walk.phone else "#inbox-link").click()
    page.wait_for_url(re.compile(r"/inbox$"))
    assert page.locator("ul.inbox li[data-message]").count() >= 1
    walk.step("inbox")
