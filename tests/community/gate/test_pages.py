"""Gate pages: the resident's refreshing code, the guard's scanning page (guards only), and the
log and tracing pages for the property manager."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.loading import rows_loaded
from townsquare.community.gate import codes
from townsquare.core.clock import clock

from .world import build

NOON = datetime(2024, 3, 4, 4, 0, tzinfo=UTC)


@pytest.fixture
def world(database, make_user):
    clock.freeze(NOON)
    return build(database, make_user)


def login(client, user) -> None:
    response = client.post(
        "/login",
        data={"username": user.username, "password": "correct-horse-9"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def shown_code(html: str) -> str:
    return re.search(r'data-code="([^"]+)"', html).group(1)


def test_the_code_page_shows_a_fresh_verifiable_code(client, settings, world):
    login(client, world.resident)
    page = client.get(f"/community/{world.com}/code")
    assert page.status_code == 200 and "<svg" in page.text and "3栋-2单元-301" in page.text
    assert 'hx-trigger="every 60s"' in page.text
    code = shown_code(page.text)
    keys = codes.public_keys(settings.effective_secret_key, world.com)
    assert codes.verify(code, keys, community=world.com, now=NOON.timestamp()).kind == "h"
    clock.advance(timedelta(seconds=61))
    refreshed = client.get(f"/community/{world.com}/code/qr")
    assert shown_code(refreshed.text) != code and "<svg" in refreshed.text
    person = client.get(f"/community/{world.com}/code?kind=person")
    assert (
        codes.verify(
            shown_code(person.text), keys, community=world.com, now=clock.now().timestamp()
        ).subject
        == world.head
    )


def test_the_gate_page_is_for_guards_posted_there(client, make_user, database, world):
    login(client, world.resident)
    assert client.get(f"/community/{world.com}/gate").status_code == 403
    client.cookies.clear()
    other = build(database, make_user, name="B")
    login(client, other.guard)
    assert client.get(f"/community/{world.com}/gate").status_code == 403
    client.cookies.clear()
    login(client, world.guard)
    picker = client.get(f"/community/{world.com}/gate")
    assert picker.status_code == 200 and picker.text.count("?gate=gat_") == 2
    page = client.get(f"/community/{world.com}/gate?gate={world.gate}")
    assert 'id="gate-input"' in page.text and f'data-gate="{world.gate}"' in page.text
    assert (
        "/static/vendor/jsqr.min.js" in page.text and "/static/vendor/nacl-fast.min.js" in page.text
    )
    assert client.get("/static/community-gate.js").status_code == 200
    client.cookies.clear()
    login(client, world.guard2)  # posted at 西门 only
    assert client.get(f"/community/{world.com}/gate?gate={world.gate}").status_code == 403


def test_log_and_trace_pages(client, token_for, settings, world):
    guard = token_for(world.guard)
    for minutes in (0, 5):
        clock.freeze(NOON + timedelta(minutes=minutes))
        code = codes.issue(
            settings.effective_secret_key,
            community=world.com,
            subject=world.household,
            kind=codes.CodeKind.HOUSEHOLD,
            now=clock.now().timestamp(),
        )
        client.post(
            f"/api/community/{world.com}/gate/scan",
            headers=guard,
            json={"gate": world.gate, "code": code, "direction": "exit", "member": world.head},
        )
    login(client, world.manager)
    log = client.get(f"/community/{world.com}/passages")
    assert log.status_code == 200
    assert "本户外出次数已用完" in log.text and log.text.count("3栋-2单元-301") >= 2
    assert (
        client.get(f"/community/{world.com}/passages?day=2024-03-05").text.count("3栋-2单元-301")
        == 0
    )
    assert client.get(f"/community/{world.com}/passages?day=nonsense").status_code == 422
    # The page's CSV link carries its filters in the export's own terms.
    for day, rows in (("2024-03-05", 0), (clock.now().date().isoformat(), 2)):
        page = client.get(f"/community/{world.com}/passages?day={day}&room=301").text
        link = re.search(r'href="(/api/community/com_\w+/passages\.csv[^"]*)"', page)
        exported = client.get(html.unescape(link.group(1)))
        assert exported.status_code == 200
        assert exported.text.count("3栋-2单元-301") >= rows
        assert rows or "3栋-2单元-301" not in exported.text
    trace_link = re.search(r'href="(/community/com_\w+/passages/pas_\w+/trace)"', log.text)
    traced = client.get(trace_link.group(1))
    assert traced.status_code == 200 and "3栋-2单元-301" in traced.text
    client.cookies.clear()
    login(client, world.guard)
    assert client.get(f"/community/{world.com}/passages").status_code == 403


def _fill_log(database, world, count: int, start: datetime) -> None:
    """`count` passages, one every 30 minutes back from `start`: entries by the head (张…),
    every third an exit, every fifth refused; plus one passage of another room."""
    from sqlalchemy import select

    from townsquare.community.gate.models import Direction, Passage
    from townsquare.community.models import Gate, Household, Person, Room

    with database.unit_of_work() as db:
        gate = db.scalar(select(Gate).where(Gate.public_id == world.gate))
        household = db.scalar(select(Household).where(Household.public_id == world.household))
        head = db.scalar(select(Person).where(Person.public_id == world.head))
        rows = []
        for i in range(count):
            rows.append(
                Passage(
                    community_id=gate.community_id,
                    gate_id=gate.id,
                    household_id=household.id,
                    person_id=head.id,
                    direction=Direction.EXIT if i % 3 == 0 else Direction.ENTRY,
                    at=start - timedelta(minutes=30 * i),
                    allowed=i % 5 != 0,
                    reasons=[],
                )
            )
        room = Room(community_id=gate.community_id, building="9栋", unit="", number="101")
        db.add(room)
        db.flush()
        other = Household(community_id=gate.community_id, room_id=room.id)
        db.add(other)
        db.flush()
        rows.append(
            Passage(
                community_id=gate.community_id,
                gate_id=gate.id,
                household_id=other.id,
                direction=Direction.ENTRY,
                at=start,
                allowed=True,
                reasons=[],
            )
        )
        db.add_all(rows)


def test_the_log_is_searched_by_room_name_and_time_and_paged_in_sql(client, database, world):
    from townsquare.community.gate.models import Passage

    _fill_log(database, world, 200, NOON)
    login(client, world.manager)
    with rows_loaded(Passage) as loaded:
        first = client.get(f"/community/{world.com}/passages")
    assert first.status_code == 200
    assert first.text.count("/trace\"") == 50 and len(loaded) <= 51  # a page, not the log
    assert 'rel="next"' in first.text and 'rel="prev"' not in first.text
    last = client.get(f"/community/{world.com}/passages?page=5")
    assert last.text.count("/trace\"") == 1 and 'rel="next"' not in last.text
    assert 'rel="prev"' in last.text
    rooms = client.get(f"/community/{world.com}/passages", params={"room": "9栋101"})
    assert rooms.text.count("/trace\"") == 1 and "9栋-101" in rooms.text
    assert client.get(
        f"/community/{world.com}/passages", params={"room": "3栋-2单元-301", "page": 4}
    ).text.count("/trace\"") == 50
    # a household picked from the log shows as its room, not as an id to type
    household = re.search(r'href="\?household=(hh_\w+)"', rooms.text).group(1)
    picked = client.get(f"/community/{world.com}/passages", params={"household": household})
    badge = re.search(r'data-filter="household">(.*?)</span>', picked.text, re.S).group(1)
    assert "9栋-101" in badge and "hh_" not in badge and 'placeholder="hh_' not in picked.text
    assert picked.text.count("/trace\"") == 1
    named = client.get(f"/community/{world.com}/passages", params={"name": "张"})
    assert named.text.count("/trace\"") == 50 and "9栋-101" not in named.text
    assert client.get(
        f"/community/{world.com}/passages", params={"name": "%"}
    ).text.count("/trace\"") == 0  # wildcards are literal
    # NOON is 12:00 in Shanghai: from 10:00 to 11:00 holds 10:00, 10:30 (11:00 excluded)
    timed = client.get(
        f"/community/{world.com}/passages",
        params={"from": "2024-03-04T10:00", "to": "2024-03-04T11:00", "name": "张"},
    )
    assert timed.text.count("/trace\"") == 2
    paged_filter = client.get(
        f"/community/{world.com}/passages", params={"name": "张", "page": 1}
    )
    assert "name=%E5%BC%A0&amp;page=2" in paged_filter.text  # the filters follow the pages
    assert client.get(f"/community/{world.com}/passages?from=yesterday").status_code == 422


def test_trends_count_each_day_in_sql_and_export_as_csv(client, database, world, settings):
    # 96 passages, one every 30 minutes back from NOON (12:00 local): 24 on the 4th (0:00 to
    # 12:00 → 25 slots, the 25th being 00:00), then 48 on the 3rd and 23 on the 2nd
    _fill_log(database, world, 96, NOON)
    login(client, world.manager)
    page = client.get(f"/community/{world.com}/passages/trends?days=3")
    assert page.status_code == 200 and 'id="day-chart"' in page.text
    rows = re.findall(
        r"<tr><td>(\d{4}-\d\d-\d\d)</td><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td></tr>",
        page.text,
    )
    expected = {}
    for i in range(96):
        at = NOON - timedelta(minutes=30 * i) + timedelta(hours=8)
        day = at.date().isoformat()
        p, e, d = expected.get(day, (0, 0, 0))
        expected[day] = (
            p + 1,
            e + (1 if i % 3 == 0 and i % 5 != 0 else 0),
            d + (1 if i % 5 == 0 else 0),
        )
    p, e, d = expected["2024-03-04"]
    expected["2024-03-04"] = (p + 1, e, d)  # the other room's entry
    assert {r[0]: tuple(map(int, r[1:])) for r in rows} == {
        k: v for k, v in expected.items() if k >= "2024-03-02"
    }
    assert len(rows) == 3
    csv = client.get(f"/community/{world.com}/passages/trends.csv?days=3")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.lstrip("\ufeff").splitlines()
    assert lines[0] == "day,passages,exits,denials"
    assert lines[1:] == [
        f"{day},{p},{e},{d}" for day, (p, e, d) in sorted(expected.items()) if day >= "2024-03-02"
    ]
    assert client.get(f"/community/{world.com}/passages/trends?days=0").status_code == 422
    client.cookies.clear()
    login(client, world.guard)
    assert client.get(f"/community/{world.com}/passages/trends.csv").status_code == 403
