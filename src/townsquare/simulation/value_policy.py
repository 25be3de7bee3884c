"""Townsquare's ranking by expected good orders and its quality-floored auction, in the traffic
loop (issue 19, items 3 and 4), beside the as-built policy of `traffic_policies`.

The same plan as `traffic_policies.Townsquare` (scores, tiers, tier incentives, cold start,
`planner.plan_exact`); what changes is serving, through the product's own pure functions:
- guaranteed slots: among the allocations behind their pace, the ones worth most to this list
  first (`serving.value.pacing_priority` of `value.per_look`: relevance × the platform's click-rate
  estimate × P(order | score) × P(good | score));
- sponsored slots: `auction.run_auction` with the operator's defaults as serving reads them
  (`bids.auction_config`: tier ≥ B AND score ≥ 60, rank = bid × quality^2), and one merchant at
  most `ads_max_merchant_share` of the feed's sponsored impressions a day
  (`auction.within_share`);
- the list: `ranking.compose(guaranteed_by_value=True)`: guaranteed and organic items placed
  together by expected good orders, the new-merchant share kept.
A mini-app the model cannot score yet uses its observed-rate percentile (as in the parent).
"""

from __future__ import annotations

import math

import numpy as np

from townsquare.simulation.traffic_loop import Book, LoopConfig, Market
from townsquare.simulation.traffic_policies import Townsquare
from townsquare.traffic.market.auction import within_share
from townsquare.traffic.market.bids import auction_config
from townsquare.traffic.serving import value
from townsquare.traffic.serving.ranking import Fixed

__all__ = ["TownsquareValue"]


class TownsquareValue(Townsquare):
    """The product's serving with the "value" ranking and the quality-floored auction."""

    name = "townsquare+value"

    def __init__(self, cfg: LoopConfig, market: Market) -> None:
        super().__init__(cfg, market)
        self.auction = auction_config(self.tc, slots=len(self.tc.sponsored_positions))

    def start_cycle(self, book: Book, first: int, rng: np.random.Generator) -> None:
        super().start_cycle(book, first, rng)
        score = np.clip(self.key, 0.0, 100.0)  # the score, or the unscored percentile
        self.conv = np.array([self.est_ctr[i] * value.order_rate(float(s)) * value.good_rate(
            float(s)) for i, s in enumerate(score.tolist())])
        self.shown = np.zeros(len(self.m))  # today's sponsored impressions per mini-app

    def _guaranteed(self, day: int, g: int, rel: np.ndarray) -> list[Fixed]:
        cfg, apps = self.cfg, self.plan_apps
        elapsed = (day - self.first + (g + 1) / cfg.requests_per_day) / cfg.days_per_cycle
        behind = self.planned * elapsed - self.delivered
        worth = rel[apps] * self.conv[apps]
        priority = np.array([value.pacing_priority(value=float(w), behind=float(b),
                                                   unit=cfg.views)
                             for w, b in zip(worth.tolist(), behind.tolist(), strict=True)])
        fixed: list[Fixed] = []
        seen: set[int] = set()
        for r in np.argsort(-priority, kind="stable").tolist():
            if priority[r] <= 0 or len(fixed) >= self.tc.max_guaranteed_slots:
                break
            app = int(apps[r])
            if app not in seen:
                seen.add(app)
                fixed.append(Fixed(app, app, self.plan_reasons[r], bool(self.is_new[app]),
                                   promise_id=r, value=float(worth[r])))
        return fixed

    guaranteed_by_value = True  # guaranteed and organic items placed together by value

    def _may_buy(self, i: int) -> bool:
        """Tier ≥ the floor and a score ≥ `ads_min_score` (as `bids.auction_config`)."""
        return (super()._may_buy(i) and not math.isnan(self.score[i])
                and self.score[i] >= self.tc.ads_min_score)

    def _may_bid_now(self, i: int) -> bool:
        """Budget left, and under its share of the day's sponsored impressions."""
        tc = self.tc
        return super()._may_bid_now(i) and within_share(
            own=int(self.shown[i]), total=int(self.shown.sum()),
            cap=tc.ads_max_merchant_share, allowance=tc.ads_share_allowance)

    def _new_spend_day(self) -> None:
        super()._new_spend_day()
        self.shown[:] = 0.0

    def _organic_key(self) -> np.ndarray:
        return self.conv  # expected good orders per look (times relevance)

    def _sponsored_shown(self, i: int) -> None:
        self.shown[i] += self.cfg.views
