"""The orphan-charge job: a card charge the bank made for a trade or a top-up that the platform
never recorded (a crash between the charge and the commit, as a real acquirer would keep it) is
found against the ledger's records and refunded to the card, once; charges that paid a trade or
a top-up, charges already given back, young ones and those of a trade that can still be paid
are left alone; a late retry of the orphan's top-up cannot use the refunded charge."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.payments.wallet import pay_world
from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.payments import funding, ledger
from townsquare.payments.funding import orphans, simbank
from townsquare.payments.funding.models import SimMovement
from townsquare.payments.ledger import accounts
from townsquare.payments.trades import service as trades
from townsquare.payments.wallet import paying
from townsquare.payments.wallet import service as wallet


@pytest.fixture
def world(database, settings, make_user):
    return pay_world.build(database, settings, make_user, wallet_fen=10_000)


def _token(db, world) -> str:
    resident = db.get(User, world[0].resident.id)
    return wallet.card_of(db, actor=resident, card_id=world[1]).funding_token


def _card_balance(database, world) -> int:
    with database.unit_of_work() as db:
        return simbank.card_by_token(db, _token(db, world)).balance_fen


def _crash_after_charge(database, world, key: str, fen: int) -> str:
    """The bank charged the card and kept it; the platform's transaction never committed."""
    with database.unit_of_work() as db:
        return funding.adapter_for(db).charge(_token(db, world), fen, key).reference


def _refunds_of(database, reference: str) -> list[int]:
    with database.unit_of_work() as db:
        charge = db.scalar(select(SimMovement).where(SimMovement.reference == reference))
        return list(db.scalars(select(SimMovement.amount_fen)
                               .where(SimMovement.refund_of_id == charge.id)))


def test_an_orphan_trade_charge_is_refunded_once_when_the_trade_can_no_longer_be_paid(
        database, settings, world):
    with database.unit_of_work() as db:
        trade_no = pay_world.create(db, world[0], "CRASH", 2_500, timeout_minutes=60).trade_no
    before = _card_balance(database, world)
    reference = _crash_after_charge(database, world, f"trade:{trade_no}", 2_500)
    assert _card_balance(database, world) == before - 2_500
    young = orphans.run(database, settings=settings)  # within the grace period: not looked at
    assert young.looked_at == 0
    clock.freeze(clock.now() + timedelta(minutes=45))
    waiting = orphans.run(database, settings=settings)  # the trade may still be paid with it
    assert waiting.waiting == [reference] and not waiting.refunded
    clock.freeze(clock.now() + timedelta(minutes=30))  # past its timeout
    with database.unit_of_work() as db:
        assert trades.close_expired(db) == 1
    done = orphans.run(database, settings=settings)
    assert done.refunded == [(reference, 2_500)] and not done.failed
    assert _card_balance(database, world) == before
    again = orphans.run(database, settings=settings)
    assert not again.refunded and (again.accounted, again.given_back) == (1, 1)
    assert _refunds_of(database, reference) == [2_500]
    with database.unit_of_work() as db:
        assert ledger.reconcile(db).sound  # the ledger never saw the orphan at all


def test_an_orphan_top_up_is_refunded_and_its_late_retry_cannot_use_the_charge(
        database, settings, world):
    before = _card_balance(database, world)
    user_id = world[0].resident.id
    reference = _crash_after_charge(database, world, f"topup:{user_id}:req-7", 3_000)
    clock.freeze(clock.now() + timedelta(minutes=31))
    done = orphans.run(database, settings=settings)
    assert done.refunded == [(reference, 3_000)]
    assert _card_balance(database, world) == before
    with pytest.raises(funding.ChargeGivenBack), database.unit_of_work() as db:
        wallet.top_up(db, settings=settings, actor=db.get(User, user_id), card_id=world[1],
                      amount_fen=3_000, idempotency_key="req-7")
    with database.unit_of_work() as db:
        assert wallet.balance(db, user=db.get(User, user_id)) == 10_000
    assert _card_balance(database, world) == before


def test_used_and_given_back_charges_are_left_alone(database, settings, world):
    _, card = world
    with database.unit_of_work() as db:
        paid = pay_world.create(db, world[0], "PAID", 1_000).trade_no
        closing = pay_world.create(db, world[0], "LATE", 700, timeout_minutes=1).trade_no
    with database.unit_of_work() as db:
        paying.pay_trade(db, settings=settings, actor=db.get(User, world[0].resident.id),
                         trade_no=paid, method=card, payment_pin=pay_world.PIN)
    clock.freeze(clock.now() + timedelta(minutes=2))
    with database.unit_of_work() as db:  # the cashier's own undo: charged, refused, given back
        trade = trades.get(db, closing)
        charge = funding.adapter_for(db).charge(_token(db, world), 700, f"trade:{closing}")
        funding.adapter_for(db).refund(charge.reference, 700, f"trade:{closing}:undo")
        assert trade.status.value == "WAIT_BUYER_PAY"
    before = _card_balance(database, world)
    clock.freeze(clock.now() + timedelta(hours=1))
    report = orphans.run(database, settings=settings)
    assert (report.looked_at, report.accounted, report.given_back) == (3, 2, 1)
    assert not report.refunded
    assert _card_balance(database, world) == before
    with database.unit_of_work() as db:
        assert ledger.balance(db, accounts.BANK_CLEARING) == -(10_000 + 1_000)


def test_the_cli_refunds_orphans_and_says_so(database, world, monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from townsquare.core.settings import get_settings
    from townsquare.payments.cli import app

    monkeypatch.setenv("TOWNSQUARE_DATABASE_URL", database.url)
    monkeypatch.setenv("TOWNSQUARE_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        reference = _crash_after_charge(database, world, f"topup:{world[0].resident.id}:x", 800)
        clock.freeze(clock.now() + timedelta(hours=1))
        done = CliRunner().invoke(app, ["orphan-charges"])
        assert done.exit_code == 0, done.output
        assert f"Orphan charge {reference} refunded" in done.output
        again = CliRunner().invoke(app, ["orphan-charges"])
        assert again.exit_code == 0 and "refunded" not in again.output.replace("\n", " ")
        assert _refunds_of(database, reference) == [800]
    finally:
        get_settings.cache_clear()
