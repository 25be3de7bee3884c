"""Paying a trade as a resident: from the wallet with the PIN, from a card (charged once per
trade, refunded at once when the trade refuses the payment), and every clear refusal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.payments.wallet import pay_world
from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.core.errors import PermissionDenied
from townsquare.payments import ledger
from townsquare.payments.funding import simbank
from townsquare.payments.funding.models import SimMovement
from townsquare.payments.ledger import accounts
from townsquare.payments.trades.errors import TradeClosed, TradePaid
from townsquare.payments.trades.models import TradeStatus
from townsquare.payments.wallet import limits, paying, pin
from townsquare.payments.wallet import service as wallet
from townsquare.payments.wallet.models import PinFailure, Spend


@pytest.fixture
def world(database, settings, make_user):
    return pay_world.build(database, settings, make_user)


def _pay(db, settings, world, trade_no, method=paying.WALLET, payment_pin=pay_world.PIN):
    resident = db.get(User, world[0].resident.id)
    return paying.pay_trade(db, settings=settings, actor=resident, trade_no=trade_no,
                            method=method, payment_pin=payment_pin)


def test_a_wallet_payment_with_the_pin(database, settings, world):
    with database.unit_of_work() as db:
        trade_no = pay_world.create(db, world[0]).trade_no
    with database.unit_of_work() as db:
        trade = _pay(db, settings, world, trade_no)
        assert trade.status is TradeStatus.TRADE_SUCCESS and trade.fund_channel == "ALIPAYACCOUNT"
    with database.unit_of_work() as db:
        resident = db.get(User, world[0].resident.id)
        assert wallet.balance(db, user=resident) == 100_000 - 1_250
        assert limits.spent_today(db, settings=settings, user=resident) == 1_250
        with pytest.raises(TradePaid):
            _pay(db, settings, world, trade_no)
        assert ledger.reconcile(db).sound


def test_a_wrong_pin_pays_nothing_but_counts(database, settings, world):
    with database.unit_of_work() as db:
        trade_no = pay_world.create(db, world[0]).trade_no
    with pytest.raises(pin.PinWrong), database.unit_of_work() as db:
        _pay(db, settings, world, trade_no, payment_pin="000000")
    with database.unit_of_work() as db:
        assert pay_world.trades.get(db, trade_no).status is TradeStatus.WAIT_BUYER_PAY
        assert db.scalar(select(func.count(PinFailure.id))) == 1
        assert db.scalar(select(func.count(Spend.id))) == 0


def test_a_card_payment_charges_the_card_once(database, settings, world):
    _, card = world
    with database.unit_of_work() as db:
        trade_no = pay_world.create(db, world[0], total_fen=30_000).trade_no
    with database.unit_of_work() as db:
        trade = _pay(db, settings, world, trade_no, method=card)
        assert trade.fund_channel == "BANKCARD" and trade.funding_reference.startswith("sbm_")
    with database.unit_of_work() as db:
        resident = db.get(User, world[0].resident.id)
        token = wallet.card_of(db, actor=resident, card_id=card).funding_token
        assert simbank.card_by_token(db, token).balance_fen == (
            simbank.OPENING_BALANCE_FEN - 100_000 - 30_000)
        assert wallet.balance(db, user=resident) == 100_000  # the wallet was not touched
        assert ledger.balance(db, accounts.BANK_CLEARING) == -130_000


def test_a_card_charge_is_refunded_when_the_trade_refuses_the_payment(database, settings, world):
    _, card = world
    with database.unit_of_work() as db:
        trade_no = pay_world.create(db, world[0], timeout_minutes=1).trade_no
    clock.freeze(clock.now() + timedelta(minutes=2))  # unpaid past its timeout, not yet closed
    with database.unit_of_work() as db:
        resident = db.get(User, world[0].resident.id)
        token = wallet.card_of(db, actor=resident, card_id=card).funding_token
        before = simbank.card_by_token(db, token).balance_fen
        with pytest.raises(TradeClosed):
            _pay(db, settings, world, trade_no, method=card)
        moved = db.scalars(select(SimMovement).order_by(SimMovement.id)).all()[-2:]
        assert [(m.kind, m.amount_fen) for m in moved] == [("charge", 1_250), ("refund", 1_250)]
        db.expire_all()
        assert simbank.card_by_token(db, token).balance_fen == before
        db.rollback()


def test_clear_refusals_before_any_money_moves(database, settings, world, make_user):
    _, card = world
    stranger = make_user()
    settings.payment_limit_per_payment_fen = 50_000
    with database.unit_of_work() as db:
        big = pay_world.create(db, world[0], "BIG", total_fen=50_001).trade_no
        rich = pay_world.create(db, world[0], "RICH", total_fen=100_001).trade_no
        theirs = pay_world.create(db, world[0], "THEIRS", buyer_user_id=stranger.id).trade_no
    with pytest.raises(limits.LimitExceeded), database.unit_of_work() as db:
        _pay(db, settings, world, big, method=card)
    settings.payment_limit_per_payment_fen = 500_000
    with pytest.raises(paying.WalletBalanceNotEnough), database.unit_of_work() as db:
        _pay(db, settings, world, rich)
    with pytest.raises(PermissionDenied), database.unit_of_work() as db:
        _pay(db, settings, world, theirs)
    with database.unit_of_work() as db:
        assert db.scalar(select(func.count(SimMovement.id))) == 1  # the world's top-up only
        assert db.scalar(select(func.count(Spend.id))) == 0
