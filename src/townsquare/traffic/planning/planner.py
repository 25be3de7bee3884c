"""The allocation planner: one plan that hands forecast supply to every guaranteed promise.

Supply segments (surface × city × part of day × resident segment, with forecast impressions) and
demands (tier incentives, cold-start budgets, point redemptions, campaigns) form a transportation
problem. Each impression given to demand d on segment s earns ``priority[kind] × quality ×
affinity`` and each impression a demand is short costs its under-delivery penalty. `plan_exact`
solves it exactly as a min-cost flow (OR-Tools `SimpleMinCostFlow`); `plan_greedy` is the one-pass
high-water-mark heuristic kept for comparison. Both return a `Plan`, which serialises to JSON so
serving reads the plan and never needs a solver.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Kind = Literal["tier_incentive", "cold_start", "points", "campaign"]
KINDS: tuple[str, ...] = ("tier_incentive", "cold_start", "points", "campaign")
# Defaults only; the operator configures them. Earned and paid-for promises come before exploration.
DEFAULT_PRIORITIES: Mapping[str, float] = {
    "tier_incentive": 4.0,
    "points": 3.0,
    "campaign": 2.0,
    "cold_start": 1.0,
}
# Weights are scaled to integers for the solver; 1e-4 resolution is far below any business meaning.
DEFAULT_COST_SCALE = 10_000
_INT64_SAFE = 2**62


@dataclass(frozen=True, slots=True)
class Segment:
    """A unit of supply: forecast impressions of one surface × city × part of day × segment."""

    id: str
    impressions: int


@dataclass(frozen=True, slots=True)
class Demand:
    """A promise of exposure; `affinity` (one per eligible segment, default 1) scales quality."""

    id: str
    kind: str
    requested: int
    penalty: float
    quality: float
    eligible: tuple[str, ...]
    affinity: tuple[float, ...] | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """Per demand: what was asked, what the plan gives, and the gap."""

    demand_id: str
    requested: int
    delivered: int

    @property
    def shortfall(self) -> int:
        return self.requested - self.delivered


@dataclass(frozen=True, slots=True)
class Plan:
    """A solved allocation: planned impressions per (demand, segment) and per-demand totals."""

    method: str
    allocations: tuple[tuple[str, str, int], ...]  # (demand id, segment id, impressions), > 0 only
    deliveries: tuple[Delivery, ...]
    value: float  # delivered value: sum of impressions × edge weight
    penalty: float  # sum of shortfall × under-delivery penalty
    _by_demand: dict[str, Delivery] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    @property
    def objective(self) -> float:
        return self.value - self.penalty

    def delivery(self, demand_id: str) -> Delivery:
        """The delivery line of one demand."""
        by_demand = self._by_demand
        if by_demand is None:
            by_demand = {d.demand_id: d for d in self.deliveries}
            object.__setattr__(self, "_by_demand", by_demand)
        return by_demand[demand_id]

    def to_json(self) -> str:
        """Compact JSON (allocations as triples) for the serving store."""
        return json.dumps(
            {
                "version": 1,
                "method": self.method,
                "value": self.value,
                "penalty": self.penalty,
                "allocations": [list(a) for a in self.allocations],
                "deliveries": [[d.demand_id, d.requested, d.delivered] for d in self.deliveries],
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> Plan:
        """Read a plan written by `to_json`."""
        data = json.loads(text)
        if data.get("version") != 1:
            raise ValueError(f"Unknown plan version {data.get('version')!r}.")
        return cls(
            method=data["method"],
            allocations=tuple((str(d), str(s), int(n)) for d, s, n in data["allocations"]),
            deliveries=tuple(Delivery(str(d), int(r), int(n)) for d, r, n in data["deliveries"]),
            value=float(data["value"]),
            penalty=float(data["penalty"]),
        )


@dataclass(frozen=True, slots=True)
class _Problem:
    """The instance as flat arrays: one row per eligible (demand, segment) pair."""

    segment_ids: list[str]
    demand_ids: list[str]
    supply: np.ndarray  # int64, per segment
    requested: np.ndarray  # int64, per demand
    penalty: np.ndarray  # float64, per demand
    priority: np.ndarray  # float64, per demand (priority of its kind)
    pair_demand: np.ndarray  # int64 demand index per pair
    pair_segment: np.ndarray  # int64 segment index per pair
    pair_value: np.ndarray  # float64 value of one impression on the pair


def _build(
    segments: Sequence[Segment], demands: Sequence[Demand], priorities: Mapping[str, float]
) -> _Problem:
    """Validate the instance and flatten it (everything checked before anything is solved)."""
    for kind in KINDS:
        if kind not in priorities or priorities[kind] < 0:
            raise ValueError(f"Priority of {kind!r} must be given and >= 0.")
    seg_index: dict[str, int] = {}
    for i, seg in enumerate(segments):
        if seg.id in seg_index:
            raise ValueError(f"Duplicate segment id {seg.id!r}.")
        if seg.impressions < 0:
            raise ValueError(f"Segment {seg.id!r} has negative supply.")
        seg_index[seg.id] = i
    seen: set[str] = set()
    pair_d: list[int] = []
    pair_s: list[int] = []
    pair_a: list[float] = []
    for j, dem in enumerate(demands):
        if dem.id in seen:
            raise ValueError(f"Duplicate demand id {dem.id!r}.")
        seen.add(dem.id)
        if dem.kind not in KINDS:
            raise ValueError(f"Demand {dem.id!r} has unknown kind {dem.kind!r}.")
        if dem.requested < 0 or dem.penalty < 0 or not 0.0 <= dem.quality <= 1.0:
            raise ValueError(f"Demand {dem.id!r}: requested, penalty >= 0 and quality in 0..1.")
        if dem.affinity is not None and len(dem.affinity) != len(dem.eligible):
            raise ValueError(f"Demand {dem.id!r}: one affinity per eligible segment.")
        if len(set(dem.eligible)) != len(dem.eligible):
            raise ValueError(f"Demand {dem.id!r} lists a segment twice.")
        try:
            pair_s.extend(seg_index[s] for s in dem.eligible)
        except KeyError as exc:
            raise ValueError(f"Demand {dem.id!r} names unknown segment {exc.args[0]!r}.") from None
        pair_d.extend([j] * len(dem.eligible))
        if dem.affinity is None:
            pair_a.extend([1.0] * len(dem.eligible))
        else:
            if any(not 0.0 <= a <= 1.0 for a in dem.affinity):
                raise ValueError(f"Demand {dem.id!r}: affinity in 0..1.")
            pair_a.extend(dem.affinity)
    priority = np.array([priorities[d.kind] for d in demands], dtype=np.float64)
    quality = np.array([d.quality for d in demands], dtype=np.float64)
    pd = np.array(pair_d, dtype=np.int64)
    return _Problem(
        segment_ids=[s.id for s in segments],
        demand_ids=[d.id for d in demands],
        supply=np.array([s.impressions for s in segments], dtype=np.int64),
        requested=np.array([d.requested for d in demands], dtype=np.int64),
        penalty=np.array([d.penalty for d in demands], dtype=np.float64),
        priority=priority,
        pair_demand=pd,
        pair_segment=np.array(pair_s, dtype=np.int64),
        pair_value=priority[pd] * quality[pd] * np.array(pair_a, dtype=np.float64),
    )


def _plan(problem: _Problem, flow: np.ndarray, method: str) -> Plan:
    """Turn per-pair flows into a Plan, scoring it with the exact float weights."""
    delivered = np.bincount(problem.pair_demand, weights=flow, minlength=len(problem.demand_ids))
    delivered = delivered.astype(np.int64)
    value = float(np.dot(flow.astype(np.float64), problem.pair_value))
    penalty = float(np.dot((problem.requested - delivered).astype(np.float64), problem.penalty))
    used = np.flatnonzero(flow > 0)
    d_ids, s_ids = problem.demand_ids, problem.segment_ids
    allocations = tuple(
        (d_ids[d], s_ids[s], int(n))
        for d, s, n in zip(
            problem.pair_demand[used].tolist(),
            problem.pair_segment[used].tolist(),
            flow[used].tolist(),
            strict=True,
        )
    )
    deliveries = tuple(
        Delivery(d_ids[j], int(r), int(n))
        for j, (r, n) in enumerate(zip(problem.requested.tolist(), delivered.tolist(), strict=True))
    )
    return Plan(method, allocations, deliveries, value, penalty)


def plan_exact(
    *,
    segments: Sequence[Segment],
    demands: Sequence[Demand],
    priorities: Mapping[str, float] = DEFAULT_PRIORITIES,
    cost_scale: int = DEFAULT_COST_SCALE,
) -> Plan:
    """The optimal allocation (to 1/cost_scale of a weight unit) via a min-cost flow."""
    from ortools.graph.python import min_cost_flow

    problem = _build(segments, demands, priorities)
    n_d, n_s = len(problem.demand_ids), len(problem.segment_ids)
    # Maximising value − penalty × shortfall equals maximising Σ (value + penalty) × flow, since
    # Σ penalty × requested is a constant. Costs are C − weight so they are all >= 0; every unit of
    # a demand's supply leaves through exactly one arc (a segment or "unmet", cost C), so the
    # constant C cancels too.
    weight = problem.pair_value + problem.penalty[problem.pair_demand]
    weight_int = np.rint(weight * cost_scale).astype(np.int64)
    top = int(weight_int.max(initial=0))
    total = int(problem.requested.sum())
    if (top + 1) * max(total, 1) * (n_d + n_s + 2) >= _INT64_SAFE:
        raise ValueError("Weights × impressions too large for int64 costs; lower cost_scale.")
    sink = n_d + n_s
    seg_node = n_d + problem.pair_segment
    demand_nodes = np.arange(n_d, dtype=np.int64)
    segment_nodes = n_d + np.arange(n_s, dtype=np.int64)
    tails = np.concatenate([problem.pair_demand, demand_nodes, segment_nodes])
    heads = np.concatenate([seg_node, np.full(n_d, sink), np.full(n_s, sink)])
    caps = np.concatenate(
        [problem.requested[problem.pair_demand], problem.requested, problem.supply]
    )
    costs = np.concatenate(
        [top - weight_int, np.full(n_d, top, np.int64), np.zeros(n_s, np.int64)]
    )
    smcf = min_cost_flow.SimpleMinCostFlow()
    smcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    smcf.set_nodes_supplies(
        np.concatenate([demand_nodes, [sink]]), np.concatenate([problem.requested, [-total]])
    )
    status = smcf.solve()
    if status != smcf.OPTIMAL:
        raise RuntimeError(f"Min-cost flow did not solve: status {status}.")
    n_pairs = len(problem.pair_demand)
    flow = smcf.flows(np.arange(n_pairs, dtype=np.int64)).astype(np.int64)
    return _plan(problem, flow, "exact")


def plan_greedy(
    *,
    segments: Sequence[Segment],
    demands: Sequence[Demand],
    priorities: Mapping[str, float] = DEFAULT_PRIORITIES,
) -> Plan:
    """One pass in priority order; each demand takes from its segments pro rata to what is left."""
    problem = _build(segments, demands, priorities)
    remaining = problem.supply.copy()
    flow = np.zeros(len(problem.pair_demand), dtype=np.int64)
    # Pairs are stored demand by demand, so each demand's pairs are one contiguous slice.
    starts = np.searchsorted(problem.pair_demand, np.arange(len(problem.demand_ids) + 1))
    mean_value = np.zeros(len(problem.demand_ids))
    counts = np.diff(starts)
    np.add.at(mean_value, problem.pair_demand, problem.pair_value)
    mean_value = np.divide(mean_value, counts, out=np.zeros_like(mean_value), where=counts > 0)
    # Kind priority first, then what an impression is worth to the demand, then id for stability.
    order = sorted(
        range(len(problem.demand_ids)),
        key=lambda j: (
            -problem.priority[j],
            -(mean_value[j] + problem.penalty[j]),
            problem.demand_ids[j],
        ),
    )
    for j in order:
        lo, hi = starts[j], starts[j + 1]
        segs = problem.pair_segment[lo:hi]
        left = remaining[segs]
        available = int(left.sum())
        take = min(int(problem.requested[j]), available)
        if take <= 0:
            continue
        # Largest-remainder apportionment keeps integers and never exceeds any segment's rest.
        exact = left * (take / available)
        share = np.minimum(np.floor(exact).astype(np.int64), left)
        short = take - int(share.sum())
        if short > 0:
            room = np.flatnonzero(share < left)
            best = room[np.argsort(-(exact[room] - share[room]), kind="stable")[:short]]
            share[best] += 1
        flow[lo:hi] = share
        remaining[segs] -= share
    return _plan(problem, flow, "greedy")
