"""Random sequences of create / pay / refund / close / cancel / timeouts / settlement-like
withdrawals / royalty settles (alipay.trade.order.settle) keep every invariant: the ledger is
sound (balanced, no negative balance, balances equal their postings), no trade is refunded
beyond what was paid, and each trade is charged at most once (one payment entry, exactly when
it is paid); a settle succeeds exactly when it fits in what is left of the merchant's part, and
every settle is one royalty entry paying its parts to the receivers."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.payments.trades import royalty_world, trade_world
from townsquare.core.clock import clock
from townsquare.payments import ledger
from townsquare.payments.ledger import accounts
from townsquare.payments.trades import errors, royalty, service
from townsquare.payments.trades.models import Trade, TradeStatus
from townsquare.payments.trades.royalty import Part, Receiver

AMOUNTS = st.integers(min_value=1, max_value=3_000)
STEPS = st.lists(st.one_of(
    st.tuples(st.just("create"), AMOUNTS, st.integers(0, 3)),
    st.tuples(st.just("pay"), st.integers(0, 7), st.integers(0, 1)),
    st.tuples(st.just("refund"), st.integers(0, 7), AMOUNTS, st.integers(0, 2)),
    st.tuples(st.just("close"), st.integers(0, 7)),
    st.tuples(st.just("cancel"), st.integers(0, 7)),
    st.tuples(st.just("later"), st.integers(1, 200)),
    st.tuples(st.just("jobs"), st.booleans()),
    st.tuples(st.just("withdraw"), st.integers(0, 2_000)),
    st.tuples(st.just("settle"), st.integers(0, 7), AMOUNTS, st.integers(0, 2), st.booleans()),
), min_size=1, max_size=25)


@hypothesis_settings(max_examples=60, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_random_trade_sequences_keep_the_invariants(database, settings, make_user, steps):
    with database.unit_of_work() as db:  # each example starts from no trades
        for trade in db.scalars(select(Trade)):
            trade.out_trade_no = f"old-{trade.id}"
    world = _world(database, settings, make_user)
    payers = world["payers"]
    made: list[str] = []
    clock.freeze(clock.now())
    for step in steps:
        try:
            with database.unit_of_work() as db:
                _apply(db, world["world"], payers, made, step, world["receivers"])
        except errors.TradeError:
            pass  # a refusal changes nothing (the unit of work rolled back)
    clock.unfreeze()
    with database.unit_of_work() as db:
        assert ledger.reconcile(db).sound
        for trade_no in made:
            trade = service.get(db, trade_no)
            payments = [e for e in ledger.entries_for(db, trade_no) if e.kind == "payment"]
            assert len(payments) == (1 if trade.paid_at else 0)
            assert 0 <= trade.refunded_fen <= (trade.total_fen if trade.paid_at else 0)
            assert trade.refunded_fen == sum(r.amount_fen for r in trade.refunds)
            if trade.status == TradeStatus.TRADE_CLOSED and trade.paid_at:
                assert trade.refunded_fen == trade.total_fen
            if trade.status == TradeStatus.TRADE_SUCCESS:
                assert trade.refunded_fen < trade.total_fen
            refunded = [e for e in ledger.entries_for(db, trade_no) if e.kind == "refund"]
            source = [p.amount_fen for e in refunded for p in e.postings
                      if p.account.code == trade.payment_source]
            assert sum(source) == trade.refunded_fen  # the money went back where it came from
            settles = royalty.settles_of(db, trade)
            royalties = [e for e in ledger.entries_for(db, trade_no) if e.kind == "royalty"]
            assert len(royalties) == len(settles)
            received = [p.amount_fen for e in royalties for p in e.postings if p.amount_fen > 0]
            assert sum(received) == sum(s.amount_fen for s in settles)


_WORLDS: dict[str, dict] = {}


def _world(database, settings, make_user):
    """One world per database (examples share the test's database)."""
    if database.url not in _WORLDS:
        world, receivers = royalty_world.build(database, settings, make_user, wallet_fen=50_000)
        with database.unit_of_work() as db:
            royalty.bind(db, merchant=royalty_world.merchant_of(db, receivers),
                         out_request_no="B", receivers=[Receiver(receivers.isv),
                                                        Receiver(receivers.community)])
        other = make_user(display_name="邻居")
        trade_world.top_up(database, other.id, 5_000)
        _WORLDS[database.url] = {"world": world, "payers": [world.resident.id, other.id],
                                 "receivers": [receivers.isv, receivers.community]}
    return _WORLDS[database.url]


def _apply(db, world, payers, made, step, receivers=()) -> None:
    kind = step[0]
    if kind == "create":
        trade = trade_world.create(db, world, f"P-{len(made)}", step[1],
                                   timeout_minutes=30 + 60 * step[2])
        made.append(trade.trade_no)
    elif kind == "later":
        clock.advance(timedelta(minutes=step[1]))
    elif kind == "jobs":
        service.close_expired(db)
        service.finish_due(db, period=timedelta(hours=3) if step[1] else service.REFUND_PERIOD)
    elif kind == "withdraw":  # the merchant's pending money leaves (settled and paid out)
        app = trade_world.app_of(db, world)
        pending = accounts.merchant_pending(app.miniapp.merchant_id)
        amount = min(step[1], ledger.balance(db, pending))
        if amount:
            ledger.post(db, kind="withdrawal", reference="w",
                        legs={pending: -amount, accounts.BANK_CLEARING: amount})
    elif made:
        trade = service.get(db, made[step[1] % len(made)])
        if kind == "pay":
            trade_world.pay(db, trade.trade_no, payers[step[2]], key=f"k{step[2]}")
        elif kind == "refund":
            service.refund(db, trade=trade, refund_fen=step[2], out_request_no=f"R{step[3]}")
        elif kind == "close":
            service.close(db, trade=trade)
        elif kind == "settle":
            _settle(db, trade, step, receivers)
        else:
            service.cancel(db, trade=trade)


def _settle(db, trade, step, receivers) -> None:
    """A settle succeeds exactly when the trade is paid, not closed, and the amount fits in what
    is left of the merchant's part; a repeated number answers the first settle."""
    _, _, amount, number, both = step
    left = royalty.settleable_fen(db, trade)
    parts = [Part(receivers[0], amount)] + ([Part(receivers[1], 1)] if both else [])
    total = sum(p.amount_fen for p in parts)
    before = royalty.find_settle(db, trade=trade, out_request_no=f"S{number}")
    try:
        row, moved = royalty.settle(db, trade=trade, out_request_no=f"S{number}", parts=parts)
    except errors.SettleAmountExceeded:
        assert before is None and total > left
        raise
    except errors.TradeError:
        raise
    if moved:
        assert before is None and total <= left and row.amount_fen == total
        assert royalty.settleable_fen(db, trade) == left - total
    else:
        assert before is not None and row.id == before.id

