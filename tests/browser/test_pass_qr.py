"""Pass codes as a person meets them: the page in a real Chromium at phone and desktop sizes,
screenshotted, the QR read from the screenshot by zxing-cpp, and the payload checked to be the
code the server issued and one the gate accepts (the guard's decision allows it)."""

from __future__ import annotations

import pytest
import zxingcpp
from PIL import Image

from townsquare.community.gate.decision import decide
from townsquare.community.gate.models import Direction
from townsquare.core.settings import Settings

from ..community.gate.world import build
from ..conftest import PASSWORD
from .conftest import VIEWPORTS, login, screenshot

pytestmark = pytest.mark.browser
# the household code goes out, then the personal code comes back in: both must be allowed
KINDS = (("household", Direction.EXIT), ("person", Direction.ENTRY))


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_the_pass_codes_on_the_page_scan_to_the_issued_codes(
    small_server, database, make_user, browser, viewport
):
    world = build(database, make_user)
    size = VIEWPORTS[viewport]
    context = browser.new_context(locale="zh-CN", viewport=size)
    shots: list[tuple[str, str, Direction]] = []
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        login(page, small_server, "resA", PASSWORD)
        for kind, direction in KINDS:
            page.goto(f"{small_server}/community/{world.com}/code?kind={kind}")
            qr = page.locator("#pass-qr svg.qr")
            qr.wait_for()
            issued = page.locator("#pass-qr").get_attribute("data-code")
            box = qr.bounding_box()
            # the whole square is on screen, at a size a gate scanner reads from arm's length
            assert box and box["width"] >= 200 and abs(box["width"] - box["height"]) < 1
            assert box["x"] >= 0 and box["x"] + box["width"] <= size["width"]
            page.wait_for_load_state("networkidle")
            shot = screenshot(page, f"pass-code-{kind}-{viewport}")
            # the page swaps in a fresh code every minute: the screenshot shows the code of now
            assert page.locator("#pass-qr").get_attribute("data-code") == issued
            shots.append((str(shot), issued or "", direction))
    finally:
        context.close()

    settings = Settings(secret_key="browser-test-secret-key")  # as the served app's
    for shot, issued, direction in shots:
        decoded = zxingcpp.read_barcodes(Image.open(shot))
        assert [(d.format, d.text) for d in decoded] == [(zxingcpp.BarcodeFormat.QRCode, issued)], (
            shot, [d.text for d in decoded])
        with database.unit_of_work() as db:
            verdict = decide(
                db, actor=world.guard, settings=settings, community_id=world.com,
                gate_id=world.gate, code=decoded[0].text, direction=direction,
                member_id=world.head if direction is Direction.EXIT else None,  # who goes out
            )
        assert verdict.allowed, (direction, verdict.reasons)
