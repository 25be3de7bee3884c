"""The policies the traffic loop compares: Townsquare's and two baselines (plus the warm-up).

A policy sees only observations (the `Book`), never the hidden quality. Each cycle it may
re-plan (`start_cycle`); for every distinct list it returns the mini-app indices by position
(`compose`).

Townsquare (per cycle, with the product's own pure parts and the default `TrafficConfig`):
- scores and tiers from the real score model (`scoring.model.score.score_all`,
  `tiers.assign_tiers`) on the last `window_days` of observations;
- tier incentives (S/A/B impressions) and the cold-start pool (`coldstart.allocate_pool`,
  Thompson sampling with category priors) become the demands of one plan solved exactly by
  `planner.plan_exact` (OR-Tools min-cost flow; a few hundred demands, milliseconds). The
  config's amounts are scaled once so that all promises fill 90 % of the guaranteed supply (the
  config's numbers are sized for the demo city, not this market);
- serving per list: guaranteed slots (≤ `max_guaranteed_slots`, most behind their paced plan
  first; the `+relevant-pacing` variant prefers, among those behind, the relevant ones), then
  sponsored slots (excluding mini-apps already in a guaranteed slot) at `sponsored_positions`
  by `auction.run_auction` (bid × quality, GSP, tier floor) within daily budgets, organic by
  score × relevance, all through `ranking.compose` with the new-merchant share. A mini-app
  the model cannot score yet (too little data) is ranked organically by its observed orders
  per impression (posterior mean under the category prior) as a percentile of its scored
  peers', so it is judged on evidence, not on a default.
Baselines: popularity ranks by orders in the window × relevance; bid-only by bid × relevance;
random-within-relevance ranks by a fresh random weight per list × relevance;
the oracle ranks by the hidden quality (on the day) × relevance — a ceiling no policy can see.
"""

from __future__ import annotations

import numpy as np

from townsquare.scoring.model.config import DEFAULT_CONFIG as SCORING
from townsquare.scoring.model.score import score_all
from townsquare.scoring.model.tiers import assign_tiers
from townsquare.simulation.traffic_loop import Book, LoopConfig, Market, examination, metric_rows
from townsquare.traffic.config import DEFAULT_CONFIG as TRAFFIC
from townsquare.traffic.market.auction import AuctionConfig, Bid, run_auction, tier_at_least
from townsquare.traffic.planning.planner import Demand, Segment, plan_exact
from townsquare.traffic.serving.ranking import Candidate, Fixed, compose
from townsquare.traffic.support import coldstart

__all__ = ["POLICIES", "BidOnly", "Oracle", "Popularity", "RandomRelevant", "Townsquare",
           "TownsquareRelevantPacing", "WarmUp"]

FILL = 0.9  # scaled promises fill this share of the guaranteed supply


class _Ranked:
    """A policy that ranks live mini-apps by key × relevance (subclasses set `key`)."""

    name = "base"

    def __init__(self, cfg: LoopConfig, market: Market) -> None:
        self.cfg, self.m = cfg, market
        self.key = np.ones(len(market))
        self.live = np.flatnonzero(market.arrival < 0)

    def start_cycle(self, book: Book, first: int, rng: np.random.Generator) -> None:
        self.live = np.flatnonzero(self.m.arrival <= first)

    def compose(self, book: Book, day: int, g: int, cat: int, rel: np.ndarray) -> list[int]:
        score = self.key[self.live] * rel[self.live]
        top = np.argsort(-score, kind="stable")[: self.cfg.feed_size]
        return self.live[top].tolist()


class WarmUp(_Ranked):
    """The history before the run: a neutral feed (a fixed random weight × relevance)."""

    name = "warm-up"

    def __init__(self, cfg: LoopConfig, market: Market) -> None:
        super().__init__(cfg, market)
        self.key = np.random.default_rng([cfg.seed, 6]).random(len(market))


class Popularity(_Ranked):
    name = "popularity"

    def start_cycle(self, book: Book, first: int, rng: np.random.Generator) -> None:
        super().start_cycle(book, first, rng)
        self.key = book.window("orders", first, self.cfg.window_days) + 1.0


