"""The guard page without a network: it verifies codes with the cached public keys (tweetnacl),
keeps the passages in localStorage, and sends them once the network is back — each recorded
once, marked offline."""

from __future__ import annotations

import time

from sqlalchemy import select

from townsquare.community.gate import codes
from townsquare.community.gate.models import Passage
from townsquare.community.models import Community, Gate, GuardPost, Household
from townsquare.core.settings import Settings
from townsquare.simulation import demo_city

from .test_gate_camera import login


def test_offline_scans_are_verified_locally_and_synced_once(live_server, database, page):
    secret = Settings(secret_key="browser-test-secret-key").effective_secret_key
    with database.unit_of_work() as db:
        community = db.scalar(select(Community).where(Community.name == "幸福里小区"))
        gate = db.scalar(
            select(Gate)
            .join(GuardPost, GuardPost.gate_id == Gate.id)
            .where(Gate.community_id == community.id)
            .order_by(Gate.id)
        )
        household = db.scalar(
            select(Household)
            .where(Household.community_id == community.id)
            .order_by(Household.id.desc())
        )
        com, gate_id, hh = community.public_id, gate.public_id, household.public_id
        before = len(list(db.scalars(select(Passage.id))))
    login(page, live_server, "guard", demo_city.DEMO_PASSWORD)
    page.goto(f"{live_server}/community/{com}/gate?gate={gate_id}")
    # a function, not a string: the page's CSP allows no eval
    page.wait_for_function(f"() => localStorage.getItem('ts-gate-keys-{com}') !== null")

    page.context.set_offline(True)
    code = codes.issue(
        secret, community=com, subject=hh, kind=codes.CodeKind.HOUSEHOLD, now=time.time()
    )
    page.fill("#gate-input", code)
    page.press("#gate-input", "Enter")
    page.wait_for_selector("#gate-result[data-allowed='1'] .offline-note")
    forged = code[:-4] + ("AAAA" if not code.endswith("AAAA") else "BBBB")
    page.fill("#gate-input", forged)
    page.press("#gate-input", "Enter")
    page.wait_for_selector("#gate-result[data-allowed='0']")
    assert page.locator("#gate-result").get_attribute("data-reasons") == "forged"
    assert page.locator("#gate").get_attribute("data-pending") == "2"
    with database.unit_of_work() as db:
        assert len(list(db.scalars(select(Passage.id)))) == before  # nothing reached the server

    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_selector("#gate[data-pending='0']")
    with database.unit_of_work() as db:
        synced = list(
            db.scalars(
                select(Passage).where(Passage.offline.is_(True), Passage.client_id.is_not(None))
            )
        )
    assert len(synced) == 2
    assert sorted(p.allowed for p in synced) == [False, True]
    assert all(p.gate.public_id == gate_id for p in synced)
