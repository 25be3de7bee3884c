"""Cold start: exploration exposure for new mini-apps by Thompson sampling (pure, no database).

Each new mini-app is an arm with two unknown rates: the click rate (clicks per impression) and the
order rate (orders per click). Both have Beta posteriors whose priors come from the established
mini-apps of the same category: the category's pooled rate, shrunk toward the city-wide rate for
thin categories, times `strength` pseudo-counts. An arm's value is click rate × order rate, i.e.
orders per impression, which is what exposure is for.

`allocate_pool` shares a planning period's exploration pool between the arms by *probability
matching*: each arm's share is the probability that its Thompson draw is the best one (estimated
from `DRAWS` joint draws). That is exactly the expected allocation if every impression of the
period were handed out by a fresh Thompson draw, i.e. batched Thompson sampling. We prefer it to
"proportional to one draw": a single draw's value is nearly flat across arms (a poor arm with half
the rate would still get half the traffic, so it never fades), and one draw makes the whole
period's split hinge on a single noisy sample. Probability matching concentrates on arms that are
likely best while uncertain arms (few impressions, wide posteriors) keep winning some draws, so a
good newcomer rises within a few periods and a poor one fades as evidence accumulates. The
per-arm cap is applied by water-filling: a capped arm keeps the cap and the rest of the pool is
matched again among the others, so the pool is used up whenever `len(arms) × cap ≥ pool`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DEFAULT_PRIOR", "DRAWS", "GLOBAL", "Arm", "Prior", "allocate_pool", "category_priors",
    "draw_values", "pick", "prior_for",
]

GLOBAL = "*"  # key of the all-category fallback prior in `category_priors`' answer
DRAWS = 512  # joint Thompson draws per allocation: share error ~ 1/sqrt(512) ≈ 4 %
_EPS = 1e-4  # keeps prior means strictly inside (0, 1) so Beta parameters stay positive


@dataclass(frozen=True, slots=True)
class Arm:
    """One mini-app's exposure record: impressions, clicks on them and orders from the clicks."""

    miniapp_id: int
    category: str
    impressions: int
    clicks: int
    orders: int


@dataclass(frozen=True, slots=True)
class Prior:
    """Prior mean click rate (per impression) and order rate (per click) for a category."""

    click_rate: float
    order_rate: float

    def __post_init__(self) -> None:
        if not (0.0 < self.click_rate < 1.0 and 0.0 < self.order_rate < 1.0):
            raise ValueError("Prior rates lie strictly between 0 and 1.")


# Used only when there are no established mini-apps at all (a brand-new city).
DEFAULT_PRIOR = Prior(click_rate=0.05, order_rate=0.2)


def _clip(rate: float) -> float:
    return min(1.0 - _EPS, max(_EPS, rate))


def _counts(arm: Arm) -> tuple[int, int, int]:
    """Impressions, clicks, orders made consistent (clicks ≤ impressions, orders ≤ clicks)."""
    if arm.impressions < 0 or arm.clicks < 0 or arm.orders < 0:
        raise ValueError(f"Arm {arm.miniapp_id}: counts are non-negative.")
    # Clicks and orders can be recorded without a tracked impression/click (a shared link, an
    # order from the mini-app's own page); the rates are capped at 1 rather than rejected.
    clicks = min(arm.clicks, arm.impressions)
    return arm.impressions, clicks, min(arm.orders, clicks)


def category_priors(arms: Iterable[Arm], *, strength: float) -> dict[str, Prior]:
    """Priors per category from established arms, plus the all-category fallback under GLOBAL.

    A category's rate is its pooled rate (sum of clicks / sum of impressions, so a handful of
    barely-shown apps cannot swing it) shrunk toward the global rate by `strength` pseudo-counts:
    a category with one app and 3 impressions gets nearly the global prior, not 0 or 1.
    """
    if strength <= 0:
        raise ValueError("The prior strength is positive.")
    totals: dict[str, list[int]] = {}
    for arm in arms:
        imp, clk, ordr = _counts(arm)
        t = totals.setdefault(arm.category, [0, 0, 0])
        t[0] += imp
        t[1] += clk
        t[2] += ordr
    all_imp = sum(t[0] for t in totals.values())
    all_clk = sum(t[1] for t in totals.values())
    all_ord = sum(t[2] for t in totals.values())
    # The global prior itself is shrunk toward DEFAULT_PRIOR, so it exists (and is sane) even
    # with no history at all.
    g_click = _clip((all_clk + strength * DEFAULT_PRIOR.click_rate) / (all_imp + strength))
    g_order = _clip((all_ord + strength * DEFAULT_PRIOR.order_rate) / (all_clk + strength))
    priors = {GLOBAL: Prior(g_click, g_order)}
    for category, (imp, clk, ordr) in totals.items():
        if category == GLOBAL:
            continue
        priors[category] = Prior(
            _clip((clk + strength * g_click) / (imp + strength)),
            _clip((ordr + strength * g_order) / (clk + strength)),
        )
    return priors


