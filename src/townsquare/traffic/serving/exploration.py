"""A small, logged share of randomised feed lists, so that a new ranking can be judged on real
logs (`off_policy`) before it serves anyone.

`explore` takes the list the feed would show and the request's relevant set (the mini-apps a
random list may draw from: e.g. the live ones of the request's category or interest). With
probability `epsilon` it shows instead a random draw of as many mini-apps from the relevant set,
in random order; otherwise the list as ranked. Every shown slot carries its *propensity*: the
probability that the logging policy (ranking + exploration) puts that mini-app at that position
for this request,

    μ(a at p) = (1 − ε)·[ranked[p] = a] + ε/|R|·[a ∈ R]

(each position of a random draw is uniform over R by symmetry). Every mini-app of R thus has a
positive propensity at every position, which is what lets inverse propensity scoring estimate
any ranking of R. Deterministic for a given random generator (the caller seeds it, e.g. by
request id, and logs `explored` and the propensities beside the exposure).

Wiring into the real feed (`serving.serve`): after the list is composed, call `explore` with the
composed ids and the request's relevant candidates, show `Explored.items`, and write each
slot's propensity on its exposure row. An explored list keeps no promises: its guaranteed and
sponsored slots count as not delivered (the planner's under-delivery covers them).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Explored", "explore", "propensity"]


@dataclass(frozen=True)
class Explored:
    """What to show, by position, each slot's logging propensity, and whether it was random."""

    items: list[Hashable]
    propensities: list[float]
    explored: bool


def _pool(relevant: Sequence[Hashable], size: int) -> list[Hashable]:
    """The relevant set without repeats; empty when it cannot fill a list of `size`."""
    pool = list(dict.fromkeys(relevant))
    return pool if len(pool) >= size else []


def propensity(item: Hashable, position: int, ranked: Sequence[Hashable],
               relevant: Sequence[Hashable], epsilon: float) -> float:
    """μ(item at 0-based `position`) under `explore(ranked, relevant, epsilon=epsilon)`."""
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must lie in [0, 1], not {epsilon}.")
    pool = _pool(relevant, len(ranked))
    if not pool:  # too few relevant mini-apps: the list is never randomised
        return 1.0 if position < len(ranked) and ranked[position] == item else 0.0
    kept = (1.0 - epsilon) if position < len(ranked) and ranked[position] == item else 0.0
    return kept + (epsilon / len(pool) if item in set(pool) else 0.0)


def explore(ranked: Sequence[Hashable], relevant: Sequence[Hashable], *, epsilon: float,
            rng: np.random.Generator) -> Explored:
    """The list to show: with probability `epsilon` a random draw from `relevant`, else
    `ranked`; with each slot's propensity (see the module)."""
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must lie in [0, 1], not {epsilon}.")
    pool = _pool(relevant, len(ranked))
    explored = bool(pool) and epsilon > 0 and float(rng.random()) < epsilon
    items = ([pool[i] for i in rng.permutation(len(pool))[: len(ranked)].tolist()]
             if explored else list(ranked))
    return Explored(items, [propensity(a, p, ranked, pool, epsilon)
                            for p, a in enumerate(items)], explored)
