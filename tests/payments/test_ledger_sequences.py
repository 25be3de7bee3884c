"""Hypothesis: random sequences of payments, refunds, days passing, settlements and withdrawals
keep the ledger's invariants — every balance ≥ 0, the ledger reconciles, the merchant's money is
conserved (pending + available + withdrawn = its parts paid − its parts refunded), fees and
royalties likewise, overdue money does not stay pending after a settlement, and a withdrawal is
refused exactly when it is more than is available."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import count
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.payments import ledger_world
from tests.payments.ledger_world import Shop
from townsquare.core.clock import clock
from townsquare.merchants import service
from townsquare.payments import fees, ledger
from townsquare.payments.ledger import accounts, settlement, withdrawals

shop = ledger_world.shop  # the fixture
SHANGHAI = ZoneInfo("Asia/Shanghai")
ops = st.lists(st.one_of(
    st.tuples(st.just("pay"), st.integers(1, 50_000), st.integers(0, 23)),
    st.tuples(st.just("refund"), st.integers(0, 20), st.floats(0.01, 1.0)),
    st.tuples(st.just("next_day")),
    st.tuples(st.just("settle")),
    st.tuples(st.just("withdraw"), st.integers(1, 60_000)),
), min_size=1, max_size=25)
merchants = count(1)


@hypothesis_settings(max_examples=30, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=ops)
def test_random_sequences_keep_the_invariants(database, settings, shop: Shop, steps):
    settings.withdrawal_daily_max_fen = settings.withdrawal_max_fen = 10**9
    n = next(merchants)
    with database.unit_of_work() as db:  # a merchant of its own for each example
        merchant = service.create_merchant(db, actor=None, owner_username="alice",
                                           name=f"Shop {n}", category_code="food",
                                           cities=["武汉"])
        mid, public = merchant.id, merchant.public_id
        withdrawals.set_payout_card(db, actor=None, merchant_id=public, token="tok",
                                    bank_name="模拟银行", number_masked="6222 **** 0007")
    day = datetime(2026, 12, 7, 0, 5, tzinfo=SHANGHAI)
    clock.freeze(day)
    pending, available = accounts.merchant_pending(mid), accounts.merchant_available(mid)
    trades: list[tuple[fees.Split, list[int], datetime]] = []  # split, [refunded], paid at
    merchant_net = withdrawn = platform_net = 0
    with database.unit_of_work() as db:
        platform_before = ledger.balance(db, accounts.PLATFORM_FEES)
    for i, step in enumerate(steps):
        with database.unit_of_work() as db:
            if step[0] == "pay":
                clock.freeze(day + timedelta(hours=step[2]))
                split = fees.split_for(db, merchant_id=mid, category_id=shop.category_id,
                                       total_fen=step[1])
                ledger.post(db, kind="top_up", reference=f"{n}-top-{i}",
                            legs={accounts.BANK_CLEARING: -step[1], accounts.wallet(n): step[1]})
                ledger.post(db, kind="payment", reference=f"{n}-T{i}",
                            legs=split.legs(accounts.wallet(n), mid))
                trades.append((split, [0], clock.now()))
                merchant_net += split.merchant_fen
                platform_net += split.platform_fen
            elif step[0] == "refund" and trades:
                split, refunded, _ = trades[step[1] % len(trades)]
                left = split.total_fen - refunded[0]
                amount = min(left, max(1, int(left * step[2])))
                if amount:
                    part = fees.split_refund(split, amount, refunded[0])
                    before = ledger.balances(db, [pending, available])
                    try:
                        fees.post_refund(db, part, destination=accounts.wallet(n),
                                         merchant_id=mid, reference=f"{n}-R{i}")
                    except ledger.InsufficientFunds:  # the merchant has withdrawn it
                        assert sum(before.values()) < part.merchant_fen
                    else:
                        refunded[0] += amount
                        merchant_net -= part.merchant_fen
                        platform_net -= part.platform_fen
            elif step[0] == "next_day":
                day += timedelta(days=1)
                clock.freeze(day)
            elif step[0] == "settle":
                settlement.settle_merchant(db, merchant_id=mid, day=clock.now().astimezone(
                    SHANGHAI).date(), settings=settings)
                today = day.replace(hour=0, minute=0)
                recent = sum(s.merchant_fen for s, _, at in trades if at >= today)
                assert ledger.balance(db, pending) <= recent  # nothing overdue stays pending
            elif step[0] == "withdraw":
                had = ledger.balance(db, available)
                try:
                    withdrawals.withdraw(db, actor=None, settings=settings, merchant_id=public,
                                         amount_fen=step[1], idempotency_key=f"w{i}")
                except ledger.InsufficientFunds:
                    assert step[1] > had
                else:
                    assert step[1] <= had
                    withdrawn += step[1]
        with database.unit_of_work() as db:
            held = ledger.balances(db, [pending, available, accounts.wallet(n)])
            assert min(held.values()) >= 0
            assert held[pending] + held[available] + withdrawn == merchant_net
            assert ledger.balance(db, accounts.PLATFORM_FEES) - platform_before == platform_net
    with database.unit_of_work() as db:
        assert ledger.reconcile(db).sound
