"""Gate pages: the resident's refreshing code, the guard's scanning page (guards only), and the
log and tracing pages for the property manager."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

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
    trace_link = re.search(r'href="(/community/com_\w+/passages/pas_\w+/trace)"', log.text)
    traced = client.get(trace_link.group(1))
    assert traced.status_code == 200 and "3栋-2单元-301" in traced.text
    client.cookies.clear()
    login(client, world.guard)
    assert client.get(f"/community/{world.com}/passages").status_code == 403
