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

from townsquare.simulation.traffic_loop import Book, LoopConfig, Market, examination
from townsquare.simulation.traffic_policies import Townsquare
from townsquare.traffic.market.auction import Bid, run_auction, tier_at_least, within_share
from townsquare.traffic.market.bids import auction_config
from townsquare.traffic.serving import value
from townsquare.traffic.serving.ranking import Candidate, Fixed, compose

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

    def _sponsored(self, day: int, cat: int, exclude: set[int]) -> list[Fixed]:
        m, tc = self.m, self.tc
        if day != self.spend_day:
            self.spent[:] = 0.0
            self.shown[:] = 0.0
            self.spend_day = day
        if cat not in self.bidders:
            self.bidders[cat] = [
                Bid(str(i), int(m.bid_fen[i]), float(self.score[i]), self.tier[i])
                for i in self.live[m.category[self.live] == cat].tolist()
                if tier_at_least(self.tier[i], tc.ads_min_tier)
                and not math.isnan(self.score[i]) and self.score[i] >= tc.ads_min_score
            ]
        total = int(self.shown.sum())
        bids = tuple(
            b for b in self.bidders[cat] if int(b.miniapp_id) not in exclude
            and self.spent[int(b.miniapp_id)] < m.budget_fen[int(b.miniapp_id)]
            and within_share(own=int(self.shown[int(b.miniapp_id)]), total=total,
                             cap=tc.ads_max_merchant_share, allowance=tc.ads_share_allowance))
        if bids not in self.auctions:
            self.auctions[bids] = [
                Fixed(int(p.miniapp_id), int(p.miniapp_id), "sponsored",
                      bool(self.is_new[int(p.miniapp_id)]), price_fen=p.price_fen)
                for p in run_auction(bids=bids, config=self.auction).placements
            ]
        return self.auctions[bids]

    def compose(self, book: Book, day: int, g: int, cat: int, rel: np.ndarray) -> list[int]:
        cfg, tc = self.cfg, self.tc
        guaranteed = self._guaranteed(day, g, rel)
        sponsored = self._sponsored(day, cat, {f.miniapp_id for f in guaranteed})
        k = cfg.feed_size + len(guaranteed) + len(sponsored)
        live = self.live
        worth = self.conv[live] * rel[live]
        best = live[np.argsort(-worth, kind="stable")[:k]]
        new = live[self.is_new[live]]
        best_new = new[np.argsort(-(self.conv[new] * rel[new]), kind="stable")[:k]]
        organic = [Candidate(i, i, float(self.conv[i]), float(rel[i]), bool(self.is_new[i]))
                   for i in dict.fromkeys([*best.tolist(), *best_new.tolist()])]
        slots = compose(size=cfg.feed_size, pinned=[], guaranteed=guaranteed, sponsored=sponsored,
                        sponsored_positions=tc.sponsored_positions, organic=organic,
                        new_share=tc.new_merchant_min_share, guaranteed_by_value=True)
        for s in slots:
            if s.reason in ("guaranteed", "cold_start"):
                self.delivered[s.promise_id] += cfg.views
            elif s.reason == "sponsored":
                clicks = cfg.views * examination(s.position) * self.est_ctr[s.miniapp_id]
                self.spent[s.miniapp_id] += clicks * (s.price_fen or 0)
                self.shown[s.miniapp_id] += cfg.views
        return [s.miniapp_id for s in slots]
