"""The resident's limits under real concurrency on PostgreSQL: payments at once never pass the
daily limit nor overdraw the wallet or the card, one trade paid from two tabs is charged once,
and one top-up key tops up once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from tests.payments.wallet import pay_world
from townsquare.accounts.models import User
from townsquare.core.errors import TownsquareError
from townsquare.payments import ledger
from townsquare.payments.funding import simbank
from townsquare.payments.funding.models import SimMovement
from townsquare.payments.trades.models import Trade, TradeStatus
from townsquare.payments.wallet import limits, paying
from townsquare.payments.wallet import service as wallet
from townsquare.payments.wallet.models import Spend, TopUp

pytestmark = pytest.mark.postgres_only
THREADS = 16


def _at_once(database, work) -> list[str]:
    """Run `work(db, i)` in THREADS transactions released together; each one's outcome."""
    barrier = threading.Barrier(THREADS)

    def one(i: int) -> str:
        barrier.wait()
        try:
            with database.unit_of_work() as db:
                work(db, i)
            return "ok"
        except TownsquareError as refused:
            return refused.code

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(one, range(THREADS)))


def _trades(database, world, count: int, fen: int) -> list[str]:
    with database.unit_of_work() as db:
        return [pay_world.create(db, world[0], f"C-{i}", fen).trade_no for i in range(count)]


def _pay(settings, world, trade_nos, method_of):
    def work(db, i):
        paying.pay_trade(db, settings=settings, actor=db.get(User, world[0].resident.id),
                         trade_no=trade_nos[i % len(trade_nos)], method=method_of(i),
                         payment_pin=pay_world.PIN)
    return work


def test_payments_at_once_never_pass_the_daily_limit(database, settings, make_user):
    world = pay_world.build(database, settings, make_user, wallet_fen=100_000)
    settings.payment_limit_per_day_fen = 5_000
    trade_nos = _trades(database, world, THREADS, 1_000)
    outcomes = _at_once(database, _pay(settings, world, trade_nos,
                                       lambda i: paying.WALLET if i % 2 else world[1]))
    assert outcomes.count("ok") == 5, outcomes
    assert set(outcomes) == {"ok", limits.LimitExceeded.code}
    with database.unit_of_work() as db:
        resident = db.get(User, world[0].resident.id)
        assert limits.spent_today(db, settings=settings, user=resident) == 5_000
        paid = db.scalar(select(func.count(Trade.id)).where(
            Trade.status == TradeStatus.TRADE_SUCCESS))
        assert paid == 5
        # every card charge belongs to a paid trade (refused payments charged nothing)
        charges = db.scalar(select(func.count(SimMovement.id)).where(
            SimMovement.kind == "charge", SimMovement.idempotency_key.like("trade:%")))
        assert charges == db.scalar(select(func.count(Spend.id)).where(
            Spend.fund_channel == "BANKCARD"))
        assert ledger.reconcile(db).sound


def test_payments_at_once_never_overdraw_the_wallet(database, settings, make_user):
    world = pay_world.build(database, settings, make_user, wallet_fen=3_000)
    trade_nos = _trades(database, world, THREADS, 1_000)
    outcomes = _at_once(database, _pay(settings, world, trade_nos, lambda i: paying.WALLET))
    assert outcomes.count("ok") == 3, outcomes
    with database.unit_of_work() as db:
        assert wallet.balance(db, user=db.get(User, world[0].resident.id)) == 0
        assert ledger.reconcile(db).sound


def test_one_trade_from_many_tabs_is_charged_once(database, settings, make_user):
    world = pay_world.build(database, settings, make_user, wallet_fen=100_000)
    trade_nos = _trades(database, world, 1, 2_500)
    outcomes = _at_once(database, _pay(settings, world, trade_nos,
                                       lambda i: paying.WALLET if i % 2 else world[1]))
    assert outcomes.count("ok") == 1, outcomes
    with database.unit_of_work() as db:
        resident = db.get(User, world[0].resident.id)
        trade = db.scalar(select(Trade))
        card = wallet.card_of(db, actor=resident, card_id=world[1])
        charged = 100_000 - wallet.balance(db, user=resident) + (
            simbank.OPENING_BALANCE_FEN - 100_000
            - simbank.card_by_token(db, card.funding_token).balance_fen)
        assert trade.status is TradeStatus.TRADE_SUCCESS and charged == 2_500
        assert [e.kind for e in ledger.entries_for(db, trade.trade_no)] == ["payment"]


def test_top_ups_at_once_move_money_once_per_key_and_never_overdraw_the_card(
        database, settings, make_user):
    world = pay_world.build(database, settings, make_user, wallet_fen=0)
    user_id = world[0].resident.id

    def same_key(db, i):
        wallet.top_up(db, settings=settings, actor=db.get(User, user_id), card_id=world[1],
                      amount_fen=700, idempotency_key="once")

    assert _at_once(database, same_key) == ["ok"] * THREADS
    with database.unit_of_work() as db:
        assert wallet.balance(db, user=db.get(User, user_id)) == 700
        assert db.scalar(select(func.count(TopUp.id))) == 1
    settings.wallet_top_up_max_fen = simbank.OPENING_BALANCE_FEN
    fifth = (simbank.OPENING_BALANCE_FEN - 700) // 5

    def many_keys(db, i):
        wallet.top_up(db, settings=settings, actor=db.get(User, user_id), card_id=world[1],
                      amount_fen=fifth, idempotency_key=f"k{i}")

    outcomes = _at_once(database, many_keys)
    assert outcomes.count("ok") == 5, outcomes
    with database.unit_of_work() as db:
        card = wallet.card_of(db, actor=db.get(User, user_id), card_id=world[1])
        assert simbank.card_by_token(db, card.funding_token).balance_fen == (
            simbank.OPENING_BALANCE_FEN - 700 - 5 * fifth)
        assert wallet.balance(db, user=db.get(User, user_id)) == 700 + 5 * fifth
        assert ledger.reconcile(db).sound
