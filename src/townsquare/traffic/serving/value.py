"""Expected good orders: what one look at a slot is worth to residents (pure, no database).

A response is ranked by what it is expected to bring residents, not by who is furthest behind a
promise (docs/traffic.md, "A feed that converts"):

    E[good orders] = P(click | position, relevance) × P(order | click, quality)
                     × P(good outcome | quality)

- P(click | position, relevance) = examination(position) × relevance × click rate: the position
  effect (1 / log2(position + 1)) is the same for every item, so it orders nothing and sorting by
  the rest, best first, maximises the sum (the rearrangement inequality); the click rate is the
  mini-app's own clicks / impressions, shrunk towards the prior (`click_rate`);
- P(order | click, quality) = 0.1 + 0.4 × score / 100 and P(good | quality) = score / 100: links
  from the service score (0..100), which measures fulfilment, refunds, complaints and ratings.
  Only their rise with the score matters for the order; calibrate them from logged clicks and
  orders once the randomised share of the feed (issue 19, item 7) has collected enough.

`per_look` is the value without the position: serving uses it to order guaranteed and organic
items together (`ranking.compose(guaranteed_by_value=True)`) and to take, among the allocations
behind their pace, the ones a resident is likely to order from (`pacing_priority`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["ORDER_BASE", "ORDER_SLOPE", "click_rate", "examination", "expected_good_orders",
           "good_rate", "order_rate", "pacing_priority", "per_look", "prior_click_rate"]

ORDER_BASE = 0.1  # P(order | click) of a score of 0
ORDER_SLOPE = 0.4  # … rising by this much up to a score of 100
DEFAULT_CLICK_RATE = 0.05  # before anything was shown


def _score(score: float) -> float:
    if not 0 <= score <= 100:  # also rejects NaN
        raise ValueError("A service score is between 0 and 100.")
    return score / 100


def examination(position: int) -> float:
    """The share of residents who look at the slot at 1-based `position`."""
    if position < 1:
        raise ValueError("Positions start at 1.")
    return 1.0 / math.log2(position + 1)


def prior_click_rate(counts: Iterable[tuple[int, int]]) -> float:
    """Σ clicks / Σ impressions over (impressions, clicks) pairs: the prior of `click_rate`."""
    shown = clicked = 0
    for impressions, clicks in counts:
        shown += max(0, impressions)
        clicked += max(0, min(clicks, impressions))
    return clicked / shown if shown else DEFAULT_CLICK_RATE


def click_rate(*, impressions: int, clicks: int, prior: float, strength: float) -> float:
    """A mini-app's click rate, shrunk towards `prior` by `strength` pseudo-impressions (a
    newcomer's few looks say little; a known mini-app's many say much)."""
    if impressions < 0 or clicks < 0:
        raise ValueError("Counts are non-negative.")
    if not 0 <= prior <= 1 or not strength > 0:
        raise ValueError("The prior is a rate and its strength positive.")
    clicks = min(clicks, impressions)
    return (clicks + prior * strength) / (impressions + strength)


def order_rate(score: float) -> float:
    """P(order | click, quality)."""
    return ORDER_BASE + ORDER_SLOPE * _score(score)


def good_rate(score: float) -> float:
    """P(good outcome | quality): fulfilled, not refunded, not complained about."""
    return _score(score)


def per_look(*, relevance: float, click: float, score: float) -> float:
    """Expected good orders per look at the slot: relevance × click rate × P(order) × P(good)."""
    if relevance < 0 or click < 0:
        raise ValueError("Relevance and click rate are non-negative.")
    return relevance * click * order_rate(score) * good_rate(score)


def expected_good_orders(*, position: int, relevance: float, click: float, score: float) -> float:
    """E[good orders] of one impression at `position`."""
    return examination(position) * per_look(relevance=relevance, click=click, score=score)


def pacing_priority(*, value: float, behind: float, unit: float = 1.0) -> float:
    """Relevant pacing: among allocations behind their pace (behind > 0), the ones worth most
    here first; a slot's worth behind (`unit` impressions) counts fully, a sliver a sliver. An
    allocation on pace (behind ≤ 0) is not served."""
    if unit <= 0:
        raise ValueError("A slot's worth is positive.")
    if behind <= 0:
        return 0.0
    return max(0.0, value) * min(1.0, behind / unit)
