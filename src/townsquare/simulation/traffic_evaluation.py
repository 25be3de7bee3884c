"""The closed-loop evaluation run: warm the market up once, then play every traffic policy on it
from the same start (`traffic_loop` is the market and its behaviour, `traffic_policies` the
policies compared)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from townsquare.simulation.traffic_loop import (
    Book,
    LoopConfig,
    Market,
    PolicyReport,
    interests,
    make_market,
    report,
    simulate_day,
)
from townsquare.simulation.traffic_offpolicy import Exploring
from townsquare.simulation.traffic_policies import BASELINES, POLICIES, WarmUp
from townsquare.simulation.value_policy import TownsquareValue

ALL = POLICIES | BASELINES | {TownsquareValue.name: TownsquareValue}
EXPLORE = "townsquare+explore"


@dataclass
class Played:
    """A finished run of one policy: its report, its observations and its final state."""

    report: PolicyReport
    book: Book
    policy: Any


def warm_up(cfg: LoopConfig, market: Market) -> Book:
    """The shared history before the run (a neutral feed)."""
    book = Book.empty(cfg, len(market))
    warm = WarmUp(cfg, market)
    for day in range(-cfg.window_days, 0):
        _day(cfg, market, book, warm, day, np.random.default_rng([cfg.seed, 3, -day]))
    return book


def play(cfg: LoopConfig, market: Market, names: list[str], *, epsilon: float = 0.05,
         tick: Callable[[str, int], None] | None = None) -> list[Played]:
    """Every named policy (`ALL`, or `EXPLORE`: Townsquare as built with ε of its lists
    randomised and logged) from the same warm start on `market`."""
    start = warm_up(cfg, market)
    out = []
    for name in names:
        policy = (Exploring(POLICIES["townsquare"](cfg, market), epsilon) if name == EXPLORE
                  else ALL[name](cfg, market))
        own = start.copy()
        for cycle in range(cfg.cycles):
            first = cycle * cfg.days_per_cycle
            policy.start_cycle(own, first, np.random.default_rng([cfg.seed, 4, cycle]))
            for day in range(first, first + cfg.days_per_cycle):
                orders = _day(cfg, market, own, policy, day,
                              np.random.default_rng([cfg.seed, 5, day]))
                if isinstance(policy, Exploring):
                    policy.rewards(orders)
            if tick:
                tick(name, cycle)
        note = getattr(policy, "planner_note", "") if name != EXPLORE else ""
        out.append(Played(report(name, cfg, market, own, note), own, policy))
    return out


def run(cfg: LoopConfig, *, policies: list[str] | None = None,
        tick: Callable[[str, int], None] | None = None) -> list[PolicyReport]:
    """Warm up once, then run each policy from the same start; one report per policy.

    Random streams depend on the seed and the day only (not on which policies run), so a
    policy's figures do not change when it runs alone."""
    return [p.report for p in play(cfg, make_market(cfg), policies or list(POLICIES),
                                   tick=tick)]


def _day(cfg: LoopConfig, market: Market, book: Book, policy, day: int,
         rng: np.random.Generator) -> np.ndarray:
    cats, rel = interests(cfg, market, day)
    apps: list[int] = []
    positions: list[int] = []
    relevance: list[float] = []
    for g in range(cfg.requests_per_day):
        listing = policy.compose(book, day, g, int(cats[g]), rel[g])
        apps.extend(listing)
        positions.extend(range(1, len(listing) + 1))
        relevance.extend(rel[g, listing].tolist())
    return simulate_day(market, book, day, np.asarray(apps, dtype=np.int64),
                        np.asarray(positions), np.asarray(relevance), cfg.views, rng)
