"""Register verification cannot be brute-forced: failures count per account and per name (the
register entry aimed at), survive the refused request, each one beyond the free ones doubles
the wait, the daily limit stops guessing even from many accounts, and the property manager is
alerted (on the dashboard)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.community import world as w
from townsquare.accounts.models import Role, User
from townsquare.community import residents
from townsquare.community.models import VerifyFailure
from townsquare.core.clock import clock
from townsquare.core.errors import RateLimited, TownsquareError, ValidationFailed

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
def world(database, settings, make_user):
    clock.freeze(T0)
    return w.build(database, settings, make_user)


def _guess(database, settings, world, user, n: int) -> None:
    wrong = w.make_id(f"42010619800101{n + 100:03d}")
    with database.unit_of_work() as db:
        residents.verify(db, settings=settings, actor=db.get(User, user.id),
                         community=w.community(db, world.com), real_name="张三", id_number=wrong)


def _failures(database) -> int:
    with database.unit_of_work() as db:
        return db.scalar(select(func.count(VerifyFailure.id)))


def test_failures_are_counted_even_though_the_request_is_refused(database, settings, world):
    with pytest.raises(ValidationFailed):
        _guess(database, settings, world, world.resident, 1)
    assert _failures(database) == 1


def test_the_wait_grows_and_the_account_is_stopped_for_the_day(database, settings, world):
    for n in range(residents.VERIFY_FREE_FAILURES):
        with pytest.raises(ValidationFailed):
            _guess(database, settings, world, world.resident, n)
    with pytest.raises(RateLimited):  # no waiting: refused without even looking
        _guess(database, settings, world, world.resident, 50)
    assert _failures(database) == residents.VERIFY_FREE_FAILURES
    waits = []
    for n in range(residents.VERIFY_FREE_FAILURES, residents.VERIFY_ACCOUNT_DAY_LIMIT):
        wait = residents.VERIFY_BASE_DELAY * 2 ** (n - residents.VERIFY_FREE_FAILURES)
        clock.advance(wait)
        waits.append(wait)
        with pytest.raises(ValidationFailed):
            _guess(database, settings, world, world.resident, n)
    assert waits == sorted(waits) and waits[-1] > waits[0]
    clock.advance(timedelta(hours=5))
    with pytest.raises(RateLimited):  # the day's limit
        _guess(database, settings, world, world.resident, 99)
    # even the right ID number is not checked until tomorrow
    with pytest.raises(RateLimited), database.unit_of_work() as db:
        residents.verify(db, settings=settings, actor=db.get(User, world.resident.id),
                         community=w.community(db, world.com), real_name="张三",
                         id_number=w.HEAD_ID)


def test_many_accounts_guessing_one_name_are_stopped(database, settings, world, make_user):
    attackers = [make_user(Role.RESIDENT) for _ in range(residents.VERIFY_NAME_DAY_LIMIT + 1)]
    outcomes = []
    for n, attacker in enumerate(attackers):
        try:
            _guess(database, settings, world, attacker, n)
        except RateLimited:
            outcomes.append("limited")
        except TownsquareError:
            outcomes.append("wrong")
    # new accounts do not reset the count: the name (register entry) is throttled too
    free = residents.VERIFY_FREE_FAILURES
    assert outcomes == ["wrong"] * free + ["limited"] * (len(attackers) - free)


def test_the_property_manager_is_alerted(database, settings, world, make_user, client):
    for n in range(residents.VERIFY_ALERT_AT):
        clock.advance(timedelta(hours=1))  # a patient attacker waits out each delay
        with pytest.raises(ValidationFailed):
            _guess(database, settings, world, make_user(Role.RESIDENT), n)
    with database.unit_of_work() as db:
        alerts = residents.verify_alerts(db, actor=db.get(User, world.manager.id),
                                         community=w.community(db, world.com))
    assert [(name, count) for name, count, _last in alerts] == [("张*", 5)]
    from tests.merchants.conftest import login

    login(client, world.manager)
    page = client.get(f"/community/{world.com}/manage")
    assert page.status_code == 200 and 'id="verify-alerts"' in page.text and "张*" in page.text
