"""The gate guard's main job, in Chromium on a desktop and a phone: open the gate's scanning
screen, read a resident's pass code with a keyboard-wedge scanner (it types the QR's text and
Enter), see the verdict, clear it with 下一位 (next person), and see a forged code denied with
its reason.

The code is the one the demo resident's page shows, read from a screenshot of that page with
zxing-cpp, as a scanner would read the phone held up to it."""

from __future__ import annotations

import re

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select

from townsquare.community.models import Community

from ..conftest import VIEWPORTS, login, screenshot

pytestmark = pytest.mark.browser
ROLE = "guard"


def _resident_code(browser, base: str, community: str, viewport: str) -> str:
    """The demo resident shows their personal code; the scanner reads it off the screen."""
    context = browser.new_context(locale="zh-CN", viewport=VIEWPORTS["phone"])
    try:
        page = context.new_page()
        login(page, base, "resident", "townsquare-demo")
        page.goto(f"{base}/community/{community}/code?kind=person")
        page.locator("#pass-qr svg").wait_for()
        shot = screenshot(page, f"guard-{viewport}-00-resident-code")
        issued = page.locator("#pass-qr").get_attribute("data-code")
    finally:
        context.close()
    decoded = [d.text for d in zxingcpp.read_barcodes(Image.open(shot))]
    assert decoded == [issued], decoded
    return decoded[0]


def test_guard_scans_allows_clears_and_denies(walk, browser, demo_server):
    base, database = demo_server
    with database.unit_of_work() as db:
        community = db.scalars(select(Community).order_by(Community.id)).first().public_id
    code = _resident_code(browser, base, community, walk.viewport)
    page = walk.page
    # going out on the phone run, coming back in on the desktop run (a second exit the same
    # day would be refused by the exit quota, which is right, but not this walk's point)
    direction = "exit" if walk.phone else "entry"

    walk.login("guard")
    walk.open_console("/community/staff")
    page.locator(f"main a[href='/community/{community}/gate']").click()
    page.wait_for_url(re.compile(r"/gate"))
    if page.locator("main a.tile[href^='?gate=']").count():  # more than one post: pick one
        page.locator("main a.tile[href^='?gate=']").first.click()
    page.locator("#gate-input").wait_for()
    result = page.locator("#gate-result")
    assert result.inner_text().strip() == "等待扫码…"
    walk.step("ready")

    # The scanner types the code and Enter: allowed, with the room, and no ID number.
    page.locator(f"input[name=direction][value={direction}]").check()
    page.fill("#gate-input", code)
    page.press("#gate-input", "Enter")
    page.wait_for_selector("#gate-result[data-allowed='1']")
    verdict = result.inner_text()
    assert result.locator("h2.verdict").inner_text().startswith("✅") and "放行" in verdict
    assert not re.search(r"\d{17}[\dX]", verdict)  # never an ID number
    walk.step("allowed")

    # 下一位 clears the verdict for the next person.
    page.click("#gate-clear")
    page.wait_for_selector("#gate-result.idle")
    assert result.inner_text().strip() == "等待扫码…"
    walk.step("next")

    # A forged code: denied, with the reason.
    page.fill("#gate-input", code[:-6] + ("AAAAAA" if not code.endswith("AAAAAA") else "BBBBBB"))
    page.press("#gate-input", "Enter")
    page.wait_for_selector("#gate-result[data-allowed='0']")
    assert result.get_attribute("data-reasons")
    assert result.locator("h2.verdict").inner_text().startswith("⛔")
    assert result.locator("li.reason").count() >= 1
    walk.step("denied")
    page.click("#gate-clear")
    page.wait_for_selector("#gate-result.idle")
