"""The orphan-charge job under real concurrency on PostgreSQL: runs at once refund an orphan
once; a late retry of the orphan's top-up racing the job ends with exactly one of them using
the charge — the wallet credited or the card refunded, never both, never neither."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from tests.payments.funding.test_orphans import _card_balance, _crash_after_charge, _refunds_of
from tests.payments.wallet import pay_world
from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.payments import funding, ledger
from townsquare.payments.funding import orphans
from townsquare.payments.wallet import service as wallet

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def world(database, settings, make_user):
    return pay_world.build(database, settings, make_user, wallet_fen=10_000)


def _together(*jobs):
    barrier = threading.Barrier(len(jobs))

    def one(job):
        barrier.wait()
        try:
            return job()
        except Exception as error:  # noqa: BLE001 - the loser's refusal is the result
            return error

    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(one, jobs))


def test_runs_at_once_refund_an_orphan_once(database, settings, world):
    before = _card_balance(database, world)
    reference = _crash_after_charge(database, world, f"topup:{world[0].resident.id}:r1", 4_000)
    clock.freeze(clock.now() + timedelta(minutes=31))
    reports = _together(*[lambda: orphans.run(database, settings=settings)] * 4)
    refunded = [r for report in reports for r in report.refunded]
    assert refunded == [(reference, 4_000)], reports
    assert _refunds_of(database, reference) == [4_000]
    assert _card_balance(database, world) == before


@pytest.mark.parametrize("round_", range(3))
def test_a_late_top_up_retry_racing_the_job_uses_the_charge_or_loses_it(database, settings,
                                                                        world, round_):
    user_id = world[0].resident.id
    before = _card_balance(database, world)
    reference = _crash_after_charge(database, world, f"topup:{user_id}:late", 2_000)
    clock.freeze(clock.now() + timedelta(minutes=31))

    def retry():
        with database.unit_of_work() as db:
            return wallet.top_up(db, settings=settings, actor=db.get(User, user_id),
                                 card_id=world[1], amount_fen=2_000, idempotency_key="late")

    top_up, report = _together(retry, lambda: orphans.run(database, settings=settings))
    with database.unit_of_work() as db:
        credited = wallet.balance(db, user=db.get(User, user_id)) - 10_000
        assert ledger.reconcile(db).sound
    given_back = sum(_refunds_of(database, reference))
    assert sorted([credited, given_back]) == [0, 2_000], (top_up, report)
    assert isinstance(top_up, funding.ChargeGivenBack) == (given_back == 2_000)
    assert _card_balance(database, world) == before - credited