def prior_for(category: str, priors: Mapping[str, Prior]) -> Prior:
    """The category's prior, else the global one, else DEFAULT_PRIOR."""
    return priors.get(category) or priors.get(GLOBAL) or DEFAULT_PRIOR


def _posteriors(
    arms: Sequence[Arm], priors: Mapping[str, Prior], strength: float
) -> tuple[np.ndarray, ...]:
    """Beta parameters (click a, click b, order a, order b) per arm."""
    if strength <= 0:
        raise ValueError("The prior strength is positive.")
    params = np.empty((4, len(arms)), dtype=np.float64)
    for i, arm in enumerate(arms):
        imp, clk, ordr = _counts(arm)
        prior = prior_for(arm.category, priors)
        params[:, i] = (
            prior.click_rate * strength + clk,
            (1.0 - prior.click_rate) * strength + imp - clk,
            prior.order_rate * strength + ordr,
            (1.0 - prior.order_rate) * strength + clk - ordr,
        )
    return tuple(params)


def draw_values(
    arms: Sequence[Arm], priors: Mapping[str, Prior], *, strength: float,
    rng: np.random.Generator, draws: int = 1,
) -> np.ndarray:
    """Thompson draws of orders per impression: shape (draws, len(arms))."""
    ca, cb, oa, ob = _posteriors(arms, priors, strength)
    shape = (draws, len(arms))
    return rng.beta(ca, cb, size=shape) * rng.beta(oa, ob, size=shape)


def pick(
    arms: Sequence[Arm], priors: Mapping[str, Prior], *, strength: float,
    rng: np.random.Generator,
) -> int:
    """Index (into `arms`) of the arm with the best single Thompson draw (serving-time choice)."""
    if not arms:
        raise ValueError("No arms to pick from.")
    return int(np.argmax(draw_values(arms, priors, strength=strength, rng=rng)[0]))


def _apportion(total: int, weights: np.ndarray, caps: np.ndarray) -> np.ndarray:
    """Largest-remainder integers ∝ weights, summing to `total`, each ≤ its cap (ties by index)."""
    exact = total * weights / weights.sum()
    share: np.ndarray = np.minimum(np.floor(exact).astype(np.int64), caps)
    short = total - int(share.sum())
    if short > 0:
        room = np.flatnonzero(share < caps)
        order = room[np.argsort(-(exact[room] - share[room]), kind="stable")]
        share[order[:short]] += 1  # the caller guarantees Σ caps ≥ total
    return share


def allocate_pool(
    arms: Sequence[Arm], *, priors: Mapping[str, Prior], pool: int, cap: int, strength: float,
    rng: np.random.Generator,
) -> dict[int, int]:
    """Impressions per mini-app id (every arm listed, zeros included): Σ ≤ pool, each ≤ cap."""
    if pool < 0 or cap < 0:
        raise ValueError("The pool and the cap are non-negative.")
    ids = [arm.miniapp_id for arm in arms]
    if len(set(ids)) != len(ids):
        raise ValueError("One arm per mini-app.")
    given = np.zeros(len(arms), dtype=np.int64)
    if not arms or pool == 0 or cap == 0:
        return dict(zip(ids, given.tolist(), strict=True))
    values = draw_values(arms, priors, strength=strength, rng=rng, draws=DRAWS)
    open_ = np.ones(len(arms), dtype=bool)
    left = min(pool, cap * len(arms))
    while left > 0:
        # Probability matching among the arms not yet at their cap.
        masked = np.where(open_, values, -1.0)
        wins = np.bincount(np.argmax(masked, axis=1), minlength=len(arms)).astype(np.float64)
        wins[~open_] = 0.0
        if wins.sum() == 0:  # cannot happen (some open arm wins each draw); defensive
            wins = open_.astype(np.float64)
        want = left * wins / wins.sum()
        over = open_ & (want >= cap - given)
        if over.any():
            # These arms would pass their cap: fill them to it and match the rest again.
            left -= int((cap - given[over]).sum())
            given[over] = cap
            open_ &= ~over
            continue
        caps = np.where(open_, cap - given, 0)
        given += _apportion(left, wins, caps)
        left = 0
    return dict(zip(ids, given.tolist(), strict=True))
