"""The anti-fraud review queue in Chromium at phone and desktop size, on a small simulated market
with a brushing and a fake-ratings cheater: the queue lists them, a review shows its evidence
tables, an operator confirms one with a reason, and nothing scrolls sideways on a phone.
Screenshots go to var/screenshots/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from tests.miniapps.shell_data import make_miniapp
from townsquare.accounts.models import Role
from townsquare.core.clock import clock
from townsquare.miniapps.models import MiniApp
from townsquare.scoring.integrity import reviews
from townsquare.simulation import market
from townsquare.simulation.cheaters import Cheats

from .conftest import VIEWPORTS, login, screenshot

pytestmark = pytest.mark.browser
PASSWORD = "correct-horse-9"  # tests/conftest.py's make_user
NOW = datetime(2026, 3, 10, 8, tzinfo=UTC)


def _market(database, settings) -> list[int]:
    clock.freeze(NOW)
    for _ in range(12):
        make_miniapp(database)
    with database.unit_of_work() as db:
        ids = list(db.scalars(select(MiniApp.id).order_by(MiniApp.id)))
        db.execute(update(MiniApp).values(created_at=NOW - timedelta(days=90)))
        cheats = Cheats(kind={ids[0]: "brushing", ids[1]: "fake_ratings"})
        market.simulate_history(db, settings=settings, days=28, seed=3,
                                events_per_app_day=60, cheats=cheats)
    clock.unfreeze()
    with database.unit_of_work() as db:
        reviews.detect(db, as_of=NOW.date() - timedelta(days=1), actor=None)
    return ids


def test_the_queue_on_a_phone_and_a_desktop(small_server, database, settings, make_user,
                                           browser):
    ids = _market(database, settings)
    operator = make_user(Role.OPERATOR)
    for size, viewport in VIEWPORTS.items():
        context = browser.new_context(locale="zh-CN", viewport=viewport)
        page = context.new_page()
        page.set_default_timeout(15_000)
        login(page, small_server, operator.username, PASSWORD)
        page.goto(f"{small_server}/console/operator/integrity")
        rows = page.locator("#review-list tbody tr[data-review]")
        assert rows.count() >= 2
        assert "刷单团伙" in page.inner_text("#review-list")
        screenshot(page, f"integrity-queue-{size}")
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        with database.unit_of_work() as db:
            brusher = db.scalar(select(MiniApp.name).where(MiniApp.id == ids[0]))
        page.click(f"#review-list a:text('{brusher}')")
        page.wait_for_selector("section[data-signal='self_purchase'] table.evidence")
        assert "员工本人" in page.inner_text("section[data-signal='self_purchase']")
        screenshot(page, f"integrity-review-{size}")
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        if size == "desktop":
            page.fill("#decide textarea[name=reason]", "员工账号反复下单后退款")
            page.click("#decide button[value=confirm]")
            page.wait_for_selector(".flash")
            assert "已确认标记" in page.inner_text("main")
            screenshot(page, "integrity-confirmed-desktop")
        context.close()
