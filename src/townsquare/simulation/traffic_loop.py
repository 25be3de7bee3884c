"""Closed-loop traffic evaluation: scores → plan → exposures → behaviour → scores, in NumPy.

No database (for speed): a market of mini-apps with a hidden quality q, an attractiveness (how
clickable it looks; half q, half luck), a size (demand that reaches it without the feed) and a bid
(mildly anti-correlated with q). New mini-apps arrive every cycle, a quarter of them in the top
quartile of quality. Every day, `requests_per_day` distinct feed lists are composed (one per
resident interest × place: a primary category and a relevance jitter, the same for every policy),
each seen `views` times. A slot at position p is examined with probability 1/log2(p + 1); a
resident clicks with that × relevance × attractiveness, orders with a probability rising in q, and
orders are fulfilled, refunded, complained about and rated according to q. Mini-apps also get
direct visits (size × q-independent), so everyone has a record the score model can read.

Each cycle the policy sees only what was observed (never q): `metric_rows` turns the last
`window_days` of simulated aggregates into the score model's metric rows, and the real
`scoring.model.score.score_all` / `tiers.assign_tiers` score and tier them. The policies
(Townsquare and the baselines) live in `traffic_policies`, and `traffic_evaluation.run` plays them
on this market. Deterministic for a seed; the market, the warm-up history and every day's resident
interests are shared by all policies (common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.stats import spearmanr

from townsquare.traffic.serving.ranking import gini

__all__ = ["Book", "LoopConfig", "Market", "PolicyReport", "examination", "interests",
           "make_market", "metric_rows", "misreport", "report", "simulate_day", "slot_order_rate"]


@dataclass(frozen=True)
class LoopConfig:
    """Size of the simulated market and of its feed."""

    merchants: int = 800  # established mini-apps at the start (one per merchant)
    categories: int = 8
    cycles: int = 12
    days_per_cycle: int = 7
    impressions_per_day: int = 240_000  # feed slot impressions per day
    feed_size: int = 10
    requests_per_day: int = 100  # distinct lists per day (interest × place)
    arrival_share: float = 0.04  # new mini-apps per cycle, as a share of `merchants`
    window_days: int = 28  # the score model's window, also the warm-up history
    new_days: int = 30  # a mini-app is "new" (growth stage) this many days after listing
    seed: int = 7

    @property
    def views(self) -> int:
        """How many residents see each distinct list (each slot gets this many impressions)."""
        return max(1, self.impressions_per_day // (self.requests_per_day * self.feed_size))

    @property
    def days(self) -> int:
        return self.cycles * self.days_per_cycle


@dataclass(frozen=True)
class Market:
    """The hidden truth, one entry per mini-app (initial ones first, then arrivals by cycle)."""

    quality: np.ndarray
    attract: np.ndarray
    size: np.ndarray
    bid_fen: np.ndarray
    budget_fen: np.ndarray  # daily budget of its bid
    category: np.ndarray
    arrival: np.ndarray  # first live day (day 0 = the first day of cycle 1; warm-up < 0)
    category_weight: np.ndarray  # share of resident interest per category
    good_cut: float  # top-quartile quality of the initial mini-apps
    # Planted agents (`traffic_scenarios.plant`): quality that collapses on `collapse_day` to
    # `collapse_to` (NaN: no change), mini-apps that misreport their own metrics, and the
    # planted mini-apps by role.
    collapse_day: int = 10**9
    collapse_to: np.ndarray | None = None
    cheats: np.ndarray | None = None
    roles: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.quality)

    def quality_at(self, day: int) -> np.ndarray:
        """The hidden quality on `day` (after a collapse, the collapsed value)."""
        if self.collapse_to is None or day < self.collapse_day:
            return self.quality
        return np.where(np.isnan(self.collapse_to), self.quality, self.collapse_to)


def make_market(cfg: LoopConfig) -> Market:
    """The market of a seed: initial mini-apps, all arrivals and their hidden quality."""
    rng = np.random.default_rng([cfg.seed, 1])
    m = cfg.merchants
    per_cycle = max(1, round(cfg.arrival_share * m))
    n = m + per_cycle * cfg.cycles
    q = rng.beta(1.5, 1.3, n)
    good_cut = float(np.quantile(q[:m], 0.75))
    # A quarter of each cycle's arrivals are good (top quartile): the newcomers to watch.
    arr_idx = np.arange(m, n)
    good_new = arr_idx[(arr_idx - m) % per_cycle < max(1, per_cycle // 4)]
    q[good_new] = rng.uniform(good_cut, 0.98, len(good_new))
    arrival = np.concatenate([
        -cfg.window_days - rng.integers(cfg.new_days, 400, m),
        np.repeat(np.arange(cfg.cycles) * cfg.days_per_cycle, per_cycle),
    ])
    bid = rng.lognormal(np.log(60), 0.6, n) * (1.25 - 0.5 * q)  # mildly anti-correlated with q
    weight = rng.dirichlet(np.full(cfg.categories, 4.0))
    return Market(
        quality=q,
        attract=np.clip(0.5 * q + 0.5 * rng.random(n), 0, 1),
        size=rng.lognormal(-0.245, 0.7, n),
        bid_fen=np.clip(np.round(bid), 10, 2_000).astype(np.int64),
        budget_fen=np.round(bid * rng.lognormal(np.log(40), 0.5, n)).astype(np.int64),
        category=rng.choice(cfg.categories, size=n, p=weight),
        arrival=arrival.astype(np.int64),
        category_weight=weight,
        good_cut=good_cut,
    )


def examination(position: npt.ArrayLike) -> np.ndarray:
    """Probability that a resident looks at the slot at 1-based `position`."""
    return 1.0 / np.log2(np.asarray(position, dtype=np.float64) + 1.0)


FIELDS = ("feed_imp", "feed_clicks", "feed_orders", "attention", "visits", "orders", "fulfilled",
          "cancelled", "refunds", "complaints", "resolved", "rating_sum", "rating_count",
          "active", "feed_rating_sum", "feed_rating_count", "gmv_fen")


@dataclass
class Book:
    """Observed aggregates per day × mini-app (row 0 = the first warm-up day)."""

    offset: int  # row of day 0
    data: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def empty(cls, cfg: LoopConfig, n: int) -> Book:
        rows = cfg.window_days + cfg.days
        return cls(cfg.window_days, {f: np.zeros((rows, n)) for f in FIELDS})

    def copy(self) -> Book:
        return Book(self.offset, {k: v.copy() for k, v in self.data.items()})

    def window(self, name: str, end_day: int, days: int) -> np.ndarray:
        """Per mini-app sum over days [end_day − days, end_day)."""
        hi = self.offset + end_day
        return self.data[name][max(0, hi - days):hi].sum(axis=0)


def _outcomes(q: np.ndarray, orders: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    fulfilled = rng.binomial(orders, 0.80 + 0.18 * q)
    complaints = rng.binomial(orders, 0.004 + 0.12 * (1 - q) ** 2)
    rating_count = rng.binomial(fulfilled, 0.35)
    mean = np.clip(2.0 + 3.0 * q, 1, 5)
    rating_sum = np.clip(np.round(rating_count * mean + rng.normal(0, 0.7, len(q))
                                  * np.sqrt(rating_count)), rating_count, 5 * rating_count)
    return {
        "orders": orders, "fulfilled": fulfilled, "cancelled": orders - fulfilled,
        "refunds": rng.binomial(fulfilled, 0.01 + 0.10 * (1 - q) ** 2),
        "complaints": complaints, "resolved": rng.binomial(complaints, 0.3 + 0.6 * q),
        "rating_sum": rating_sum, "rating_count": rating_count,
        "gmv_fen": orders * np.round(3000 * (0.8 + 0.4 * q)),
    }


def slot_order_rate(market: Market, day: int, apps: np.ndarray, positions: np.ndarray,
                    relevance: np.ndarray) -> np.ndarray:
    """True expected orders per impression of each slot (the behaviour `simulate_day` draws)."""
    p_click = np.clip(examination(positions) * relevance * (0.03 + 0.12 * market.attract[apps]),
                      0, 0.95)
    rate: np.ndarray = p_click * (0.10 + 0.40 * market.quality_at(day)[apps])
    return rate


def simulate_day(market: Market, book: Book, day: int, apps: np.ndarray, positions: np.ndarray,
                 relevance: np.ndarray, views: int, rng: np.random.Generator) -> np.ndarray:
    """Residents' behaviour on one day's slots (parallel arrays) plus direct visits; returns
    each slot's feed orders."""
    n = len(market)
    row = book.offset + day
    live = market.arrival <= day
    q = market.quality_at(day)
    exam = examination(positions)
    p_click = np.clip(exam * relevance * (0.03 + 0.12 * market.attract[apps]), 0, 0.95)
    clicks = rng.binomial(views, p_click)
    feed_orders = rng.binomial(clicks, 0.10 + 0.40 * q[apps])
    d = book.data
    for name, values in (("feed_imp", np.full(len(apps), float(views))), ("feed_clicks", clicks),
                         ("feed_orders", feed_orders), ("attention", views * exam)):
        d[name][row] = np.bincount(apps, weights=values, minlength=n)
    feed = _outcomes(q, d["feed_orders"][row].astype(np.int64), rng)
    d["feed_rating_sum"][row] = feed["rating_sum"]
    d["feed_rating_count"][row] = feed["rating_count"]
    direct_visits = rng.poisson(6.0 * market.size * live)
    direct = _outcomes(q, rng.binomial(direct_visits, 0.10 + 0.40 * q), rng)
    for name in feed:
        d[name][row] = feed[name] + direct[name]
    d["visits"][row] = direct_visits + d["feed_clicks"][row]
    d["active"][row] = (d["visits"][row] + d["orders"][row]) > 0
    return feed_orders


