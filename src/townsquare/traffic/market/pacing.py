"""Budget pacing for paid exposure: spend a daily budget along the day's traffic, never above it.

Pure code (no database). The throttle is a budget-per-time-slice rule: by time t of the day a
campaign may have spent `budget × F(t)`, where F is the cumulative share of the day's expected
traffic up to t (piecewise linear inside each slice of the curve). A bid takes part only while
the spend is below that allowance, so a budget follows the traffic curve instead of being burnt
in the first hour, and the end of the day (F = 1) releases whatever was not spent. The hard cap is
separate from the throttle: a bid never offers more than the remaining budget, and a click is
never charged more than what remains, so spend cannot exceed the budget even when clicks arrive
after the impression that earned them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from townsquare.core.errors import ValidationFailed

__all__ = [
    "DAY_SECONDS", "PacingDecision", "TrafficCurve", "charge", "decide", "plan_curve",
    "seconds_of_day",
]

DAY_SECONDS = 86_400


@dataclass(frozen=True)
class TrafficCurve:
    """The expected share of a day's traffic per equal time slice (e.g. 24 hourly weights)."""

    weights: tuple[float, ...]
    _cumulative: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        weights = tuple(float(w) for w in self.weights)
        if not 1 <= len(weights) <= 1440:
            raise ValidationFailed("A traffic curve has 1 to {n} slices.", n=1440)
        if any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
            raise ValidationFailed("Traffic weights are finite, non-negative and not all zero.")
        total = sum(weights)
        cumulative = [0.0]
        for w in weights:
            cumulative.append(cumulative[-1] + w / total)
        cumulative[-1] = 1.0  # no rounding gap at midnight: the whole budget is released
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "_cumulative", tuple(cumulative))

    @classmethod
    def uniform(cls, *, slices: int = 24) -> TrafficCurve:
        """Equal traffic all day."""
        return cls(weights=(1.0,) * slices)

    @property
    def slice_seconds(self) -> float:
        return DAY_SECONDS / len(self.weights)

    def share_until(self, seconds: float) -> float:
        """F(t): the expected share of the day's traffic from midnight up to `seconds`."""
        if seconds <= 0:
            return 0.0
        if seconds >= DAY_SECONDS:
            return 1.0
        position = seconds / self.slice_seconds
        i = min(int(position), len(self.weights) - 1)
        lo, hi = self._cumulative[i], self._cumulative[i + 1]
        return lo + (hi - lo) * (position - i)


@dataclass(frozen=True, slots=True)
class PacingDecision:
    """Whether a bid takes part now, and the most it may offer per click (0 when withheld)."""

    participate: bool
    max_bid_fen: int
    allowance_fen: int  # what the pacing plan allows to have been spent by now
    reason: str  # "ok", "ahead_of_plan", "budget_exhausted", "below_reserve"


def seconds_of_day(moment: datetime) -> float:
    """Seconds since the local midnight of an aware datetime (convert to the city's zone first)."""
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return (moment - midnight).total_seconds()


def _check_budget(daily_budget_fen: int, spent_fen: int) -> None:
    for value in (daily_budget_fen, spent_fen):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationFailed("Budgets and spend are whole numbers of fen.")
    if daily_budget_fen < 0 or spent_fen < 0:
        raise ValidationFailed("Budgets and spend are never negative.")


def decide(
    *,
    daily_budget_fen: int,
    spent_fen: int,
    seconds: float,
    curve: TrafficCurve,
    bid_fen: int,
    reserve_fen: int = 1,
) -> PacingDecision:
    """Whether a campaign's bid enters an auction at `seconds` into the day, given its spend."""
    _check_budget(daily_budget_fen, spent_fen)
    if not 0 <= seconds <= DAY_SECONDS:  # also rejects NaN
        raise ValidationFailed("A time of day is 0 to {n} seconds.", n=DAY_SECONDS)
    if isinstance(bid_fen, bool) or not isinstance(bid_fen, int) or bid_fen < 1:
        raise ValidationFailed("A bid is a whole number of fen, at least 1.")
    allowance = math.floor(daily_budget_fen * curve.share_until(seconds))
    remaining = daily_budget_fen - spent_fen
    # Cap the bid at the remaining budget: the auction never prices above a bid, so no single
    # click can overdraw the budget.
    max_bid = min(bid_fen, max(0, remaining))
    if remaining <= 0:
        return PacingDecision(False, 0, allowance, "budget_exhausted")
    if max_bid < reserve_fen:
        # What is left cannot pay even the reserve price: withhold rather than overdraw.
        return PacingDecision(False, 0, allowance, "below_reserve")
    if spent_fen >= allowance:
        return PacingDecision(False, 0, allowance, "ahead_of_plan")
    return PacingDecision(True, max_bid, allowance, "ok")


def charge(*, daily_budget_fen: int, spent_fen: int, price_fen: int) -> int:
    """What a click actually costs: its price, but never more than the budget that remains."""
    _check_budget(daily_budget_fen, spent_fen)
    if isinstance(price_fen, bool) or not isinstance(price_fen, int) or price_fen < 0:
        raise ValidationFailed("A price is a whole, non-negative number of fen.")
    return max(0, min(price_fen, daily_budget_fen - spent_fen))


def plan_curve(*, curve: TrafficCurve, points: Sequence[float]) -> list[float]:
    """F(t) at each of `points` (seconds): the planned cumulative spend share, for charts."""
    return [curve.share_until(t) for t in points]
