"""Random sequences of top-ups (keys repeated), wallet and card payments (from two tabs, by the
cashier and by the payment code with a card behind it), refunds, closes, timeouts, crashes
between a card charge and its commit, and runs of the orphan-charge job keep the bank and the
ledger in agreement: the ledger is sound; each trade is charged at the bank at most once, and
what the bank kept of its charge is what the trade kept (paid less refunded, by card) or
nothing; each top-up key moved money once; and the bank's net takings equal the money the
ledger holds from outside (−bank:clearing)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.payments.wallet import pay_world
from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.core.errors import TownsquareError
from townsquare.payments import funding, ledger
from townsquare.payments.funding import orphans
from townsquare.payments.funding.models import SimMovement
from townsquare.payments.ledger import accounts
from townsquare.payments.trades import service as trades
from townsquare.payments.trades.models import Trade
from townsquare.payments.wallet import paying
from townsquare.payments.wallet import service as wallet
from townsquare.payments.wallet.models import TopUp

AMOUNTS = st.integers(min_value=1, max_value=40_000)
STEPS = st.lists(st.one_of(
    st.tuples(st.just("top_up"), st.integers(0, 3), AMOUNTS),
    st.tuples(st.just("create"), AMOUNTS),
    st.tuples(st.just("pay"), st.integers(0, 5), st.sampled_from(["wallet", "card", "code"])),
    st.tuples(st.just("refund"), st.integers(0, 5), AMOUNTS, st.integers(0, 2)),
    st.tuples(st.just("close"), st.integers(0, 5)),
    st.tuples(st.just("crash"), st.integers(0, 5)),
    st.tuples(st.just("later"), st.integers(1, 90)),
    st.tuples(st.just("jobs"), st.booleans()),
    st.tuples(st.just("orphans"),),
), min_size=1, max_size=20)


@hypothesis_settings(max_examples=40, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_random_funding_sequences_keep_the_bank_and_the_ledger_in_agreement(
        database, settings, make_user, steps):
    world, card = _world(database, settings, make_user)
    user_id = world.resident.id
    with database.unit_of_work() as db:  # each example starts from no trades of its own
        for old in db.scalars(select(Trade)):
            old.out_trade_no = f"old-{old.id}"
    made: list[str] = []
    example = len(_RUNS)
    _RUNS.append(example)
    clock.freeze(clock.now() + timedelta(days=30 * example))
    for step in steps:
        if step[0] == "orphans":
            orphans.run(database, settings=settings)
            continue
        try:
            with database.unit_of_work() as db:
                _apply(db, settings, world, card, made, step, example)
        except (TownsquareError, ledger.InsufficientFunds):
            pass  # a refusal changes nothing (the unit of work rolled back)
    clock.unfreeze()
    with database.unit_of_work() as db:
        assert ledger.reconcile(db).sound
        for trade_no in made:
            trade = trades.get(db, trade_no)
            charges = list(db.scalars(select(SimMovement).where(
                SimMovement.idempotency_key == f"trade:{trade_no}")))
            assert len(charges) <= 1  # charged at most once
            if charges and not orphans._accounted(db, charges[0].reference):
                continue  # a crash's charge the orphan job has not given back yet
            kept = sum(c.amount_fen - c.refunded_fen for c in charges)
            by_card = trade.paid_at is not None and trade.fund_channel == "BANKCARD"
            assert kept == (trade.total_fen - trade.refunded_fen if by_card else 0)
            payments = [e for e in ledger.entries_for(db, trade_no) if e.kind == "payment"]
            assert len(payments) == (1 if trade.paid_at else 0)
        for key in {f"topup:{user_id}:{example}-{k}" for k in range(4)}:
            moved = db.scalar(select(func.count()).select_from(SimMovement).where(
                SimMovement.idempotency_key == key, SimMovement.kind == "charge"))
            recorded = db.scalar(select(func.count()).select_from(TopUp).where(
                TopUp.idempotency_key == key))
            assert moved <= 1 and recorded <= moved
        taken = db.scalar(select(func.coalesce(func.sum(
            SimMovement.amount_fen - SimMovement.refunded_fen), 0)).where(
            SimMovement.kind == "charge")) or 0
        paid_out = db.scalar(select(func.coalesce(func.sum(SimMovement.amount_fen), 0)).where(
            SimMovement.kind == "payout")) or 0
        orphaned = _orphans_open(db)
        assert taken - paid_out - orphaned == -ledger.balance(db, accounts.BANK_CLEARING)


_RUNS: list[int] = []
_WORLDS: dict[str, tuple] = {}


def _world(database, settings, make_user):
    if database.url not in _WORLDS:
        _WORLDS[database.url] = pay_world.build(database, settings, make_user, wallet_fen=0)
    return _WORLDS[database.url]


def _orphans_open(db) -> int:
    """What the bank holds of charges nothing on the platform used yet (crashes the orphan job
    has not given back: their trades may still be paid, or the grace period is not over)."""
    open_ = 0
    for charge in db.scalars(select(SimMovement).where(SimMovement.kind == "charge")):
        left = charge.amount_fen - charge.refunded_fen
        if left and not orphans._accounted(db, charge.reference):
            open_ += left
    return open_


def _apply(db, settings, world, card, made, step, example) -> None:
    kind = step[0]
    user = db.get(User, world.resident.id)
    if kind == "top_up":
        wallet.top_up(db, settings=settings, actor=user, card_id=card, amount_fen=step[2],
                      idempotency_key=f"{example}-{step[1]}")
    elif kind == "create":
        made.append(pay_world.create(db, world, f"F{example}-{len(made)}", step[1],
                                     timeout_minutes=60).trade_no)
    elif kind == "later":
        clock.advance(timedelta(minutes=step[1]))
    elif kind == "jobs":
        trades.close_expired(db)
    elif made:
        trade = trades.get(db, made[step[1] % len(made)])
        if kind == "pay":
            if step[2] == "code":
                wallet.set_code_card(db, actor=user, card_id=card)
                method = paying.method_for_code(db, actor=user, amount_fen=trade.total_fen)
            else:
                method = paying.WALLET if step[2] == "wallet" else card
            paying.pay_trade(db, settings=settings, actor=user, trade_no=trade.trade_no,
                             method=method, payment_pin=pay_world.PIN)
        elif kind == "refund":
            trades.refund(db, trade=trade, refund_fen=step[2], out_request_no=f"R{step[3]}")
        elif kind == "close":
            trades.close(db, trade=trade)
        elif kind == "crash":  # the bank charged the card; the payment never committed
            token = wallet.card_of(db, actor=user, card_id=card).funding_token
            funding.adapter_for(db).charge(token, trade.total_fen, f"trade:{trade.trade_no}")

