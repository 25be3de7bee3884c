"""A residents' committee member's main job, in Chromium on a desktop and a phone: the overview
of every community they oversee (and the sum), one community's console, the daily trends over a
chosen number of days with their CSV export, and a notice to that community's residents."""

from __future__ import annotations

import csv
import io
import re

import pytest

pytestmark = pytest.mark.browser
ROLE = "committee"


def test_committee_oversees_trends_exports_and_notifies(walk):
    page = walk.page
    notice = f"{'周末' if walk.phone else '月底'}社区义诊"

    walk.login("committee")
    walk.open_console("/community/staff")
    page.locator("main a[href='/community/committee']").click()
    page.wait_for_url(re.compile(r"/community/committee$"))
    communities = page.locator("main section[data-community]")
    assert communities.count() >= 2
    walk.step("overview")

    # One community's console.
    communities.last.locator("h2 a").click()
    page.wait_for_url(re.compile(r"/manage$"))
    walk.step("community")

    # Its entry and exit log, then the daily trends over 30 days: a row per day.
    page.locator("nav.tabs a[href$='/passages']").click()
    page.locator("main a[href$='/passages/trends']").click()
    page.wait_for_url(re.compile(r"/passages/trends"))
    page.locator("main select[name=days]").select_option("30")
    page.locator("main form[method=get] button").click()
    page.wait_for_url(re.compile(r"days=30"))
    assert page.locator("#trend-table tbody tr").count() == 30
    walk.step("trends")

    # The CSV export of the same 30 days.
    with page.expect_download() as download:
        page.locator("main a[href*='/passages/trends.csv']").click()
    text = download.value.path().read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == 31, rows[:3]

    # Back to the community's console (the breadcrumb), and a notice to its residents.
    page.locator("#breadcrumb a[href$='/manage']").click()
    page.wait_for_url(re.compile(r"/manage$"))
    page.locator("nav.tabs a[href$='?page=notices']").click()
    form = page.locator("main form.stack")
    form.locator("input[name=title]").fill(notice)
    form.locator("textarea[name=body]").fill("社区卫生服务中心医生来小区义诊，欢迎居民参加。")
    form.locator("button").click()
    page.wait_for_load_state()
    assert page.locator("main article strong").first.inner_text().strip() == notice
    walk.step("notice")
