"""Budget pacing: a simulated day follows the traffic curve, ends near the budget, never above."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from townsquare.core.errors import ValidationFailed
from townsquare.traffic.market.pacing import (
    DAY_SECONDS,
    TrafficCurve,
    charge,
    decide,
    plan_curve,
    seconds_of_day,
)

HOUR = 3600
# Little at night, a lunch peak and a larger evening peak (hourly weights, midnight first).
PEAKY = TrafficCurve(weights=(1, 0.5, 0.3, 0.2, 0.2, 0.5, 2, 4, 5, 4, 4, 8, 12, 8, 4, 4, 5, 7,
                              12, 15, 10, 6, 3, 2))


def simulate(*, expected: TrafficCurve, actual: TrafficCurve, budget: int, bid: int,
             opportunities: int, seed: int = 7, reserve: int = 10):
    """Walk through a day's auction opportunities (arriving by `actual`), pacing by `expected`.

    Each opportunity the campaign enters becomes a click at a GSP-like price below its bid.
    Returns the spend at each hour boundary and the running spend after every click."""
    rng = random.Random(seed)
    total_weight = sum(actual.weights)
    times: list[float] = []
    for hour, weight in enumerate(actual.weights):
        n = round(opportunities * weight / total_weight)
        times += [hour * HOUR + rng.random() * HOUR for _ in range(n)]
    spent, by_hour, trace = 0, [0] * 25, []
    for t in sorted(times):
        decision = decide(daily_budget_fen=budget, spent_fen=spent, seconds=t, curve=expected,
                          bid_fen=bid, reserve_fen=reserve)
        if decision.participate:
            price = max(reserve, min(decision.max_bid_fen, rng.randint(bid // 2, bid)))
            spent += charge(daily_budget_fen=budget, spent_fen=spent, price_fen=price)
            trace.append(spent)
        by_hour[int(t // HOUR) + 1] = spent
    for h in range(1, 25):  # hours without opportunities keep the previous spend
        by_hour[h] = max(by_hour[h], by_hour[h - 1])
    return by_hour, trace


@pytest.mark.parametrize("curve", [TrafficCurve.uniform(), PEAKY], ids=["uniform", "peaky"])
def test_day_spends_the_budget_evenly_along_the_curve(curve):
    budget, bid = 20_000, 80
    # Five times more clicks on offer than the budget can buy: unpaced, it would be gone by 5am.
    by_hour, trace = simulate(expected=curve, actual=curve, budget=budget, bid=bid,
                              opportunities=5 * budget // 60)
    assert max(trace) <= budget
    assert by_hour[24] >= budget - bid  # ≈ the whole budget by the end of the day
    first_hour_share = curve.share_until(HOUR)
    assert by_hour[1] <= budget * first_hour_share + bid
    if curve == TrafficCurve.uniform():
        assert by_hour[1] <= budget / 24 + bid  # ~1/N of the budget in the first hour
    # Spend tracks the plan all day: never more than one click ahead of it.
    for h in range(1, 25):
        assert by_hour[h] <= budget * curve.share_until(h * HOUR) + bid


def test_without_enough_traffic_spend_stays_below_and_never_overdraws():
    budget = 20_000
    by_hour, trace = simulate(expected=PEAKY, actual=PEAKY, budget=budget, bid=80,
                              opportunities=100)  # at most 8,000 fen of clicks all day
    assert by_hour[24] == trace[-1] <= 8_000
    # Hardly anything is throttled: spend is behind plan except for a moment after midnight.
    assert len(trace) >= 95


def test_wrong_expected_curve_still_capped_and_not_front_loaded():
    budget = 20_000
    # Expected uniform, real traffic peaky: pacing cannot be perfect but is still safe.
    by_hour, trace = simulate(expected=TrafficCurve.uniform(), actual=PEAKY, budget=budget,
                              bid=80, opportunities=2_000)
    assert max(trace) <= budget
    assert by_hour[1] <= budget / 24 + 80
    assert by_hour[24] >= 0.9 * budget


def test_decide_reasons_and_the_bid_cap():
    curve = TrafficCurve.uniform()
    noon = 12 * HOUR
    ok = decide(daily_budget_fen=2_400, spent_fen=1_000, seconds=noon, curve=curve, bid_fen=50)
    assert ok.participate and ok.max_bid_fen == 50 and ok.allowance_fen == 1_200
    ahead = decide(daily_budget_fen=2_400, spent_fen=1_200, seconds=noon, curve=curve, bid_fen=50)
    assert not ahead.participate and ahead.reason == "ahead_of_plan" and ahead.max_bid_fen == 0
    # Near the end of the budget the bid is capped at what remains...
    late = decide(daily_budget_fen=2_400, spent_fen=2_380, seconds=DAY_SECONDS - 1, curve=curve,
                  bid_fen=50, reserve_fen=10)
    assert late.participate and late.max_bid_fen == 20
    # ...and withheld when what remains cannot pay the reserve price.
    low = decide(daily_budget_fen=2_400, spent_fen=2_395, seconds=DAY_SECONDS - 1, curve=curve,
                 bid_fen=50, reserve_fen=10)
    assert not low.participate and low.reason == "below_reserve"
    done = decide(daily_budget_fen=2_400, spent_fen=2_400, seconds=DAY_SECONDS, curve=curve,
                  bid_fen=50)
    assert not done.participate and done.reason == "budget_exhausted"
    zero = decide(daily_budget_fen=0, spent_fen=0, seconds=noon, curve=curve, bid_fen=50)
    assert not zero.participate


def test_charge_never_exceeds_the_remaining_budget():
    assert charge(daily_budget_fen=100, spent_fen=40, price_fen=30) == 30
    assert charge(daily_budget_fen=100, spent_fen=90, price_fen=30) == 10
    assert charge(daily_budget_fen=100, spent_fen=100, price_fen=30) == 0
    assert charge(daily_budget_fen=100, spent_fen=120, price_fen=30) == 0


def test_curve_shares():
    curve = TrafficCurve(weights=(1, 3))
    assert curve.share_until(0) == 0 and curve.share_until(DAY_SECONDS) == 1
    assert curve.share_until(DAY_SECONDS / 2) == pytest.approx(0.25)
    assert curve.share_until(DAY_SECONDS / 4) == pytest.approx(0.125)  # linear inside a slice
    assert curve.share_until(3 * DAY_SECONDS / 4) == pytest.approx(0.625)
    points = [h * HOUR for h in range(25)]
    shares = plan_curve(curve=PEAKY, points=points)
    assert shares == sorted(shares) and shares[0] == 0 and shares[-1] == 1
    assert seconds_of_day(datetime(2026, 3, 1, 1, 30, 15, tzinfo=UTC)) == 5_415


@pytest.mark.parametrize("weights", [(), (0, 0), (1, -1), (1, float("nan")), (1,) * 1441])
def test_invalid_curves_rejected(weights):
    with pytest.raises(ValidationFailed):
        TrafficCurve(weights=weights)


@pytest.mark.parametrize("kwargs", [
    {"daily_budget_fen": -1}, {"spent_fen": -1}, {"seconds": -1}, {"seconds": DAY_SECONDS + 1},
    {"seconds": float("nan")}, {"bid_fen": 0}, {"bid_fen": 1.5}, {"daily_budget_fen": 10.0},
])
def test_invalid_pacing_input_rejected(kwargs):
    args = {"daily_budget_fen": 100, "spent_fen": 0, "seconds": 60.0, "bid_fen": 10,
            "curve": TrafficCurve.uniform()} | kwargs
    with pytest.raises(ValidationFailed):
        decide(**args)


@settings(max_examples=200, deadline=None)
@given(
    budget=st.integers(0, 50_000),
    weights=st.lists(st.floats(0, 100), min_size=1, max_size=48).filter(lambda w: sum(w) > 0),
    events=st.lists(st.tuples(st.floats(0, DAY_SECONDS), st.integers(1, 5_000),
                              st.integers(0, 6)), max_size=300),
)
def test_spend_never_exceeds_budget_even_with_late_clicks(budget, weights, events):
    """Impressions enter at the pacing's word; their clicks are charged later, in any number."""
    curve = TrafficCurve(weights=tuple(weights))
    spent, pending = 0, []
    for t, bid, delay in sorted(events):
        decision = decide(daily_budget_fen=budget, spent_fen=spent, seconds=t, curve=curve,
                          bid_fen=bid)
        if decision.participate:
            assert decision.max_bid_fen <= budget - spent
            pending.append([delay, decision.max_bid_fen])
        for click in pending:  # clicks land `delay` events after their impression
            click[0] -= 1
        for _, price in [c for c in pending if c[0] < 0]:
            spent += charge(daily_budget_fen=budget, spent_fen=spent, price_fen=price)
            assert 0 <= spent <= budget
        pending = [c for c in pending if c[0] >= 0]
    for _, price in pending:
        spent += charge(daily_budget_fen=budget, spent_fen=spent, price_fen=price)
    assert spent <= budget
