"""Visitor pass pages through HTTP: the host invites and gets the link once, the visitor's page
needs no account and shows the QR, the community and the window (zh-CN and English), revoking
stops it, the property manager sets the visitor rules, the guard's API shows the visitor."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest

from tests.miniapps.shell_data import browser_login
from townsquare.core.clock import clock

from .world import build

NOON = datetime(2024, 3, 4, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai


@pytest.fixture
def world(database, make_user):
    clock.freeze(NOON)
    return build(database, make_user)


def invite(client, world, csrf, **fields):
    data = {"csrf_token": csrf, "visitor_name": "刘访客", "visitor_phone": "13912345678",
            "purpose": "送东西", "starts_at": "2024-03-04T11:30", "ends_at": "2024-03-04T14:00",
            **fields}
    return client.post(f"/community/{world.com}/visitors", data=data)


def test_host_invites_visitor_opens_link_host_revokes(client, token_for, world):
    csrf = browser_login(client, world.resident)
    home = client.get(f"/community/{world.com}")
    assert f"/community/{world.com}/visitors" in home.text
    page = client.get(f"/community/{world.com}/visitors")
    assert page.status_code == 200 and 'id="invite-form"' in page.text
    made = invite(client, world, csrf)
    assert made.status_code == 200, made.text
    link = html.unescape(re.search(r'id="visitor-link" readonly value="([^"]+)"', made.text)[1])
    path = "/visit/" + link.rsplit("/visit/", 1)[1]
    assert len(path) > 40  # 32 random bytes
    listed = client.get(f"/community/{world.com}/visitors")
    assert "刘访客" in listed.text and path not in listed.text  # the link is shown only once

    client.cookies.clear()  # the visitor has no account
    visit = client.get(path)
    assert visit.status_code == 200 and visit.headers["referrer-policy"] == "no-referrer"
    assert "幸福A区" in visit.text and "访客通行证" in visit.text and "<svg" in visit.text
    assert "2024-03-04 11:30" in visit.text and "13912345678" not in visit.text
    code = re.search(r'data-code="([^"]+)"', visit.text)[1]
    english = client.get(path + "?lang=en")
    assert "Visitor pass" in english.text and "Valid from 2024-03-04 11:30" in english.text
    client.cookies.clear()
    assert client.get("/visit/not-a-real-token").status_code == 404

    scan = client.post(f"/api/community/{world.com}/gate/scan", headers=token_for(world.guard),
                       json={"gate": world.gate, "code": code, "direction": "entry"})
    body = scan.json()
    assert body["allowed"] and body["visitor"] and body["room"] == "3栋-2单元-301"
    assert body["phone_masked"] == "139****5678" and body["purpose"] == "送东西"

    csrf = browser_login(client, world.resident)
    listed = client.get(f"/community/{world.com}/visitors")
    logged = listed.text.split('id="visitor-passages"')[1]
    assert "刘访客" in logged and "放行" in logged  # the host sees the visitor came in
    vis = re.search(r'data-invitation="(vis_[0-9a-z]+)"', listed.text)[1]
    revoked = client.post(f"/community/{world.com}/visitors/{vis}/revoke",
                          data={"csrf_token": csrf}, follow_redirects=False)
    assert revoked.status_code == 303
    client.cookies.clear()
    gone = client.get(path)
    assert gone.status_code == 200 and 'data-state="revoked"' in gone.text
    assert "data-code" not in gone.text


def test_invite_form_shows_the_problem_and_keeps_what_was_typed(client, world):
    csrf = browser_login(client, world.resident)
    bad = invite(client, world, csrf, visitor_phone="123")
    assert bad.status_code == 422 and 'id="visitor_phone-error"' in bad.text
    assert 'value="刘访客"' in bad.text
    other = client.get("/community/" + world.com + "/visitors")
    assert "刘访客" not in other.text.split('id="invitations"')[1]  # nothing was created


def test_the_property_manager_sets_the_visitor_rules(client, world):
    csrf = browser_login(client, world.manager)
    setup = client.get(f"/community/{world.com}/manage?page=setup")
    assert 'id="visitor-rules-form"' in setup.text
    saved = client.post(f"/community/{world.com}/manage/visitors", follow_redirects=False,
                        data={"csrf_token": csrf, "per_household_per_day": "1",
                              "max_days_ahead": "2", "max_hours": "6", "lockdown": "1"})
    assert saved.status_code == 303
    setup = client.get(f"/community/{world.com}/manage?page=setup")
    assert 'id="visitor-lockdown"' in setup.text and 'value="6"' in setup.text
    refused = client.post(f"/community/{world.com}/manage/visitors",
                          data={"csrf_token": csrf, "per_household_per_day": "99",
                                "max_days_ahead": "2", "max_hours": "6"})
    assert refused.status_code == 422
    # a resident may not change them
    csrf = browser_login(client, world.resident)
    denied = client.post(f"/community/{world.com}/manage/visitors",
                         data={"csrf_token": csrf, "per_household_per_day": "9",
                               "max_days_ahead": "2", "max_hours": "6"})
    assert denied.status_code == 403
    page = client.get(f"/community/{world.com}/visitors")
    assert 'id="visitor-lockdown"' in page.text
    assert invite(client, world, csrf).status_code == 409


def test_the_json_api_invites_lists_and_revokes(client, token_for, world):
    me = token_for(world.resident)
    body = {"visitor_name": "刘访客", "visitor_phone": "13912345678", "purpose": "探亲",
            "starts_at": "2024-03-04T12:30:00+08:00", "ends_at": "2024-03-04T15:00:00+08:00"}
    made = client.post(f"/api/community/{world.com}/visitors", json=body,
                       headers={**me, "Idempotency-Key": "inv-0001"})
    assert made.status_code == 201, made.text
    out = made.json()
    assert "/visit/" in out["link"] and out["state"] == "active"
    assert out["visitor_phone_masked"] == "139****5678"
    again = client.post(f"/api/community/{world.com}/visitors", json=body,
                        headers={**me, "Idempotency-Key": "inv-0001"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "duplicate_invitation"
    listed = client.get(f"/api/community/{world.com}/visitors", headers=me).json()
    assert [i["id"] for i in listed] == [out["id"]] and listed[0]["link"] is None
    gone = client.post(f"/api/community/{world.com}/visitors/{out['id']}/revoke", headers=me)
    assert gone.json()["state"] == "revoked"
    guard = client.get(f"/api/community/{world.com}/visitors", headers=token_for(world.guard))
    assert guard.status_code == 403


def test_the_property_log_shows_visitor_passages_with_the_host(client, token_for, world):
    me = token_for(world.resident)
    body = {"visitor_name": "刘访客", "visitor_phone": "13912345678", "purpose": "",
            "starts_at": "2024-03-04T11:30:00+08:00", "ends_at": "2024-03-04T15:00:00+08:00"}
    link = client.post(f"/api/community/{world.com}/visitors", json=body, headers=me).json()["link"]
    code = re.search(r'data-code="([^"]+)"', client.get(link.split("testserver")[-1]).text)[1]
    client.post(f"/api/community/{world.com}/gate/scan", headers=token_for(world.guard),
                json={"gate": world.gate, "code": code, "direction": "entry"})
    browser_login(client, world.manager)
    log = client.get(f"/community/{world.com}/passages")
    assert "刘访客" in log.text and "3栋-2单元-301" in log.text
    api = client.get(f"/api/community/{world.com}/passages", headers=token_for(world.manager))
    row = api.json()[0]
    assert row["visitor"] == "刘访客" and row["household"] == world.household
    csv = client.get(f"/api/community/{world.com}/passages.csv", headers=token_for(world.manager))
    assert "刘访客" in csv.text and ",v," in csv.text
