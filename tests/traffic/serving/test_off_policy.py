"""Exploration propensities and the off-policy estimators on synthetic logs whose truth is known."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from townsquare.traffic.serving.exploration import explore, propensity
from townsquare.traffic.serving.off_policy import doubly_robust, ips

K, M = 4, 10  # list size, relevant set size
EXAM = 1.0 / np.log2(np.arange(K) + 2.0)


def test_explore_is_the_ranked_list_without_epsilon() -> None:
    rng = np.random.default_rng(1)
    shown = explore([3, 1, 2], [1, 2, 3, 4, 5], epsilon=0.0, rng=rng)
    assert shown.items == [3, 1, 2] and shown.propensities == [1.0, 1.0, 1.0]
    assert not shown.explored


def test_propensities_are_a_distribution_per_position_and_match_frequencies() -> None:
    ranked, relevant, eps = [5, 6, 7], [5, 6, 7, 8, 9, 10], 0.3
    for p in range(3):
        total = sum(propensity(a, p, ranked, relevant, eps) for a in relevant)
        assert total == pytest.approx(1.0)
    assert propensity(99, 0, ranked, relevant, eps) == 0.0
    rng = np.random.default_rng(2)
    seen: Counter = Counter()
    explored = 0
    runs = 20_000
    for _ in range(runs):
        shown = explore(ranked, relevant, epsilon=eps, rng=rng)
        explored += shown.explored
        assert len(set(shown.items)) == 3
        seen.update((p, a) for p, a in enumerate(shown.items))
    assert explored / runs == pytest.approx(eps, abs=0.02)
    for (p, a), count in seen.items():
        assert count / runs == pytest.approx(propensity(a, p, ranked, relevant, eps), abs=0.015)


def test_too_few_relevant_never_explores() -> None:
    shown = explore([1, 2, 3], [1, 2], epsilon=1.0, rng=np.random.default_rng(3))
    assert shown.items == [1, 2, 3] and not shown.explored
    with pytest.raises(ValueError):
        explore([1], [1, 2], epsilon=1.5, rng=np.random.default_rng(3))


def _logs(contexts: int, eps: float, seed: int):
    """Contexts with M relevant items each (true order rate theta), a logging ranking by a noisy
    key, a target ranking by theta; Poisson orders with mean EXAM[p] * theta."""
    rng = np.random.default_rng(seed)
    theta = rng.gamma(2.0, 0.5, (contexts, M))
    logging = np.argsort(-(theta * rng.lognormal(0, 1.0, (contexts, M))), axis=1)[:, :K]
    target = np.argsort(-theta, axis=1)[:, :K]
    truth = 1000 * float((EXAM * np.take_along_axis(theta, target, 1)).sum()) / (contexts * K)
    rows = []
    for c in range(contexts):
        shown = explore(logging[c].tolist(), list(range(M)), epsilon=eps, rng=rng)
        for p, (a, mu) in enumerate(zip(shown.items, shown.propensities, strict=True)):
            reward = rng.poisson(EXAM[p] * theta[c, a])
            rows.append((c, p, a, mu, reward, float(a == target[c, p])))
    arr = np.array(rows)
    return arr, theta, target, truth


@pytest.fixture(scope="module")
def logs():
    return _logs(contexts=6_000, eps=0.2, seed=11)


def test_ips_and_doubly_robust_recover_the_truth(logs) -> None:
    arr, theta, target, truth = logs
    c, p, a, mu, reward, pi = (arr[:, i] for i in range(6))
    c, p, a = c.astype(int), p.astype(int), a.astype(int)
    impressions = float(len(arr))
    est_ips = ips(reward, mu, pi, impressions=impressions)
    assert abs(est_ips.value - truth) < 4 * est_ips.stderr
    # A roughly right reward model (80 % of the truth): unbiased and tighter than IPS.
    model = 0.8 * theta
    predicted = EXAM[p] * model[c, a]
    direct = EXAM[p] * model[c, target[c, p]]
    est_dr = doubly_robust(reward, mu, pi, predicted, direct, impressions=impressions)
    assert abs(est_dr.value - truth) < 4 * est_dr.stderr
    assert est_dr.stderr < est_ips.stderr
    # The naive on-log average of the matched slots (propensities ignored) is far off: the
    # estimators' correction is what makes them right.
    naive = 1000 * float(reward[pi > 0].sum()) / max(1, int((pi > 0).sum()))
    assert abs(naive - truth) > 4 * est_ips.stderr


def test_doubly_robust_without_a_model_is_ips(logs) -> None:
    arr, _, _, _ = logs
    zeros = np.zeros(len(arr))
    a = ips(arr[:, 4], arr[:, 3], arr[:, 5], impressions=len(arr))
    b = doubly_robust(arr[:, 4], arr[:, 3], arr[:, 5], zeros, zeros, impressions=len(arr))
    assert a.value == pytest.approx(b.value)


def test_unsupported_target_slots_are_refused() -> None:
    with pytest.raises(ValueError):
        ips([1.0], [0.0], [1.0], impressions=1)
    with pytest.raises(ValueError):
        ips([1.0, 2.0], [0.5], [1.0], impressions=1)
