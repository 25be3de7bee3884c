"""A visitor pass end to end in Chromium: a verified resident invites a visitor on their phone,
the visitor opens the link with no account, the guard's scanner reads the QR off a phone-sized
screenshot of that page (zxing-cpp, as a scanner reads the phone held up to it), and the guard's
page lets the visitor in inside the window, with the host's room, and refuses the same code
after the window."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import zxingcpp
from PIL import Image

from townsquare.core.clock import clock

from ..community.gate.world import build
from .conftest import VIEWPORTS, login, screenshot

PASSWORD = "correct-horse-9"  # tests/conftest.py's make_user
ZONE = ZoneInfo("Asia/Shanghai")


def test_a_visitor_code_is_allowed_in_its_window_and_refused_after(
    small_server, database, make_user, browser
):
    world = build(database, make_user, name="V")
    base = small_server
    now = clock.now().astimezone(ZONE).replace(second=0, microsecond=0)

    # the host invites on their phone and gets the link
    host = browser.new_context(locale="zh-CN", viewport=VIEWPORTS["phone"])
    try:
        page = host.new_page()
        page.set_default_timeout(15_000)
        login(page, base, world.resident.username, PASSWORD)
        page.goto(f"{base}/community/{world.com}")
        page.click("#visitors-link")
        page.fill("input[name=visitor_name]", "刘访客")
        page.fill("input[name=visitor_phone]", "13912345678")
        page.fill("input[name=purpose]", "探亲")
        page.fill("input[name=starts_at]", (now - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M"))
        page.fill("input[name=ends_at]", (now + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
        page.click("#invite-form button")
        link = page.locator("#visitor-link").input_value()
        assert "/visit/" in link
    finally:
        host.close()

    # the visitor, with no account, opens the link on their phone
    visitor = browser.new_context(locale="zh-CN", viewport=VIEWPORTS["phone"])
    try:
        page = visitor.new_page()
        page.goto(link)
        page.locator("#visit-qr svg").wait_for()
        assert "幸福V区" in page.inner_text("#visit")
        assert page.get_attribute("#visit-state", "data-state") == "valid"
        shot = screenshot(page, "visitor-pass-phone")
        shown = page.get_attribute("#visit-qr", "data-code")
    finally:
        visitor.close()
    decoded = [d.text for d in zxingcpp.read_barcodes(Image.open(shot))]
    assert decoded == [shown], decoded
    code = decoded[0]

    guard = browser.new_context(locale="zh-CN", viewport=VIEWPORTS["phone"])
    try:
        page = guard.new_page()
        page.set_default_timeout(15_000)
        login(page, base, world.guard.username, PASSWORD)
        page.goto(f"{base}/community/{world.com}/gate?gate={world.gate}")
        page.locator("input[name=direction][value=entry]").check()
        result = page.locator("#gate-result")
        page.fill("#gate-input", code)
        page.press("#gate-input", "Enter")
        page.wait_for_selector("#gate-result[data-allowed='1']")
        verdict = result.inner_text()
        assert result.get_attribute("data-visitor") == "1"
        assert "3栋-2单元-301" in verdict and "刘*客" in verdict and "访客" in verdict
        assert "139****5678" in verdict and "13912345678" not in verdict
        screenshot(page, "visitor-pass-guard-allowed")

        # two hours and a bit later the window is over: the same code is refused
        page.click("#gate-clear")
        page.wait_for_selector("#gate-result.idle")
        clock.freeze(clock.now() + timedelta(hours=2, minutes=5))
        page.fill("#gate-input", code)
        page.press("#gate-input", "Enter")
        page.wait_for_selector("#gate-result[data-allowed='0']")
        assert result.get_attribute("data-reasons") == "visitor_late"
        assert "访问时段已结束" in result.inner_text()
        assert "3栋-2单元-301" in result.inner_text()
        screenshot(page, "visitor-pass-guard-refused")
    finally:
        clock.unfreeze()
        guard.close()


def test_offline_the_guard_page_refuses_visitor_codes_and_syncs_the_refusal(
    small_server, database, make_user, browser
):
    """Offline, a device cannot know of a revocation, the day's count or a lockdown: it refuses
    a (genuine) visitor code with its own reason, and the synced refusal needs no review."""
    from sqlalchemy import select

    from townsquare.community.gate import visitors
    from townsquare.community.gate.models import Passage
    from townsquare.core.settings import Settings

    world = build(database, make_user, name="W")
    secret_settings = Settings(secret_key="browser-test-secret-key")  # as small_server's
    now = clock.now()
    with database.unit_of_work() as db:
        created = visitors.create(
            db, actor=world.resident, settings=secret_settings, community_id=world.com,
            visitor_name="刘访客", visitor_phone="13912345678", purpose="",
            starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(hours=1))
    with database.unit_of_work() as db:
        code = visitors.by_token(db, settings=secret_settings, token=created.token).code
    context = browser.new_context(locale="zh-CN", viewport=VIEWPORTS["phone"])
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        login(page, small_server, world.guard.username, PASSWORD)
        page.goto(f"{small_server}/community/{world.com}/gate?gate={world.gate}")
        page.wait_for_function(f"() => localStorage.getItem('ts-gate-keys-{world.com}') !== null")
        page.locator("input[name=direction][value=entry]").check()
        context.set_offline(True)
        page.fill("#gate-input", code)
        page.press("#gate-input", "Enter")
        page.wait_for_selector("#gate-result[data-allowed='0'] .offline-note")
        assert page.get_attribute("#gate-result", "data-reasons") == "visitor_offline"
        assert "访客码需联网核验" in page.inner_text("#gate-result")
        context.set_offline(False)
        page.evaluate("window.dispatchEvent(new Event('online'))")
        page.wait_for_selector("#gate[data-pending='0']")
    finally:
        context.close()
    with database.unit_of_work() as db:
        synced = db.scalar(select(Passage).where(Passage.offline.is_(True)))
        assert synced is not None and not synced.allowed and not synced.needs_review
        assert synced.reasons == ["visitor_offline"] and synced.invitation_id is not None