class BidOnly(_Ranked):
    name = "bid-only"

    def __init__(self, cfg: LoopConfig, market: Market) -> None:
        super().__init__(cfg, market)
        self.key = market.bid_fen.astype(np.float64)


class RandomRelevant(_Ranked):
    """A fresh random weight per list × relevance: relevant mini-apps in a random order."""

    name = "random-within-relevance"

    def compose(self, book: Book, day: int, g: int, cat: int, rel: np.ndarray) -> list[int]:
        rng = np.random.default_rng([self.cfg.seed, 9, day + self.cfg.window_days, g])
        self.key = rng.random(len(self.m))
        return super().compose(book, day, g, cat, rel)


class Oracle(_Ranked):
    """Hidden quality on the day × relevance: what a platform that knew q would show."""

    name = "oracle"

    def compose(self, book: Book, day: int, g: int, cat: int, rel: np.ndarray) -> list[int]:
        self.key = self.m.quality_at(day)
        return super().compose(book, day, g, cat, rel)


class Townsquare(_Ranked):
    """The product's policy. The plan has one segment, the feed: the product's segments (surface
    × city × part of day × audience) say nothing about what the resident is after, and this
    market has one city and no parts of day. Serving takes the allocations most behind their
    pace first, as the product's serving does."""

    name = "townsquare"
    relevance_pacing = False

    def __init__(self, cfg: LoopConfig, market: Market) -> None:
        super().__init__(cfg, market)
        self.tc = TRAFFIC
        self.scale: float | None = None
        self.plan_apps = np.zeros(0, dtype=np.int64)
        self.plan_reasons: list[str] = []
        self.planned = np.zeros(0)
        self.delivered = np.zeros(0)
        self.kept = [0.0, 0.0]  # Σ min(delivered, planned), Σ planned of finished cycles
        self.demands = self.segments = 0
        self.tier_log: list[list[str | None]] = []  # every cycle's tiers (for the evaluation)
        self.auction = AuctionConfig(slots=len(self.tc.sponsored_positions),
                                     reserve_fen=self.tc.reserve_cpc_fen,
                                     min_tier=self.tc.ads_min_tier)

    @property
    def planner_note(self) -> str:
        """How guaranteed exposure was planned, and how much of it serving delivered."""
        kept, planned = self.kept
        kept += float(np.minimum(self.delivered, self.planned).sum())
        planned += float(self.planned.sum())
        return (f"plan_exact (OR-Tools min-cost flow) per cycle, ~{self.demands} demands × "
                f"{self.segments} segment(s); {kept / max(planned, 1.0):.1%} of planned "
                f"impressions delivered")

    # ---------------------------------------------------------------- per cycle
    def start_cycle(self, book: Book, first: int, rng: np.random.Generator) -> None:
        cfg, m = self.cfg, self.m
        super().start_cycle(book, first, rng)
        # Book the finished cycle's promises before planning the next.
        self.kept[0] += float(np.minimum(self.delivered, self.planned).sum())
        self.kept[1] += float(self.planned.sum())
        self.first = first
        n = len(m)
        rows = metric_rows(m, book, end_day=first, window=cfg.window_days, rng=rng)
        results = score_all(rows, SCORING)
        self.score = np.full(n, np.nan)
        for r in results:
            if r.state == "scored":
                self.score[r.miniapp_id] = r.overall
        self.tier: list[str | None] = [None] * n
        for i, decision in assign_tiers(results, SCORING).items():
            if not isinstance(i, int):
                raise TypeError(f"A simulated mini-app is numbered, not {i!r}.")
            self.tier[i] = decision.tier
        self.tier_log.append(list(self.tier))
        self.is_new = (first - m.arrival) < cfg.new_days
        self._estimate_unscored(book, first)
        self._plan(book, first, rng)
        imp = book.window("feed_imp", first, cfg.window_days)
        clk = book.window("feed_clicks", first, cfg.window_days)
        self.est_ctr = (clk + 1.0) / (imp + 20.0)  # the platform's own click-rate estimate
        self.spent = np.zeros(n)
        self.spend_day = first
        self.bidders: dict[int, list[Bid]] = {}
        self.auctions: dict[tuple[Bid, ...], list[Fixed]] = {}

    def _arms(self, book: Book, first: int, idx: np.ndarray, days: int) -> list[coldstart.Arm]:
        imp, clk, ordr = (book.window(f, first, days) for f in
                          ("feed_imp", "feed_clicks", "feed_orders"))
        return [coldstart.Arm(int(i), f"c{self.m.category[i]}", int(imp[i]), int(clk[i]),
                              int(ordr[i])) for i in idx.tolist()]

    def _estimate_unscored(self, book: Book, first: int) -> None:
        """Key = score; an unscored mini-app gets its rate's percentile among scored peers."""
        cfg, m = self.cfg, self.m
        scored = np.flatnonzero(~np.isnan(self.score))
        strength = self.tc.cold_start_prior_strength
        self.priors = coldstart.category_priors(
            self._arms(book, first, scored, cfg.window_days), strength=strength)
        rate = np.zeros(len(m))
        for arm in self._arms(book, first, self.live, first + book.offset):
            p = coldstart.prior_for(arm.category, self.priors)
            rate[arm.miniapp_id] = (
                (p.click_rate * strength + arm.clicks) / (strength + arm.impressions)
                * (p.order_rate * strength + arm.orders) / (strength + arm.clicks)
            )
        self.key = np.where(np.isnan(self.score), 0.0, self.score)
        for i in np.setdiff1d(self.live, scored).tolist():
            peers = scored[m.category[scored] == m.category[i]]
            self.key[i] = 100.0 * float(np.mean(rate[peers] < rate[i])) if len(peers) else 50.0

    def _plan(self, book: Book, first: int, rng: np.random.Generator) -> None:
        cfg, tc = self.cfg, self.tc
        per_list = min(tc.max_guaranteed_slots, int(tc.guaranteed_share * cfg.feed_size))
        supply = int(cfg.requests_per_day * cfg.days_per_cycle * per_list * cfg.views)
        segments = [Segment("feed", supply)]
        tiered = [(i, t) for i in self.live.tolist()
                  if (t := self.tier[i]) is not None and tc.tier_impressions.get(t, 0) > 0]
        new = self.live[self.is_new[self.live]]
        if self.scale is None:  # once: the config's proportions, sized to this market
            asked = sum(tc.tier_impressions[t] for _, t in tiered) + tc.cold_start_pool
            self.scale = FILL * supply / max(1, asked)
        pool = coldstart.allocate_pool(
            self._arms(book, first, new, first + book.offset), priors=self.priors,
            pool=round(tc.cold_start_pool * self.scale),
            cap=round(tc.cold_start_max_per_miniapp * self.scale),
            strength=tc.cold_start_prior_strength, rng=rng)
        demands = [self._demand(f"t{i}", "tier_incentive", i,
                                round(tc.tier_impressions[t] * self.scale)) for i, t in tiered]
        demands += [self._demand(f"n{i}", "cold_start", i, k) for i, k in pool.items() if k > 0]
        plan = plan_exact(segments=segments, demands=demands, priorities=tc.priorities)
        self.demands, self.segments = len(demands), len(segments)
        # Allocation rows (mini-app, reason, planned); serving counts what it delivers.
        items = [(int(d[1:]), "guaranteed" if d[0] == "t" else "cold_start", k)
                 for d, _, k in plan.allocations]
        self.plan_apps = np.array([a for a, _, _ in items], dtype=np.int64)
        self.plan_reasons = [r for _, r, _ in items]
        self.planned = np.array([k for _, _, k in items], dtype=np.float64)
        self.delivered = np.zeros(len(items))

    def _demand(self, id_: str, kind: str, i: int, amount: int) -> Demand:
        return Demand(id_, kind, amount, self.tc.underdelivery_penalty[kind], self.key[i] / 100,
                      ("feed",))

    # ---------------------------------------------------------------- per list
    def _guaranteed(self, day: int, g: int, rel: np.ndarray) -> list[Fixed]:
        cfg, apps = self.cfg, self.plan_apps
        elapsed = (day - self.first + (g + 1) / cfg.requests_per_day) / cfg.days_per_cycle
        behind = self.planned * elapsed - self.delivered
        if self.relevance_pacing:
            # Among allocations behind their pace, the ones this resident cares about first
            # (a slot's worth behind counts fully; a sliver behind counts a sliver).
            priority = np.where(behind > 0, rel[apps] * np.minimum(1.0, behind / cfg.views), 0)
        else:
            priority = np.where(behind > 0, behind, 0)
        fixed: list[Fixed] = []
        seen: set[int] = set()
        for r in np.argsort(-priority, kind="stable").tolist():
            if priority[r] <= 0 or len(fixed) >= self.tc.max_guaranteed_slots:
                break
            app = int(apps[r])
            if app not in seen:
                seen.add(app)
                fixed.append(Fixed(app, app, self.plan_reasons[r], bool(self.is_new[app]),
                                   promise_id=r))
        return fixed

    def _may_buy(self, i: int) -> bool:
        """Whether mini-app `i` may bid for sponsored slots this cycle (the rest cannot buy)."""
        return tier_at_least(self.tier[i], self.tc.ads_min_tier)

    def _may_bid_now(self, i: int) -> bool:
        """Whether an eligible bidder takes part in this list's auction (its budget left)."""
        return bool(self.spent[i] < self.m.budget_fen[i])

    def _new_spend_day(self) -> None:
        self.spent[:] = 0.0

    def _sponsored(self, day: int, cat: int, exclude: set[int]) -> list[Fixed]:
        m = self.m
        if day != self.spend_day:
            self._new_spend_day()
            self.spend_day = day
        if cat not in self.bidders:
            self.bidders[cat] = [
                Bid(str(i), int(m.bid_fen[i]), float(self.score[i]), self.tier[i])
                for i in self.live[m.category[self.live] == cat].tolist() if self._may_buy(i)
            ]
        # Like `bids.sponsored(exclude=...)`: a mini-app already in a guaranteed slot of this
        # list does not also take a sponsored one (its promise would go undelivered).
        bids = tuple(b for b in self.bidders[cat] if int(b.miniapp_id) not in exclude
                     and self._may_bid_now(int(b.miniapp_id)))
        if bids not in self.auctions:  # the result only changes when a budget runs out
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
        # Only the best few can be placed: hand compose the top k overall and the top k new.
        k = cfg.feed_size + len(guaranteed) + len(sponsored)
        live, key = self.live, self._organic_key()
        best = live[np.argsort(-(key[live] * rel[live]), kind="stable")[:k]]
        new = live[self.is_new[live]]
        best_new = new[np.argsort(-(key[new] * rel[new]), kind="stable")[:k]]
        organic = [Candidate(i, i, float(key[i]), float(rel[i]), bool(self.is_new[i]))
                   for i in dict.fromkeys([*best.tolist(), *best_new.tolist()])]
        slots = compose(size=cfg.feed_size, pinned=[], guaranteed=guaranteed, sponsored=sponsored,
                        sponsored_positions=tc.sponsored_positions, organic=organic,
                        new_share=tc.new_merchant_min_share,
                        guaranteed_by_value=self.guaranteed_by_value)
        for s in slots:
            if s.reason in ("guaranteed", "cold_start"):
                self.delivered[s.promise_id] += cfg.views
            elif s.reason == "sponsored":
                clicks = cfg.views * examination(s.position) * self.est_ctr[s.miniapp_id]
                self.spent[s.miniapp_id] += clicks * (s.price_fen or 0)
                self._sponsored_shown(s.miniapp_id)
        return [s.miniapp_id for s in slots]

    guaranteed_by_value = False  # `ranking.compose`: promised items at the top, in pace order

    def _organic_key(self) -> np.ndarray:
        """What organic candidates are ranked by (times relevance): the score."""
        return self.key

    def _sponsored_shown(self, i: int) -> None:
        """A sponsored impression of mini-app `i` was served (subclasses that cap shares)."""


class TownsquareRelevantPacing(Townsquare):
    """The same plan; serving prefers, among allocations behind their pace, those relevant to
    the request (a proposed change to the product's "most behind first")."""

    name = "townsquare+relevant-pacing"
    relevance_pacing = True


POLICIES = {p.name: p for p in (Townsquare, TownsquareRelevantPacing, Popularity, BidOnly)}
BASELINES = {p.name: p for p in (RandomRelevant, Oracle)}
