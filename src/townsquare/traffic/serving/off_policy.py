"""Off-policy estimates of a new ranking's orders per 1,000 feed impressions, from exposure logs
that carry propensities (`exploration.explore`).

The unit is a logged slot: a mini-app shown at a position of one request's list, the orders it
brought (`reward`) and its logging propensity μ. For a target ranking, `target` is the
probability that the target puts the *logged* mini-app at that position for that request (1 or 0
for a deterministic ranking). Assuming a slot's orders depend on its mini-app, its position and
the request only (a position-based model: no effect of the neighbours),

- **IPS** (inverse propensity scoring): Σ target/μ · reward per impression; unbiased where every
  mini-app the target shows has μ > 0 at that position; its spread grows with 1/μ.
- **Doubly robust**: a reward model r̂ (predicted orders of a mini-app at a position for a
  request) gives the *direct* term, Σ over the target's own slots of r̂, and IPS corrects it with
  the model's error on the logged slots, Σ target/μ · (reward − r̂). Unbiased if either the
  propensities or the model are right; much smaller spread when the model is roughly right, and
  it still says something where the target leaves the logged support.

Both return the estimate and its standard error (slots taken as independent), scaled to orders
per 1,000 impressions (`impressions` = the impressions the logged slots stand for).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Estimate", "doubly_robust", "ips"]


@dataclass(frozen=True)
class Estimate:
    """Orders per 1,000 impressions and its standard error."""

    value: float
    stderr: float


def _check(reward: np.ndarray, propensity: np.ndarray, target: np.ndarray) -> None:
    if not (len(reward) == len(propensity) == len(target)):
        raise ValueError("reward, propensity and target need one value per logged slot.")
    if ((target > 0) & (propensity <= 0)).any():
        raise ValueError("A logged slot the target would show has no logging propensity.")
    if (propensity < 0).any() or (propensity > 1).any() or (target < 0).any():
        raise ValueError("Propensities and target probabilities lie in [0, 1].")


def _estimate(terms: np.ndarray, impressions: float) -> Estimate:
    if impressions <= 0:
        raise ValueError("The logged slots stand for no impressions.")
    n = len(terms)
    spread = float(np.std(terms, ddof=1)) * np.sqrt(n) if n > 1 else 0.0
    return Estimate(1000.0 * float(terms.sum()) / impressions, 1000.0 * spread / impressions)


def _weights(propensity: np.ndarray, target: np.ndarray) -> np.ndarray:
    return np.divide(target, propensity, out=np.zeros_like(target), where=target > 0)


def ips(reward: npt.ArrayLike, propensity: npt.ArrayLike, target: npt.ArrayLike, *,
        impressions: float) -> Estimate:
    """Inverse propensity estimate of the target's orders per 1,000 impressions."""
    r, mu, pi = (np.asarray(v, dtype=np.float64) for v in (reward, propensity, target))
    _check(r, mu, pi)
    return _estimate(_weights(mu, pi) * r, impressions)


def doubly_robust(reward: npt.ArrayLike, propensity: npt.ArrayLike, target: npt.ArrayLike,
                  predicted: npt.ArrayLike, direct: npt.ArrayLike, *,
                  impressions: float) -> Estimate:
    """Doubly robust estimate. Per logged slot: `predicted` = r̂ of the logged mini-app there;
    `direct` = Σ over mini-apps a of target(a at this slot) · r̂(a), i.e. the model's orders for
    what the target would put in this slot."""
    r, mu, pi, rhat, dm = (np.asarray(v, dtype=np.float64)
                           for v in (reward, propensity, target, predicted, direct))
    _check(r, mu, pi)
    if not (len(rhat) == len(dm) == len(r)):
        raise ValueError("predicted and direct need one value per logged slot.")
    return _estimate(dm + _weights(mu, pi) * (r - rhat), impressions)
