"""The named cases of the traffic evaluation (issue 19): planted agents in the closed-loop market
and what a finished run did to them.

`plant` puts into a market, per category with at least ten established mini-apps,
- a *bad bidder*: the mini-app at the 10th quality percentile of its category, bidding 25× the
  market's median bid with an unlimited budget;
- two *cheaters* at the 25th and 35th quality percentiles: they misreport their own metrics
  (`traffic_loop.misreport`: fake 5★ ratings, unreported cancellations, refunds and complaints,
  fake fast replies);
and in the two largest categories a *collapse*: the mini-app at the 95th quality percentile
drops to quality 0.08 in the middle of a cycle about a third into the run.
Arrivals are the market's own (a quarter of them top-quartile; the top-decile ones are watched).

The case functions read a played run (its `Book` of observations and the policy's state).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from townsquare.simulation.traffic_loop import Book, LoopConfig, Market

__all__ = ["BidderCase", "bad_bidders", "cheaters", "collapse", "newcomers", "plant"]

BID_MULTIPLE = 25
COLLAPSED_QUALITY = 0.08


def plant(cfg: LoopConfig, market: Market) -> Market:
    """The market with the planted agents (roles: bad_bidder, cheater, collapse)."""
    q = market.quality
    est = np.flatnonzero(market.arrival < 0)
    bid, budget = market.bid_fen.copy(), market.budget_fen.copy()
    cheats = np.zeros(len(market), dtype=bool)
    collapse_to = np.full(len(market), np.nan)
    roles: dict[str, list[int]] = {"bad_bidder": [], "cheater": [], "collapse": []}
    median_bid = float(np.median(bid[est]))
    sizes = np.bincount(market.category[est], minlength=cfg.categories)
    for c in range(cfg.categories):
        members = est[market.category[est] == c]
        if len(members) < 10:
            continue
        order = members[np.argsort(q[members], kind="stable")]

        def at(share: float, order: np.ndarray = order) -> int:
            return int(order[round(share * (len(order) - 1))])

        bad = at(0.10)
        bid[bad], budget[bad] = round(BID_MULTIPLE * median_bid), 10**12
        roles["bad_bidder"].append(bad)
        for share in (0.25, 0.35):
            cheats[at(share)] = True
            roles["cheater"].append(at(share))
        if c in np.argsort(-sizes, kind="stable")[:2]:
            collapse_to[at(0.95)] = COLLAPSED_QUALITY
            roles["collapse"].append(at(0.95))
    d = cfg.days_per_cycle
    return dataclasses.replace(
        market, bid_fen=bid, budget_fen=budget, cheats=cheats, collapse_to=collapse_to,
        collapse_day=(cfg.cycles // 3) * d + d // 2,
        roles={k: np.array(v, dtype=np.int64) for k, v in roles.items()})


def _exposure(cfg: LoopConfig, market: Market, book: Book) -> np.ndarray:
    """Position-weighted impressions per live day over the run."""
    live_days = np.clip(cfg.days - np.maximum(market.arrival, 0), 1, None)
    exposure: np.ndarray = book.data["attention"][book.offset:].sum(axis=0) / live_days
    return exposure


@dataclass(frozen=True)
class BidderCase:
    ratio: float  # bad bidder's exposure / its category's median good merchant's
    barred: float  # share of cycles its tier was below the sponsored floor (nan: no tiers)


def bad_bidders(cfg: LoopConfig, market: Market, book: Book,
                tiers: list[list[str | None]] | None, min_tier: str) -> list[BidderCase]:
    """One case per bad bidder: its exposure against its category's median good (top-quartile)
    established merchant, and how often the tier floor kept it out of sponsored slots."""
    exposure = _exposure(cfg, market, book)
    est = (market.arrival < 0) & (market.quality >= market.good_cut)
    order = "SABCD"
    out = []
    for i in market.roles.get("bad_bidder", np.zeros(0, dtype=np.int64)).tolist():
        good = est & (market.category == market.category[i])
        bar = float(np.median(exposure[good])) if good.any() else math.nan
        barred = math.nan
        if tiers:
            barred = float(np.mean([t[i] is None or order.index(t[i]) > order.index(min_tier)
                                    for t in tiers]))
        out.append(BidderCase(float(exposure[i]) / max(bar, 1e-9), barred))
    return out


def _percentile(values: np.ndarray, among: np.ndarray) -> np.ndarray:
    """Percentile (0..100) of each value among `among`."""
    ranked = np.sort(among)
    return 100.0 * np.searchsorted(ranked, values, side="right") / len(ranked)


def cheaters(cfg: LoopConfig, market: Market, book: Book) -> tuple[float, float]:
    """Median exposure percentile (among established mini-apps) of the cheaters, and of the
    honest established mini-apps at the same quality percentiles of their categories (20–40)."""
    exposure = _exposure(cfg, market, book)
    est = np.flatnonzero(market.arrival < 0)
    cheats = market.roles.get("cheater", np.zeros(0, dtype=np.int64))
    planted = np.concatenate([v for v in market.roles.values()] or [np.zeros(0, np.int64)])
    honest = []
    for c in np.unique(market.category[est]).tolist():
        members = est[market.category[est] == c]
        pct = _percentile(market.quality[members], market.quality[members])
        honest += members[(pct >= 20) & (pct <= 40) & ~np.isin(members, planted)].tolist()
    among = exposure[est]
    if not len(cheats) or not honest:
        return math.nan, math.nan
    return (float(np.median(_percentile(exposure[cheats], among))),
            float(np.median(_percentile(exposure[np.array(honest)], among))))


def collapse(cfg: LoopConfig, market: Market, book: Book) -> list[tuple[float, float]]:
    """Per collapsed mini-app: cycles from the collapse until its exposure (the mean of a week
    from that day) is at most half its level in the two weeks before and stays there for the
    rest of the run (inf: never), and its feed orders from the collapse on."""
    att = book.data["attention"][book.offset:]
    orders = book.data["feed_orders"][book.offset:]
    day = market.collapse_day
    out = []
    for i in market.roles.get("collapse", np.zeros(0, dtype=np.int64)).tolist():
        before = att[max(0, day - 14):day, i].mean()
        week = np.array([att[d:d + 7, i].mean() for d in range(day, max(day + 1, cfg.days - 6))])
        above = np.flatnonzero(week > 0.5 * before)
        last = int(above[-1]) + 1 if len(above) else 0  # first day from which it stays below
        wait = (last + 1) / cfg.days_per_cycle if last < len(week) else math.inf
        out.append((wait, float(orders[day:, i].sum())))
    return out


def newcomers(cfg: LoopConfig, market: Market, book: Book) -> list[float]:
    """Per top-decile newcomer (quality at or above the 90th percentile of the established,
    at least three cycles to go): cycles (1 = its first) until its cycle's exposure reaches the
    median of established peers of equal quality (same category, quality within ±0.05, else
    ±0.10); inf: never within the run."""
    d = cfg.days_per_cycle
    att = book.data["attention"][book.offset:].reshape(cfg.cycles, d, -1).sum(axis=1)
    est = market.arrival < 0
    planted = np.zeros(len(market), dtype=bool)
    for v in market.roles.values():
        planted[v] = True
    cut = float(np.quantile(market.quality[est], 0.9))
    q = market.quality
    waits = []
    for i in np.flatnonzero((market.arrival >= 0) & (q >= cut)).tolist():
        first = int(market.arrival[i]) // d
        if first > cfg.cycles - 3:
            continue
        same = est & ~planted & (market.category == market.category[i])
        peers = same & (np.abs(q - q[i]) <= 0.05)
        if peers.sum() < 3:
            peers = same & (np.abs(q - q[i]) <= 0.10)
        if peers.sum() < 2:
            continue
        wait = math.inf
        for c in range(first, cfg.cycles):
            if att[c, i] > 0 and att[c, i] >= np.median(att[c, peers]):
                wait = c - first + 1
                break
        waits.append(wait)
    return waits
