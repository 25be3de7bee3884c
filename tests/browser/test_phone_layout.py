"""Every resident page on a 390×844 phone, in Chromium, on the demo city: no sideways
scrolling, the tab bar (首页 · 消息 · 订单 · 我的) visible, the top bar's search box wide enough
to type in, the user's name on one line; and no developer or platform jargon (codes, raw
booleans, launch-ticket notes, guarantee wording) in what a resident reads, in the page or in the
mini-app it frames. Screenshots go to var/screenshots/."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from townsquare.community.models import Community
from townsquare.miniapps.models import MiniApp
from townsquare.simulation import demo_city
from townsquare.traffic.models import Channel, Topic

from .conftest import SCREENSHOTS, VIEWPORTS, login, screenshot

pytestmark = pytest.mark.browser

# What a resident must never read: platform jargon and raw codes (issue 11 item 8).
JARGON = ("启动凭证", "保障曝光", "feed_small", "store_pickup", "True", "False", "None",
          "guarantee", "cold_start", "launch ticket", "ma_", "com_", "slot")


def _pages(database) -> list[tuple[str, str]]:
    """The resident's pages, with real ids from the demo city."""
    with database.unit_of_work() as db:
        channel = db.scalars(select(Channel.slug).order_by(Channel.id)).first()
        topic = db.scalars(select(Topic.slug).order_by(Topic.id)).first()
        app = db.scalars(select(MiniApp.public_id).where(MiniApp.listed)
                         .order_by(MiniApp.id)).first()
        community = db.scalars(select(Community.public_id).order_by(Community.id)).first()
    assert channel and topic and app and community
    return [
        ("home", "/"), ("search", "/search?q=买菜"), ("channel", f"/channels/{channel}"),
        ("topic", f"/topics/{topic}"), ("app", f"/apps/{app}"), ("me", "/me"),
        ("inbox", "/inbox"), ("consents", "/me/consents"),
        ("orders", "/me/orders"), ("addresses", "/me/addresses"),
        ("wallet", "/me/wallet"), ("bill", "/me/bill"), ("payment-code", "/me/wallet/code"),
        ("community", f"/community/{community}"), ("code", f"/community/{community}/code"),
        ("declare", f"/community/{community}/declare"),
        ("notices", f"/community/{community}/notices"),
        ("fee-bills", f"/community/{community}/bills"),  # issue 18
        ("repairs", f"/community/{community}/repairs"),  # community-repairs
    ]


CHECK = """() => {
  const bar = document.querySelector('nav.tabbar');
  const search = document.querySelector('.topbar .search input');
  const me = document.querySelector('.topbar .me');
  const lineHeight = me ? parseFloat(getComputedStyle(me).lineHeight) || 24 : 0;
  return {
    scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
    bar: bar ? getComputedStyle(bar).display !== 'none'
      && bar.getBoundingClientRect().height > 30 : false,
    tabs: bar ? Array.from(bar.querySelectorAll('a .tab-label')).map(a => a.innerText.trim()) : [],
    search: search ? search.getBoundingClientRect().width : 0,
    me: me ? me.getBoundingClientRect().height : null, lineHeight: lineHeight,
    text: document.body.innerText,
  };
}"""


def test_every_resident_page_fits_a_phone(live_server, database, browser):
    pages = _pages(database)
    context = browser.new_context(locale="zh-CN", viewport=VIEWPORTS["phone"])
    problems: list[str] = []
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        login(page, live_server, "resident", demo_city.DEMO_PASSWORD)
        for name, path in pages:
            response = page.goto(live_server + path)
            assert response is not None and response.ok, (path, response and response.status)
            page.wait_for_load_state("networkidle")
            seen = page.evaluate(CHECK)
            if page.locator("#miniapp-frame").count():  # what the mini-app itself shows, too
                frame = page.frame_locator("#miniapp-frame").locator("body")
                seen["text"] += "\n" + frame.inner_text()
            screenshot(page, f"phone-{name}")
            if seen["scroll"] > seen["inner"]:
                problems.append(f"{path}: scrolls sideways ({seen['scroll']} > {seen['inner']})")
            if not seen["bar"]:
                problems.append(f"{path}: no tab bar")
            elif seen["tabs"] != ["首页", "消息", "订单", "我的"]:
                problems.append(f"{path}: tabs {seen['tabs']}")
            if seen["search"] < 120:
                problems.append(f"{path}: search box {seen['search']} px wide")
            if seen["me"] is not None and seen["me"] > 1.6 * seen["lineHeight"]:
                problems.append(f"{path}: the user's name wraps ({seen['me']} px high)")
            for word in JARGON:
                if word in seen["text"]:
                    problems.append(f"{path}: shows {word!r}")
    finally:
        context.close()
    (SCREENSHOTS / "phone-problems.txt").write_text("\n".join(problems) + "\n", encoding="utf-8")
    assert not problems, "\n".join(problems)


def test_the_tab_bar_is_for_phones_only(live_server, browser):
    context = browser.new_context(locale="zh-CN", viewport=VIEWPORTS["desktop"])
    try:
        page = context.new_page()
        login(page, live_server, "resident", demo_city.DEMO_PASSWORD)
        page.goto(live_server + "/")
        assert not page.locator("nav.tabbar").is_visible()
        assert page.locator(".topbar .search input").bounding_box()["width"] > 200
        screenshot(page, "desktop-home")
    finally:
        context.close()
