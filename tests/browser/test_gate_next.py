"""The guard's 下一位 (next person) clears the previous verdict from the screen entirely."""

from __future__ import annotations

import pytest

from townsquare.community.gate.issuing import issue_code
from townsquare.core.settings import Settings

from ..community.gate.world import build
from ..conftest import PASSWORD
from .conftest import login, screenshot

pytestmark = pytest.mark.browser


def test_next_person_clears_the_previous_verdict(small_server, database, make_user, page):
    world = build(database, make_user)
    settings = Settings(secret_key="browser-test-secret-key")  # as the served app's
    with database.unit_of_work() as db:
        code = issue_code(db, actor=db.merge(world.resident), settings=settings,
                          community_id=world.com, kind="person").code
    login(page, small_server, "guardA", PASSWORD)
    page.goto(f"{small_server}/community/{world.com}/gate?gate={world.gate}")
    page.fill("#gate-input", code)
    page.press("#gate-input", "Enter")
    result = page.locator("#gate-result")
    page.wait_for_selector("#gate-result[data-allowed='1']")
    assert "放行" in result.inner_text() and "3栋-2单元-301" in result.inner_text()

    page.click("#gate-clear")
    page.wait_for_selector("#gate-result.idle")
    text = result.inner_text()
    screenshot(page, "gate-next-person")
    assert "放行" not in text and "301" not in text and "绿码" not in text, text
    assert text.strip() == "等待扫码…"
    assert result.get_attribute("data-allowed") is None
    assert result.get_attribute("data-reasons") is None
