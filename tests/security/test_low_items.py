"""The low items: login spends the same work for every username (no enumeration by timing),
login and sign-up refuse cross-site posts (login CSRF), and CSV exports defuse formulas."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD
from townsquare.accounts import service
from townsquare.accounts.models import User
from townsquare.core import csvout, security
from townsquare.core.clock import clock


@pytest.fixture
def hash_checks(monkeypatch):
    calls = []
    real = security._hasher

    class Counting:
        def hash(self, password):
            return real.hash(password)

        def verify(self, hashed, password):
            calls.append(hashed)
            return real.verify(hashed, password)

    monkeypatch.setattr(security, "_hasher", Counting())
    return calls


def test_every_login_spends_one_hash_check(database, settings, make_user, hash_checks):
    locked, inactive, normal = make_user(), make_user(), make_user()
    hash_checks.clear()
    with database.unit_of_work() as db:
        from datetime import timedelta

        db.get(User, locked.id).locked_until = clock.now() + timedelta(minutes=10)
        db.get(User, inactive.id).is_active = False
    cases = [("nobody-here", PASSWORD), ("bad name\x00", PASSWORD), (locked.username, PASSWORD),
             (inactive.username, PASSWORD), (normal.username, "wrong-password"),
             (normal.username, PASSWORD)]
    for username, password in cases:
        before = len(hash_checks)
        with database.unit_of_work() as db:
            service.login(db, settings=settings, username=username, password=password,
                          kind="bearer")
        assert len(hash_checks) - before == 1, username


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Referer": "https://evil.example/form"},
])
def test_a_cross_site_login_post_is_refused(client, make_user, headers):
    user = make_user()
    response = client.post("/login", data={"username": user.username, "password": PASSWORD},
                           headers=headers, follow_redirects=False)
    assert response.status_code == 403 and "set-cookie" not in response.headers
    signup = client.post("/signup", data={"username": "planted", "password": PASSWORD,
                                          "display_name": "x"}, headers=headers)
    assert signup.status_code == 403


def test_a_same_site_login_post_works(client, make_user):
    user = make_user()
    response = client.post("/login", data={"username": user.username, "password": PASSWORD},
                           headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert response.status_code == 303


@pytest.mark.parametrize("cell", ["=1+2", "+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", "＝1+2",
                                  "=HYPERLINK(\"https://evil.example\")"])
def test_formula_cells_are_defused(cell):
    (row,) = csv.reader(io.StringIO(csvout.line(["ok", cell, 5, -3])))
    assert row == ["ok", "'" + cell, "5", "-3"]


def test_the_passage_export_defuses_a_formula_name(client, token_for, database, make_user,
                                                  settings):
    from tests.community.gate.test_passages import my_code, scan
    from tests.community.gate.world import build
    from townsquare.community.models import Person

    world = build(database, make_user)
    with database.unit_of_work() as db:
        db.scalar(select(Person).where(Person.public_id == world.head)).real_name = "=1+2"
    scan(client, token_for(world.guard), world,
         my_code(client, token_for(world.resident), world, "person")["code"])
    response = client.get(f"/api/community/{world.com}/passages.csv",
                          headers=token_for(world.manager))
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert rows[0]["name"] == "'=1+2"
