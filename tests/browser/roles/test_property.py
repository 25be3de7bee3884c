"""The property manager's main job, in Chromium on a desktop and a phone: open the community's
console, add rooms, import registered residents from a CSV file (a file with a bad row is
refused as a whole, with the row named, and changes nothing), find them among the households,
publish a notice, search the entry and exit log by resident and day, and read the daily
trends."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from townsquare.accounts.identity import id_check_char
from townsquare.community.gate.models import Passage
from townsquare.community.models import Community, Person

pytestmark = pytest.mark.browser
ROLE = "property"
ZONE = ZoneInfo("Asia/Shanghai")


def _world(database, phone: bool) -> dict[str, str]:
    """The first community, a new room for the import (one per viewport), and the latest
    passage of a named resident (to search the log for)."""
    with database.unit_of_work() as db:
        community = db.scalars(select(Community).order_by(Community.id)).first()
        passage = db.scalars(select(Passage).where(Passage.community_id == community.id,
                                                   Passage.person_id.is_not(None))
                             .order_by(Passage.at.desc())).first()
        person = db.get(Person, passage.person_id)
        at = passage.at if passage.at.tzinfo else passage.at.replace(tzinfo=ZoneInfo("UTC"))
        return {"community": community.public_id, "building": "20", "unit": "1" if phone else "2",
                "room": f"20-{1 if phone else 2}-101", "name": person.real_name,
                "day": at.astimezone(ZONE).date().isoformat()}


def _id_number(serial: int) -> str:
    body = f"42010619880101{serial:03d}"
    return body + id_check_char(body)


def _csv(room: str, names: tuple[str, str], serial: int, *, bad: bool = False) -> bytes:
    second_id = "42010619880101ABC" if bad else _id_number(serial + 1)
    return (
        "姓名,身份证号,手机号,房号,与户主关系\n"
        f"{names[0]},{_id_number(serial)},13800138000,{room},户主\n"
        f"{names[1]},{second_id},13800138001,{room},配偶\n"
    ).encode()


def test_property_imports_publishes_and_searches_the_log(walk, demo_server):
    world = _world(demo_server[1], walk.phone)
    page = walk.page
    names = ("柳新民", "柳新芳") if walk.phone else ("季安然", "季安宁")
    serial = 500 if walk.phone else 600
    notice = f"{'本周' if walk.phone else '下周'}二停水通知"

    walk.login("property")
    walk.open_console("/community/staff")
    page.locator(f"main a[href='/community/{world['community']}/manage']").click()
    page.wait_for_url(re.compile(r"/manage$"))
    walk.step("dashboard")

    # A new entrance of rooms (building 20), for the families moving in.
    page.locator("nav.tabs a[href$='?page=setup']").click()
    rooms = page.locator("main form:has(input[name=numbers])")
    rooms.locator("input[name=building]").fill(world["building"])
    rooms.locator("input[name=unit]").fill(world["unit"])
    rooms.locator("input[name=numbers]").fill("101,102")
    rooms.locator("button").click()
    page.wait_for_load_state()
    assert world["room"] in page.locator("main").inner_text()
    walk.step("rooms")

    # Import: a file with a bad ID number is refused, naming the line; nothing is imported.
    page.locator("nav.tabs a[href$='?page=import']").click()
    upload = page.locator("main input[type=file]")
    upload.set_input_files(files=[{"name": "名册.csv", "mimeType": "text/csv",
                                   "buffer": _csv(world["room"], names, serial, bad=True)}])
    page.locator("main form[enctype] button").click()
    page.wait_for_load_state()
    problems = page.locator("#import-problems")
    assert problems.is_visible() and "3" in problems.inner_text()
    assert "身份证号" in problems.inner_text() and "id_number" not in problems.inner_text()
    assert page.locator("#import-report").count() == 0
    walk.step("import-refused", refused=True)

    # The corrected file: two new residents.
    page.locator("main input[type=file]").set_input_files(files=[{
        "name": "名册.csv", "mimeType": "text/csv",
        "buffer": _csv(world["room"], names, serial)}])
    page.locator("main form[enctype] button").click()
    page.wait_for_load_state()
    report = page.locator("#import-report")
    assert report.is_visible() and "2" in report.inner_text()
    walk.step("imported")

    # The household is there with both members.
    page.locator("nav.tabs a[href$='?page=residents']").click()
    household = page.locator("#households tr", has_text=world["room"])
    assert names[0] in household.inner_text() and names[1] in household.inner_text()
    walk.step("households")

    # Publish a notice: it heads the list.
    page.locator("nav.tabs a[href$='?page=notices']").click()
    form = page.locator("main form.stack")
    form.locator("input[name=title]").fill(notice)
    form.locator("textarea[name=body]").fill("因管网检修，周二9:00-15:00停水，请提前储水。")
    form.locator("button").click()
    page.wait_for_load_state()
    assert page.locator("main article strong").first.inner_text().strip() == notice
    walk.step("notice")

    # The entry and exit log, searched by a resident's name and a day.
    page.locator("nav.tabs a[href$='/passages']").click()
    page.wait_for_url(re.compile(r"/passages"))
    search = page.locator("main form[method=get]").first
    search.locator("input[name=name]").fill(world["name"])
    search.locator("input[name=day]").fill(world["day"])
    search.locator("button").first.click()
    page.wait_for_url(re.compile(r"name="))
    rows = page.locator("#passage-log tbody tr")
    assert rows.count() >= 1
    for i in range(rows.count()):
        assert world["name"] in rows.nth(i).inner_text()
    walk.step("log-search")

    # The daily trends, with a table beside the chart.
    page.locator("main a[href$='/passages/trends']").click()
    page.wait_for_url(re.compile(r"/trends"))
    assert page.locator("#trend-table tr").count() >= 7
    walk.step("trends")
