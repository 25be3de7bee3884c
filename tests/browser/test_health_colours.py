"""Health colours as people see them: on the resident's community home (household status and
members) and in the property manager's residents table, the 红码/黄码/绿码 badges are filled in
three clearly different colours and carry their name, at phone and desktop sizes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from townsquare.community.models import Community, FlagKind, HealthFlag, Person
from townsquare.core.clock import clock

from ..community.gate.world import build
from ..conftest import PASSWORD
from .conftest import VIEWPORTS, login, screenshot

pytestmark = pytest.mark.browser
TEXT = {"green": "绿码", "yellow": "黄码", "red": "红码"}


def _flag(database, com: str) -> None:
    """The child in quarantine (red), the spouse back from a risk region (yellow)."""
    today = clock.now().date()
    with database.unit_of_work() as db:
        community = db.scalar(select(Community).where(Community.public_id == com))
        people = {p.real_name: p for p in db.scalars(select(Person))}
        for name, kind in (("张豆豆", FlagKind.QUARANTINE), ("李梅", FlagKind.RISK_REGION)):
            db.add(HealthFlag(person_id=people[name].id, community_id=community.id, kind=kind,
                              start=today - timedelta(days=1), end=today + timedelta(days=7)))


def _badges(page) -> dict[str, tuple[str, str]]:
    """Each colour's badge on the page: its text and its computed background colour."""
    found = {}
    for colour in TEXT:
        badge = page.locator(f".badge.status-{colour}").first
        if badge.count():
            background = badge.evaluate("b => getComputedStyle(b).backgroundColor")
            found[colour] = (badge.inner_text().strip(), background)
    return found


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_the_health_badges_have_distinct_colours_and_names(
    small_server, database, make_user, browser, viewport
):
    world = build(database, make_user)
    _flag(database, world.com)
    pages = (("resA", f"/community/{world.com}", "home"),
             ("pmA", f"/community/{world.com}/manage?page=residents", "residents"))
    for username, path, name in pages:
        context = browser.new_context(locale="zh-CN", viewport=VIEWPORTS[viewport])
        try:
            page = context.new_page()
            page.set_default_timeout(15_000)
            login(page, small_server, username, PASSWORD)
            page.goto(small_server + path)
            badges = _badges(page)
            screenshot(page, f"health-colours-{name}-{viewport}")
        finally:
            context.close()
        assert set(badges) == set(TEXT), (name, badges)
        for colour, (text, _) in badges.items():
            assert TEXT[colour] in text, (name, colour, text)
        backgrounds = {background for _, background in badges.values()}
        assert len(backgrounds) == 3 and not backgrounds & {"rgba(0, 0, 0, 0)"}, badges
        assert badges["red"][1] == "rgb(207, 19, 34)" and badges["green"][1] == "rgb(35, 120, 4)"
