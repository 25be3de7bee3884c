"""Paid exposure: a pay-per-click auction ranked by bid × quality^k with generalised second prices.

Pure code (no database): the caller gathers the bids for one surface or keyword, with each
mini-app's current service score and tier, and gets back the sponsored placements and the price
per click of each. All money is integer fen and quality is integer basis points, so ranking and
prices are exact integer arithmetic (no float ties, the same answer on every machine).

Quality cannot be bought past (docs/traffic.md, "Why a bad bidder cannot win"):
1. an absolute floor: a bid takes part only with tier ≥ `min_tier` AND score ≥ `min_score`
   (not a share of the category: a category of poor shops has no sponsored seller at all);
2. quality weighs more steeply than money: the rank is bid × quality_factor, the factor growing
   as (score / 100) ** `quality_exponent` (k = 2 by the operator's default), so halving the
   score needs four times the bid;
3. `within_share` caps one merchant's share of a target's sponsored impressions per day, so an
   unlimited budget cannot take every sponsored slot.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from townsquare.core.errors import ValidationFailed
from townsquare.scoring import TIERS  # best first; no tier (never scored) ranks below D

__all__ = [
    "AuctionConfig", "AuctionResult", "Bid", "Exclusion", "Placement",
    "quality_factor_bp", "run_auction", "tier_at_least", "within_share",
]

QUALITY_SCALE = 10_000  # quality factors are basis points: 10_000 = 1.0
MAX_BID_FEN = 100_000_00  # 100,000 yuan per click: far above any sane bid, keeps products small


def tier_at_least(tier: str | None, minimum: str) -> bool:
    """Whether `tier` is `minimum` or better (None, or an unknown tier, is never enough)."""
    if minimum not in TIERS:
        raise ValidationFailed("Unknown tier {tier}.", tier=minimum)
    return tier in TIERS and TIERS.index(tier) <= TIERS.index(minimum)


@dataclass(frozen=True, slots=True)
class AuctionConfig:
    """The operator's knobs for one auction (per surface or keyword)."""

    slots: int = 3  # sponsored positions on the surface
    reserve_fen: int = 10  # least price per click; bids below it do not take part
    min_tier: str = "B"  # mini-apps below this tier cannot buy traffic at all
    # quality factor = floor + (1 - floor) * (score / 100) ** exponent: the floor keeps a score
    # of 0 from making a bid worthless (and the GSP division defined), the exponent sets how
    # strongly quality outweighs money.
    quality_floor: float = 0.1
    quality_exponent: float = 1.0
    # the absolute quality threshold: a score below it never buys a slot, whatever the bid
    min_score: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.slots <= 100:
            raise ValidationFailed("Sponsored slots are 0 to {n}.", n=100)
        if not 1 <= self.reserve_fen <= MAX_BID_FEN:
            raise ValidationFailed("The reserve price is 1 to {n} fen.", n=MAX_BID_FEN)
        if self.min_tier not in TIERS:
            raise ValidationFailed("Unknown tier {tier}.", tier=self.min_tier)
        if not 0 < self.quality_floor <= 1:
            raise ValidationFailed("The quality floor is above 0 and at most 1.")
        if not 0 < self.quality_exponent <= 10:
            raise ValidationFailed("The quality exponent is above 0 and at most {n}.", n=10)
        if not 0 <= self.min_score <= 100:  # also rejects NaN
            raise ValidationFailed("The least score for paid exposure is 0 to 100.")


@dataclass(frozen=True, slots=True)
class Bid:
    """One mini-app's bid per click, with the score and tier the traffic system read for it."""

    miniapp_id: str  # public id, also the final tie-breaker
    bid_fen: int
    score: float  # service score 0..100
    tier: str | None