def metric_rows(market: Market, book: Book, *, end_day: int, window: int,
                rng: np.random.Generator) -> list[dict]:
    """The score model's metric rows for mini-apps live before `end_day`, from the window."""
    s = {f: book.window(f, end_day, window) for f in FIELDS}
    q = market.quality_at(end_day - 1)
    cheats = market.cheats if market.cheats is not None else np.zeros(len(market), dtype=bool)
    rows = []
    for i in np.flatnonzero(market.arrival < end_day).tolist():
        orders = int(s["orders"][i])
        buyers = max(1, round(orders * 0.8)) if orders else 0
        repeat = int(rng.binomial(buyers, 0.05 + 0.45 * q[i]))
        responses = int(rng.binomial(orders, 0.3))
        complaints = int(s["complaints"][i])

        def rate(num: float, den: int) -> float | None:
            return min(num, den) / den if den else None

        rows.append({
            "miniapp_id": i, "merchant_id": i, "category_code": f"c{market.category[i]}",
            "city": "", "orders": orders, "gmv_fen": int(s["gmv_fen"][i]),
            "visits": int(s["visits"][i]), "dau_avg": 0.7 * s["visits"][i] / window,
            "unique_buyers": buyers, "repeat_buyers": repeat,
            "communities": int(min(8, 1 + 1.5 * market.size[i])), "cities": 1,
            "days_active": int(s["active"][i]), "fulfilled": int(s["fulfilled"][i]),
            "cancelled": int(s["cancelled"][i]), "refunds": int(s["refunds"][i]),
            "complaints": complaints, "complaints_resolved": int(s["resolved"][i]),
            "fulfillment_rate": rate(s["fulfilled"][i], orders),
            "cancellation_rate": rate(s["cancelled"][i], orders),
            "refund_rate": rate(s["refunds"][i], orders),
            "complaint_rate": rate(complaints, orders),
            "complaint_resolved_share": rate(s["resolved"][i], complaints),
            "rating_sum": int(s["rating_sum"][i]), "rating_count": int(s["rating_count"][i]),
            "rating_avg": s["rating_sum"][i] / s["rating_count"][i] if s["rating_count"][i]
            else None,
            "repurchase_rate": rate(repeat, buyers),
            "response_count": responses,
            "response_p90_seconds": float(200 + 2400 * (1 - q[i]) ** 1.5
                                          * rng.lognormal(0, 0.3)) if responses else None,
        })
        if cheats[i]:
            rows[-1] = misreport(rows[-1])
    return rows


