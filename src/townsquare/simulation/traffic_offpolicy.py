"""Logged exploration in the traffic loop, and the off-policy estimate of new rankings checked
against the truth.

`Exploring` wraps a policy: every list it composes goes through the product's
`exploration.explore` (ε of the lists replaced by a random draw from the live mini-apps of the
request's category, the propensity of each slot logged). While logging it also writes down what
each *target* ranking (a candidate for the feed, e.g. popularity or the organic score ranking)
would have shown for the same request, and the true expected orders of that list — the
counterfactual truth on the logged requests, which only a simulator knows.

`estimate` fits a simple reward model on the logs (position effect from the random lists; a
mini-app's orders per unit of position × relevance, shrunk to the overall rate) and runs
`off_policy.ips` and `off_policy.doubly_robust` for every target.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from townsquare.simulation.traffic_loop import Book, LoopConfig, Market, slot_order_rate
from townsquare.traffic.serving.exploration import explore
from townsquare.traffic.serving.off_policy import Estimate, doubly_robust, ips

__all__ = ["TARGETS", "Exploring", "SlotLog", "estimate"]

TARGETS = ("popularity", "bid-only", "organic score", "oracle")


@dataclass
class SlotLog:
    """One row per logged slot (parallel lists); targets' columns by target name."""

    app: list[int] = field(default_factory=list)
    position: list[int] = field(default_factory=list)
    propensity: list[float] = field(default_factory=list)
    relevance: list[float] = field(default_factory=list)
    explored: list[bool] = field(default_factory=list)
    reward: list[float] = field(default_factory=list)
    target_app: dict[str, list[int]] = field(default_factory=dict)
    target_relevance: dict[str, list[float]] = field(default_factory=dict)
    target_truth: dict[str, list[float]] = field(default_factory=dict)  # expected orders
    target_supported: dict[str, list[bool]] = field(default_factory=dict)  # propensity > 0


class Exploring:
    """`inner` with ε of its lists randomised within the relevant set and every slot logged."""

    def __init__(self, inner, epsilon: float) -> None:
        self.inner, self.epsilon = inner, epsilon
        self.cfg: LoopConfig = inner.cfg
        self.m: Market = inner.m
        self.name = f"{inner.name}+explore"
        self.log = SlotLog()
        self.keys: dict[str, np.ndarray] = {}

    def __getattr__(self, name: str):  # the inner policy's figures (planner note, tiers)
        return getattr(self.inner, name)

    def start_cycle(self, book: Book, first: int, rng: np.random.Generator) -> None:
        self.inner.start_cycle(book, first, rng)
        self.keys = {"popularity": book.window("orders", first, self.cfg.window_days) + 1.0,
                     "bid-only": self.m.bid_fen.astype(np.float64),
                     "organic score": np.asarray(self.inner.key, dtype=np.float64)}

    def _target(self, name: str, day: int, rel: np.ndarray) -> np.ndarray:
        live = self.inner.live
        key = self.m.quality_at(day) if name == "oracle" else self.keys[name]
        return live[np.argsort(-(key[live] * rel[live]), kind="stable")[: self.cfg.feed_size]]

    def compose(self, book: Book, day: int, g: int, cat: int, rel: np.ndarray) -> list[int]:
        cfg, log = self.cfg, self.log
        ranked = self.inner.compose(book, day, g, cat, rel)
        live = self.inner.live
        relevant = live[self.m.category[live] == cat].tolist()
        rng = np.random.default_rng([cfg.seed, 8, day + cfg.window_days, g])
        shown = explore(ranked, relevant, epsilon=self.epsilon, rng=rng)
        apps = [int(a) for a in shown.items]  # type: ignore[call-overload]
        positions = np.arange(1, len(apps) + 1)
        log.app += apps
        log.position += positions.tolist()
        log.propensity += shown.propensities
        log.relevance += rel[apps].tolist()
        log.explored += [shown.explored] * len(apps)
        for name in TARGETS:
            target = self._target(name, day, rel)[: len(apps)]
            log.target_app.setdefault(name, []).extend(target.tolist())
            log.target_relevance.setdefault(name, []).extend(rel[target].tolist())
            truth = cfg.views * slot_order_rate(self.m, day, target, positions[: len(target)],
                                                rel[target])
            log.target_truth.setdefault(name, []).extend(truth.tolist())
            supported = np.isin(target, relevant) if len(relevant) >= cfg.feed_size else (
                np.zeros(len(target), dtype=bool))
            supported |= target == np.asarray(ranked[: len(target)])
            log.target_supported.setdefault(name, []).extend(supported.tolist())
        return apps

    def rewards(self, feed_orders: np.ndarray) -> None:
        """The day's slot orders, in the order the lists were composed."""
        self.log.reward += feed_orders.astype(np.float64).tolist()


@dataclass(frozen=True)
class OffPolicy:
    """One target ranking: the truth on the logged requests and the two estimates."""

    target: str
    truth: float  # orders per 1,000 impressions had the target served the logged requests
    ips: Estimate
    dr: Estimate
    support: float  # share of the target's slots whose mini-app had a positive propensity


def _reward_model(log: SlotLog, n: int, views: int) -> tuple[np.ndarray, np.ndarray]:
    """Position effect (from the random lists, 1 at the top) and each mini-app's orders per
    impression × position effect × relevance, shrunk to the overall rate."""
    pos = np.asarray(log.position)
    reward = np.asarray(log.reward)
    explored = np.asarray(log.explored)
    k = int(pos.max())
    by_pos = np.array([reward[explored & (pos == p)].mean() if (explored & (pos == p)).any()
                       else np.nan for p in range(1, k + 1)])
    eta = by_pos / by_pos[0] if np.isfinite(by_pos).all() and by_pos[0] > 0 else (
        1.0 / np.log2(np.arange(1, k + 1) + 1.0))
    eta = np.clip(eta, 0.05, None)
    app = np.asarray(log.app)
    unit = views * eta[pos - 1] * np.asarray(log.relevance)
    mass = np.bincount(app, weights=unit, minlength=n)
    orders = np.bincount(app, weights=reward, minlength=n)
    overall = orders.sum() / max(mass.sum(), 1e-9)
    prior = 20.0 * views  # about twenty well-placed impressions' worth
    return eta, (orders + prior * overall) / (mass + prior)


def estimate(log: SlotLog, n: int, views: int) -> list[OffPolicy]:
    """IPS and doubly robust estimates of every target against its truth."""
    eta, theta = _reward_model(log, n, views)
    app, pos = np.asarray(log.app), np.asarray(log.position)
    mu, reward = np.asarray(log.propensity), np.asarray(log.reward)
    impressions = float(len(app) * views)
    predicted = views * eta[pos - 1] * np.asarray(log.relevance) * theta[app]
    out = []
    for name in TARGETS:
        target = np.asarray(log.target_app[name])
        match = (target == app).astype(np.float64)
        supported = (mu > 0).astype(np.float64)
        direct = views * eta[pos - 1] * np.asarray(log.target_relevance[name]) * theta[target]
        out.append(OffPolicy(
            name, 1000.0 * float(np.sum(log.target_truth[name])) / impressions,
            ips(reward, mu, match * supported, impressions=impressions),
            doubly_robust(reward, mu, match * supported, predicted, direct,
                          impressions=impressions),
            support=float(np.mean(log.target_supported[name]))))
    return out