@dataclass(frozen=True, slots=True)
class Placement:
    """A won sponsored position (1 = top) and the price charged per click."""

    position: int
    miniapp_id: str
    bid_fen: int
    price_fen: int
    quality_bp: int
    rank_score: int  # bid_fen × quality_bp


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A bid that could not take part, and why ("tier", "score" or "reserve")."""

    miniapp_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class AuctionResult:
    placements: tuple[Placement, ...]
    outranked: tuple[str, ...]  # eligible but no position left, best first
    excluded: tuple[Exclusion, ...]


def within_share(*, own: int, total: int, cap: float, allowance: int) -> bool:
    """Whether a merchant that had `own` of a target's `total` sponsored impressions today may
    take another: while own < max(allowance, cap × total). `cap` 1.0 never limits; the
    `allowance` lets the day start (the first impressions are 100 % of the total)."""
    if own < 0 or total < own or allowance < 0:
        raise ValidationFailed("Impression counts are non-negative and own ≤ total.")
    if not 0 < cap <= 1:  # also rejects NaN
        raise ValidationFailed("A sponsored share cap is above 0 and at most 1.")
    return cap >= 1 or own < max(allowance, cap * total)


def quality_factor_bp(score: float, *, config: AuctionConfig) -> int:
    """The quality factor of a service score 0..100, in basis points (at least 1)."""
    if not 0 <= score <= 100:  # also rejects NaN
        raise ValidationFailed("A service score is between 0 and 100.")
    floor = config.quality_floor
    factor: float = floor + (1 - floor) * (score / 100) ** config.quality_exponent
    return max(1, min(QUALITY_SCALE, round(factor * QUALITY_SCALE)))


@dataclass(frozen=True, slots=True)
class _Entry:
    bid: Bid
    quality_bp: int

    @property
    def rank_score(self) -> int:
        return self.bid.bid_fen * self.quality_bp

    def tie_key(self) -> tuple[int, str]:
        # On an equal rank score the better quality wins, then the smaller id. The bid is not in
        # the key on purpose: the price computation asks "would the least bid still win?".
        return (-self.quality_bp, self.bid.miniapp_id)

    def sort_key(self) -> tuple[int, int, str]:
        return (-self.rank_score, *self.tie_key())


def _validate(bids: Sequence[Bid]) -> None:
    seen: set[str] = set()
    for bid in bids:
        if not isinstance(bid.miniapp_id, str) or not 1 <= len(bid.miniapp_id) <= 64:
            raise ValidationFailed("A mini-app id is 1 to {n} characters.", n=64)
        if bid.miniapp_id in seen:
            raise ValidationFailed("One bid per mini-app: {id} bids twice.", id=bid.miniapp_id)
        seen.add(bid.miniapp_id)
        if isinstance(bid.bid_fen, bool) or not isinstance(bid.bid_fen, int):
            raise ValidationFailed("A bid is a whole number of fen.")
        if not 1 <= bid.bid_fen <= MAX_BID_FEN:
            raise ValidationFailed("A bid is 1 to {n} fen per click.", n=MAX_BID_FEN)


def _price(own: _Entry, nxt: _Entry | None, reserve_fen: int) -> int:
    """The least bid with which `own` still ranks above `nxt` (GSP), at least the reserve."""
    if nxt is None:
        return reserve_fen
    price = -(-nxt.rank_score // own.quality_bp)  # ceiling division
    if price * own.quality_bp == nxt.rank_score and nxt.tie_key() < own.tie_key():
        price += 1  # an exact tie would go to the other side: one fen more keeps the position
    # Never above the own bid: own ranks above nxt, so its bid already satisfies the inequality;
    # the min only guards against that invariant being broken by a future change.
    return min(own.bid.bid_fen, max(reserve_fen, price))


def run_auction(*, bids: Iterable[Bid], config: AuctionConfig) -> AuctionResult:
    """Rank eligible bids by bid × quality, fill the sponsored slots and price each click by GSP."""
    bids = list(bids)
    _validate(bids)
    excluded: list[Exclusion] = []
    entries: list[_Entry] = []
    for bid in bids:
        quality = quality_factor_bp(bid.score, config=config)  # validates the score for everyone
        if not tier_at_least(bid.tier, config.min_tier):
            excluded.append(Exclusion(bid.miniapp_id, "tier"))
        elif bid.score < config.min_score:
            excluded.append(Exclusion(bid.miniapp_id, "score"))
        elif bid.bid_fen < config.reserve_fen:
            excluded.append(Exclusion(bid.miniapp_id, "reserve"))
        else:
            entries.append(_Entry(bid, quality))
    entries.sort(key=_Entry.sort_key)
    placements = []
    for i, entry in enumerate(entries[: config.slots]):
        # The next eligible bid (a winner or the first loser) sets the price, as in GSP.
        nxt = entries[i + 1] if i + 1 < len(entries) else None
        placements.append(Placement(
            position=i + 1,
            miniapp_id=entry.bid.miniapp_id,
            bid_fen=entry.bid.bid_fen,
            price_fen=_price(entry, nxt, config.reserve_fen),
            quality_bp=entry.quality_bp,
            rank_score=entry.rank_score,
        ))
    return AuctionResult(
        placements=tuple(placements),
        outranked=tuple(e.bid.miniapp_id for e in entries[config.slots:]),
        excluded=tuple(sorted(excluded, key=lambda e: e.miniapp_id)),
    )
