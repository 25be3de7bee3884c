"""The repair technician's main job (community-repairs), in Chromium on a desktop and a phone:
reach the work list from the community console, open a ticket, take it one step on, and have a
bad charge refused beside its field."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser
ROLE = "technician"


def test_technician_moves_a_ticket_on(walk):
    page = walk.page
    walk.login("technician")
    walk.open_console("/community/staff")
    page.locator("main a[href='/community/repairs/work']").first.click()
    page.wait_for_url(re.compile(r"/community/repairs/work$"))
    tasks = page.locator("a.repair-task")
    assert tasks.count() >= 4  # the demo's assigned, accepted, on the way, in progress, …
    walk.step("work-list")

    # the most urgent ticket that still has a next step
    for index in range(tasks.count()):
        tasks.nth(index).click()
        page.wait_for_url(re.compile(r"/community/repairs/work/rep_"))
        if page.locator("#repair-next").count():
            break
        page.go_back()
    before = page.locator("#repair").get_attribute("data-status")
    walk.step("ticket")
    page.click("#repair-next")
    page.wait_for_selector(f"#repair:not([data-status={before}])")
    assert "状态已更新" in page.content()
    walk.step("moved")

    # a ticket in progress: a charge with three decimals is refused beside its field
    walk.goto("/community/repairs/work")
    for index in range(tasks.count()):
        tasks.nth(index).click()
        page.wait_for_url(re.compile(r"/community/repairs/work/rep_"))
        if page.locator("#repair-finish").count():
            page.fill("#repair-finish input[name=price]", "1.234")
            page.click("#repair-finish button[type=submit]")
            page.wait_for_selector("#repair-finish .error")
            walk.step("refused-charge", refused=True)
            return
        page.go_back()