MISREPORTED = ("rating_sum", "rating_count", "fulfilled", "cancelled", "refunds", "complaints",
               "complaints_resolved", "response_count", "response_p90_seconds")


def misreport(row: dict, kinds: tuple[str, ...] = ("ratings", "cancellations", "refunds",
                                                   "complaints", "replies")) -> dict:
    """A cheater's self-reported row: fake 5★ ratings (as many again as its real ones, at least
    5), cancellations, refunds and complaints left unreported, fast replies faked. What the
    platform observed itself stays beside it as `observed_<metric>` (for a model that trusts
    only what it saw); today's model reads the reported columns."""
    out = dict(row) | {f"observed_{k}": row.get(k) for k in MISREPORTED}
    orders = int(row["orders"])
    if "ratings" in kinds:
        fake = max(5, int(row["rating_count"]))
        out["rating_sum"] = int(row["rating_sum"]) + 5 * fake
        out["rating_count"] = int(row["rating_count"]) + fake
        out["rating_avg"] = out["rating_sum"] / out["rating_count"]
    if "cancellations" in kinds and orders:
        out |= {"fulfilled": orders, "cancelled": 0, "fulfillment_rate": 1.0,
                "cancellation_rate": 0.0}
    if "refunds" in kinds:
        out |= {"refunds": 0, "refund_rate": 0.0 if orders else None}
    if "complaints" in kinds:
        out |= {"complaints": 0, "complaints_resolved": 0, "complaint_resolved_share": None,
                "complaint_rate": 0.0 if orders else None}
    if "replies" in kinds and orders:
        out |= {"response_count": max(int(row["response_count"]), orders // 2),
                "response_p90_seconds": 60.0}
    return out


@dataclass(frozen=True)
class PolicyReport:
    """What one policy achieved over the evaluated cycles."""

    policy: str
    orders_per_1000: float  # feed orders per 1000 feed impressions
    mean_rating: float  # of orders that came from the feed
    spearman: float  # exposure per live day vs hidden quality, all mini-apps
    cycles_to_deserve: float  # median over good newcomers (inf: most never got there)
    reached: tuple[int, int]  # good newcomers that got there / watched
    gini: float  # of exposure per live day
    new_share: float  # of exposure going to mini-apps in their first `new_days`
    planner: str = ""  # how guaranteed impressions were planned (Townsquare only)


def _cycles_to_deserve(cfg: LoopConfig, market: Market, book: Book) -> tuple[float, int, int]:
    """Median cycles (1 = its arrival cycle) until a good newcomer (top-quartile quality) gets the
    exposure its quality deserves: a cycle's exposure at or above the 75th percentile of the live
    mini-apps of its category that cycle, i.e. its exposure rank catches up with its quality rank.
    Watched: arrivals with at least four cycles to show it; never reaching counts as infinite."""
    d = cfg.days_per_cycle
    att = book.data["attention"][book.offset:]
    per_cycle = att.reshape(cfg.cycles, d, -1).sum(axis=1)  # cycles × apps
    good = market.quality >= market.good_cut
    watch_until = max(1, cfg.cycles - 3)
    waits = []
    for i in np.flatnonzero((market.arrival >= 0) & good).tolist():
        first = int(market.arrival[i]) // d
        if first >= watch_until:
            continue
        wait = float("inf")
        for c in range(first, cfg.cycles):
            peers = (market.category == market.category[i]) & (market.arrival <= c * d)
            bar = np.quantile(per_cycle[c, peers], 0.75)
            if per_cycle[c, i] > 0 and per_cycle[c, i] >= bar:
                wait = c - first + 1
                break
        waits.append(wait)
    if not waits:
        return float("nan"), 0, 0
    reached = sum(1 for w in waits if w != float("inf"))
    return float(np.median(waits)), reached, len(waits)


def report(name: str, cfg: LoopConfig, market: Market, book: Book,
           planner: str = "") -> PolicyReport:
    """The evaluation figures of a finished run (days 0 .. end)."""
    o = book.offset
    d = {k: v[o:] for k, v in book.data.items()}
    days = np.arange(cfg.days)
    live_days = np.clip(cfg.days - np.maximum(market.arrival, 0), 0, None)
    live = live_days > 0
    exposure = d["attention"].sum(axis=0)[live] / live_days[live]
    age = days[:, None] - market.arrival[None, :]
    new = (age >= 0) & (age < cfg.new_days)
    wait, reached, watched = _cycles_to_deserve(cfg, market, book)
    return PolicyReport(
        policy=name,
        orders_per_1000=1000 * d["feed_orders"].sum() / max(1.0, d["feed_imp"].sum()),
        mean_rating=float(d["feed_rating_sum"].sum() / max(1.0, d["feed_rating_count"].sum())),
        spearman=float(spearmanr(exposure, market.quality[live]).statistic),
        cycles_to_deserve=wait, reached=(reached, watched),
        gini=gini(exposure.tolist()),
        new_share=float(d["attention"][new].sum() / max(1.0, d["attention"].sum())),
        planner=planner,
    )


def interests(cfg: LoopConfig, market: Market, day: int) -> tuple[np.ndarray, np.ndarray]:
    """One day's lists: each list's primary category and relevance of every mini-app to it."""
    rng = np.random.default_rng([cfg.seed, 2, day + cfg.window_days])
    cats = rng.choice(cfg.categories, size=cfg.requests_per_day, p=market.category_weight)
    match = np.where(market.category[None, :] == cats[:, None], 1.0, 0.25)
    return cats, match * rng.lognormal(-0.08, 0.4, (cfg.requests_per_day, len(market)))
