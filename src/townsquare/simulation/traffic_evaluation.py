"""The closed-loop evaluation run: warm the market up once, then play every traffic policy on it
from the same start (`traffic_loop` is the market and its behaviour, `traffic_policies` the
policies compared)."""

from __future__ import annotations

from collections.abc import Callable

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
from townsquare.simulation.traffic_policies import POLICIES, WarmUp


def run(cfg: LoopConfig, *, policies: list[str] | None = None,
        tick: Callable[[str, int], None] | None = None) -> list[PolicyReport]:
    """Warm up once, then run each policy from the same start; one report per policy.

    Random streams depend on the seed and the day only (not on which policies run), so a
    policy's figures do not change when it runs alone."""
    market = make_market(cfg)
    book = Book.empty(cfg, len(market))
    warm = WarmUp(cfg, market)
    for day in range(-cfg.window_days, 0):
        _day(cfg, market, book, warm, day, np.random.default_rng([cfg.seed, 3, -day]))
    out = []
    for name in policies or list(POLICIES):
        policy = POLICIES[name](cfg, market)
        own = book.copy()
        for cycle in range(cfg.cycles):
            first = cycle * cfg.days_per_cycle
            policy.start_cycle(own, first, np.random.default_rng([cfg.seed, 4, cycle]))
            for day in range(first, first + cfg.days_per_cycle):
                _day(cfg, market, own, policy, day,
                     np.random.default_rng([cfg.seed, 5, day]))
            if tick:
                tick(name, cycle)
        out.append(report(name, cfg, market, own, getattr(policy, "planner_note", "")))
    return out


def _day(cfg: LoopConfig, market: Market, book: Book, policy, day: int,
         rng: np.random.Generator) -> None:
    cats, rel = interests(cfg, market, day)
    apps: list[int] = []
    positions: list[int] = []
    relevance: list[float] = []
    for g in range(cfg.requests_per_day):
        listing = policy.compose(book, day, g, int(cats[g]), rel[g])
        apps.extend(listing)
        positions.extend(range(1, len(listing) + 1))
        relevance.extend(rel[g, listing].tolist())
    simulate_day(market, book, day, np.asarray(apps, dtype=np.int64), np.asarray(positions),
                 np.asarray(relevance), cfg.views, rng)
