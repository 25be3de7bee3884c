"""The platform operator's main job, in Chromium on a desktop and a phone: work the review queue
(filter it, approve one version, reject another with a reason), put a listed mini-app into a hub
section with the search picker, run a scoring cycle, run the traffic planner and read the
traffic console."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from townsquare.miniapps.models import HubEntry, HubSection, MiniApp

pytestmark = pytest.mark.browser
ROLE = "operator"


def _hub_pick(database, phone: bool) -> dict[str, str]:
    """The first hub section and a listed mini-app that is not in it yet (one per viewport)."""
    with database.unit_of_work() as db:
        section = db.scalars(select(HubSection)
                             .order_by(HubSection.position, HubSection.id)).first()
        inside = select(HubEntry.miniapp_id).where(HubEntry.section_id == section.id)
        apps = db.scalars(select(MiniApp).where(MiniApp.listed, MiniApp.id.not_in(inside))
                          .order_by(MiniApp.id).limit(2)).all()
        app = apps[0 if phone else 1]
        return {"section": section.public_id, "app": app.public_id, "name": app.name}


def test_operator_reviews_curates_scores_and_plans(walk, demo_server):
    pick = _hub_pick(demo_server[1], walk.phone)
    page = walk.page

    walk.login("operator")
    walk.open_console("/console/operator")
    waiting = int(page.locator("#count-reviews").inner_text())
    assert waiting >= 2
    walk.step("console")

    # The review queue, filtered to the overdue versions.
    page.locator("main a.tile[href='/console/operator/reviews']").click()
    filters = page.locator("#queue-filters")
    filters.locator("input[name=overdue]").check()
    filters.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"overdue=1"))
    rows = page.locator("#queue tr[data-version]")
    assert rows.count() >= 2
    assert rows.count() == page.locator("#queue tr[data-version].overdue").count()
    walk.step("queue-overdue")

    # Approve the first; it leaves the queue.
    first = rows.first.get_attribute("data-version")
    rows.first.locator("form.approve-form button").click()
    page.wait_for_load_state()
    assert page.locator(f"#queue tr[data-version={first}]").count() == 0
    walk.step("approved")

    # Reject the next with a reason; it leaves the queue, and its page shows the reason.
    row = page.locator("#queue tr[data-version]").first
    rejected = row.get_attribute("data-version")
    app_link = row.locator("a[href^='/console/miniapps/']").first.get_attribute("href")
    row.locator("form.reject-form input[name=reason]").fill("页面截图与描述不符，请补充营业执照")
    row.locator("form.reject-form button").click()
    page.wait_for_load_state()
    assert page.locator(f"#queue tr[data-version={rejected}]").count() == 0
    walk.step("rejected")
    walk.goto(app_link)
    reason = page.locator(f"#versions tr[data-version={rejected}] td.reason")
    assert "营业执照" in reason.inner_text()
    walk.step("rejected-reason")

    # The hub editor: search a listed mini-app in a section's picker and add it.
    walk.goto("/console/operator")
    page.locator("main a.tile[href='/console/operator/hub']").click()
    section = page.locator(f"section[data-section={pick['section']}]")
    section.locator("input[name=q]").fill(pick["name"])
    choice = section.locator(f"li[data-choice={pick['app']}]")
    choice.wait_for()
    walk.step("hub-picker")
    choice.locator("button[type=submit]").click()
    page.wait_for_load_state()
    added = page.locator(f"section[data-section={pick['section']}] tr[data-miniapp={pick['app']}]")
    assert added.is_visible()
    walk.step("hub-added")

    # Service scoring: run a cycle as of today; it is listed, and the score list is there.
    walk.goto("/console/operator")
    page.locator("main a.tile[href='/console/operator/scoring']").click()
    cycles = page.locator("#run tr[data-cycle]")
    before = cycles.count()
    page.locator("#run button[name=run]").click()
    page.wait_for_load_state()
    assert page.locator("main p.flash").first.is_visible()
    assert cycles.count() >= max(before, 1)
    assert page.locator("#score-list tbody tr").count() >= 1
    walk.step("scoring-run")

    # Traffic: run the planner; the plan, supply against demand and concentration are shown.
    walk.goto("/console/operator")
    page.locator("main a.tile[href='/console/operator/traffic']").click()
    page.locator("#plan button[name=run]").click()
    page.wait_for_load_state()
    assert page.locator("#plan-summary[data-plan]").is_visible()
    assert page.locator("#supply table").first.is_visible()
    assert re.fullmatch(r"0\.\d{3}", page.locator("#gini").inner_text().strip())
    walk.step("traffic-planned")
