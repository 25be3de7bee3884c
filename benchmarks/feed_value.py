"""Feed conversion and the bad bidder (not a test): the as-built serving against the "value"
ranking and the quality-floored auction (issue 19, items 3 and 4), in the closed-loop traffic
simulator, over several seeds.

    PYTHONPATH=src .venv/bin/python benchmarks/feed_value.py [--seeds 7 11 13 --merchants 800
        --cycles 12]

Policies (same market, same warm-up, same resident interests per seed):
- as built: `traffic_policies.Townsquare` with the old paid-traffic defaults (tier ≥ C, no score
  floor, rank = bid × quality, no share cap); guaranteed slots most behind first, organic by
  score × relevance;
- relevant pacing: the same, guaranteed slots by relevance among those behind
  (`TownsquareRelevantPacing`);
- value: `simulation.value_policy.TownsquareValue` with today's defaults (tier ≥ B AND score ≥
  60, rank = bid × quality^2, ≤ 25 % of the feed's sponsored impressions per merchant a day,
  the list ranked by expected good orders);
- random within relevance: a random order of the list's category's live mini-apps;
- oracle: live mini-apps by true quality q × relevance (what no platform can see).
Bad bidder: in every category the established mini-app nearest the category's 15th percentile of
q bids 25× the market's median bid with an unlimited budget; a case is lost when its exposure
per live day (impressions × 1/log2(position + 1)) exceeds the median of its category's good
(top-quartile q) established mini-apps.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

from townsquare.simulation.traffic_loop import (  # noqa: E402
    Book,
    LoopConfig,
    Market,
    interests,
    make_market,
    report,
    simulate_day,
)
from townsquare.simulation.traffic_policies import (  # noqa: E402
    Townsquare,
    TownsquareRelevantPacing,
    WarmUp,
)
from townsquare.simulation.value_policy import TownsquareValue  # noqa: E402
from townsquare.traffic.config import DEFAULT_CONFIG  # noqa: E402
from townsquare.traffic.market.auction import AuctionConfig  # noqa: E402

OLD = DEFAULT_CONFIG.model_copy(update={"ads_min_tier": "C", "ads_min_score": 0.0,
                                        "ads_quality_exponent": 1.0,
                                        "ads_max_merchant_share": 1.0, "ranking": "quality"})


class _Old:
    """The paid-traffic defaults before issue 19 (tier ≥ C, bid × quality, no cap)."""

    def __init__(self, cfg: LoopConfig, market: Market) -> None:
        super().__init__(cfg, market)  # type: ignore[call-arg]
        self.tc = OLD
        self.auction = AuctionConfig(slots=len(OLD.sponsored_positions),
                                     reserve_fen=OLD.reserve_cpc_fen, min_tier="C")


class AsBuilt(_Old, Townsquare):
    name = "as built"


class RelevantPacing(_Old, TownsquareRelevantPacing):
    name = "relevant pacing"


class Value(TownsquareValue):
    name = "value (new)"


class _Keyed:
    def __init__(self, cfg: LoopConfig, market: Market) -> None:
        self.cfg, self.m = cfg, market
        self.live = np.flatnonzero(market.arrival < 0)

    def start_cycle(self, book: Book, first: int, rng: np.random.Generator) -> None:
        self.live = np.flatnonzero(self.m.arrival <= first)
        self.rng = np.random.default_rng([self.cfg.seed, 9, first])


class RandomRelevant(_Keyed):
    name = "random within relevance"

    def compose(self, book: Book, day: int, g: int, cat: int, rel: np.ndarray) -> list[int]:
        pool = self.live[self.m.category[self.live] == cat]
        rest = self.live[self.m.category[self.live] != cat]
        picked = self.rng.permutation(pool)[: self.cfg.feed_size].tolist()
        if len(picked) < self.cfg.feed_size:  # a small category: the most relevant others
            top = rest[np.argsort(-rel[rest], kind="stable")]
            picked += top[: self.cfg.feed_size - len(picked)].tolist()
        return picked


class Oracle(_Keyed):
    name = "oracle (true quality)"

    def compose(self, book: Book, day: int, g: int, cat: int, rel: np.ndarray) -> list[int]:
        live = self.live
        top = np.argsort(-(self.m.quality[live] * rel[live]), kind="stable")
        return live[top[: self.cfg.feed_size]].tolist()


POLICIES = [AsBuilt, RelevantPacing, Value, RandomRelevant, Oracle]


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


def play(cfg: LoopConfig, market: Market, policies: list) -> dict[str, tuple]:
    """Warm up once, then each policy from the same start: name -> (report, book, policy)."""
    book = Book.empty(cfg, len(market))
    warm = WarmUp(cfg, market)
    for day in range(-cfg.window_days, 0):
        _day(cfg, market, book, warm, day, np.random.default_rng([cfg.seed, 3, -day]))
    out = {}
    for kind in policies:
        policy = kind(cfg, market)
        own = book.copy()
        for cycle in range(cfg.cycles):
            first = cycle * cfg.days_per_cycle
            policy.start_cycle(own, first, np.random.default_rng([cfg.seed, 4, cycle]))
            for day in range(first, first + cfg.days_per_cycle):
                _day(cfg, market, own, policy, day, np.random.default_rng([cfg.seed, 5, day]))
        out[kind.name] = (report(kind.name, cfg, market, own, getattr(policy, "planner_note", "")),
                          own, policy)
    return out


def bad_bidders(cfg: LoopConfig, market: Market, quantile: float = 0.15) -> dict[int, int]:
    """Per category, the established mini-app nearest its `quantile` of q, made to bid 25×
    the median bid with an unlimited budget (in place): category -> mini-app."""
    established = market.arrival < 0
    median_bid = float(np.median(market.bid_fen[established]))
    chosen = {}
    for c in range(cfg.categories):
        idx = np.flatnonzero(established & (market.category == c))
        if len(idx) < 8:
            continue
        q = market.quality[idx]
        i = int(idx[np.argmin(np.abs(q - np.quantile(q, quantile)))])
        market.bid_fen[i] = round(25 * median_bid)
        market.budget_fen[i] = 10**15
        chosen[c] = i
    return chosen


def exposure_per_day(cfg: LoopConfig, market: Market, book: Book) -> np.ndarray:
    att = book.data["attention"][book.offset:].sum(axis=0)
    live_days = np.clip(cfg.days - np.maximum(market.arrival, 0), 1, None)
    return att / live_days


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 11, 13])
    parser.add_argument("--merchants", type=int, default=800)
    parser.add_argument("--cycles", type=int, default=12)
    parser.add_argument("--bad-quantile", type=float, default=0.15,
                        help="where in its category's quality the bad bidder sits")
    parser.add_argument("--bad-only", action="store_true", help="only the bad-bidder case")
    args = parser.parse_args()
    started = time.perf_counter()
    rows: dict[str, list] = {}
    lost: dict[str, list[int]] = {AsBuilt.name: [], Value.name: []}
    ratios: dict[str, list[float]] = {AsBuilt.name: [], Value.name: []}
    for seed in args.seeds:
        cfg = LoopConfig(merchants=args.merchants, cycles=args.cycles, seed=seed)
        if not args.bad_only:
            result = play(cfg, make_market(cfg), POLICIES)
            for name, (r, _book, _p) in result.items():
                rows.setdefault(name, []).append(r)
        market = make_market(cfg)
        chosen = bad_bidders(cfg, market, args.bad_quantile)
        result = play(cfg, market, [AsBuilt, Value])
        good = (market.quality >= market.good_cut) & (market.arrival < 0)
        for name, (_r, book, _p) in result.items():
            exp = exposure_per_day(cfg, market, book)
            for c, i in chosen.items():
                bar = float(np.median(exp[good & (market.category == c)]))
                lost[name].append(int(exp[i] > bar))
                ratios[name].append(exp[i] / max(bar, 1e-9))
        print(f"seed {seed} done ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    print(f"seeds {args.seeds}, {args.merchants} merchants, {args.cycles} cycles; "
          f"{time.perf_counter() - started:.0f} s\n")
    if rows:
        _conversion_table(rows)
    print(f"\n| bad bidder at q's {args.bad_quantile:.0%} point (25× median bid, unlimited "
          "budget) | cases out-exposing the category's median good merchant | its exposure ÷ "
          "that median (median, max) |")
    print("|---|---:|---:|")
    for name, cases in lost.items():
        r = ratios[name]
        print(f"| {name} | {sum(cases)} of {len(cases)} | {statistics.median(r):.2f}, "
              f"{max(r):.2f} |")


def _conversion_table(rows: dict[str, list]) -> None:
    oracle = rows[Oracle.name]
    print("| policy | orders / 1000 feed impressions (mean ± sd over seeds) | share of oracle "
          "| Spearman(exposure, q) | promises |")
    print("|---|---:|---:|---:|---|")
    for name, reports in rows.items():
        o = [r.orders_per_1000 for r in reports]
        share = [r.orders_per_1000 / x.orders_per_1000 for r, x in zip(reports, oracle,
                                                                         strict=True)]
        sp = [r.spearman for r in reports]
        note = reports[0].planner.split("; ")[-1] if reports[0].planner else ""
        print(f"| {name} | {statistics.mean(o):.1f} ± {statistics.pstdev(o):.1f} | "
              f"{statistics.mean(share):.0%} | {statistics.mean(sp):.2f} | {note} |")


if __name__ == "__main__":
    main()
