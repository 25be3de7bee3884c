"""The serving plan in memory: the active plan's allocations by segment, and their pacing.

Serving needs, per request, the allocations of one segment (surface × city × part of the day ×
audience) that are behind their pace. Asking the database every time (and updating the same
counter rows from every request) was most of a feed request's cost, so the allocations of the
newest plan whose promise is active are loaded with the serving snapshot (`serving.cache`) and
kept here, indexed by segment, with their delivered counts *as loaded*.

Delivered, for pacing, is the loaded count plus what this process delivered since (counted here
at once; written to the database by `exposure_writer`, now or within a flush interval). Several
processes each see the database's count as of their last reload plus their own deliveries, so
between reloads a promise can be served by N processes that each believe it is behind: at most
N − 1 processes' worth of one reload interval of over-delivery, which the feedback correction
(behind = target − delivered) takes back after the next reload.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from townsquare.traffic.models import PlanAllocation, Promise, PromiseKind, PromiseState

Segment = tuple[str, str, str, str]  # surface, city, part of the day, audience


@dataclass(frozen=True, slots=True)
class Allocation:
    """One allocation of the plan and what serving needs of its promise."""

    id: int
    promise_id: int
    promise_public_id: str
    kind: PromiseKind
    miniapp_id: int
    planned: int
    delivered: int  # as loaded
    starts_at: datetime  # the promise's period
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class Behind:
    """An allocation behind its pace by `gap` impressions (> 0)."""

    allocation: Allocation
    gap: float


class _Segment:
    """One segment's allocations as arrays, so pacing a request is a few vector operations."""

    __slots__ = ("allocations", "delivered", "ends", "ids", "planned", "promise_rows", "starts")

    def __init__(self, allocations: list[Allocation], promise_row: dict[int, int],
                 since: Counter[int]) -> None:
        self.allocations = allocations
        self.ids = np.array([a.id for a in allocations], dtype=np.int64)
        self.planned = np.array([a.planned for a in allocations], dtype=np.float64)
        self.delivered = np.array([a.delivered + since.get(a.id, 0) for a in allocations],
                                  dtype=np.float64)
        self.promise_rows = np.array([promise_row[a.promise_id] for a in allocations],
                                     dtype=np.int64)
        self.starts = np.array([a.starts_at.timestamp() for a in allocations])
        self.ends = np.array([a.ends_at.timestamp() for a in allocations])


class PlanState:
    """A plan's allocations by segment, with this process's deliveries since they were loaded."""

    def __init__(self, plan_id: int, *, allocations_since: Counter[int] | None = None,
                 promises_since: Counter[int] | None = None) -> None:
        self.plan_id = plan_id
        self._since = allocations_since or Counter()
        self._promises_since = promises_since or Counter()
        self._loading: dict[Segment, list[Allocation]] = {}
        self._promises: dict[int, tuple[int, int]] = {}  # id → (requested, delivered as loaded)
        self._segments: dict[Segment, _Segment] = {}
        self._where: dict[int, tuple[_Segment, int]] = {}
        self._promise_row: dict[int, int] = {}
        self._requested = np.zeros(0)
        self._promise_delivered = np.zeros(0)
        self._lock = threading.Lock()

    def add(self, segment: Segment, allocation: Allocation, *, requested: int,
            promise_delivered: int) -> None:
        """Index one allocation under its segment (loading; `finish` when all are added)."""
        self._loading.setdefault(segment, []).append(allocation)
        self._promises[allocation.promise_id] = (requested, promise_delivered)

    def finish(self) -> PlanState:
        """Build the arrays serving reads (after the last `add`)."""
        ids = list(self._promises)
        self._promise_row = {p: i for i, p in enumerate(ids)}
        self._requested = np.array([self._promises[p][0] for p in ids], dtype=np.float64)
        self._promise_delivered = np.array(
            [self._promises[p][1] + self._promises_since.get(p, 0) for p in ids],
            dtype=np.float64)
        for key, rows in self._loading.items():
            segment = self._segments[key] = _Segment(rows, self._promise_row, self._since)
            for i, a in enumerate(rows):
                self._where[a.id] = (segment, i)
        self._loading = {}
        return self

    def behind(self, segment: Segment, *, share: float, now: datetime) -> Iterator[Behind]:
        """The segment's allocations behind their pace at `now`, most behind first (lazily:
        the caller usually needs the first few)."""
        seg = self._segments.get(segment)
        if seg is None:
            return iter(())
        moment = now.timestamp()
        gap = seg.planned * share - seg.delivered
        rows = seg.promise_rows
        ok = ((gap > 0) & (seg.starts <= moment) & (seg.ends > moment)
              & (self._promise_delivered[rows] < self._requested[rows]))
        found = np.flatnonzero(ok)
        order = found[np.lexsort((seg.ids[found], -gap[found]))]
        return (Behind(seg.allocations[i], float(gap[i])) for i in order.tolist())

    def deliver(self, allocation_ids: Iterable[int], promise_ids: Iterable[int]) -> None:
        """Count this process's deliveries at once (pacing sees them in the next request)."""
        with self._lock:
            for allocation_id in allocation_ids:
                where = self._where.get(allocation_id)
                if where is not None:
                    where[0].delivered[where[1]] += 1
            for promise_id in promise_ids:
                row = self._promise_row.get(promise_id)
                if row is not None:
                    self._promise_delivered[row] += 1

    def delivered(self, allocation_id: int) -> int | None:
        """What pacing believes an allocation has delivered (None: not in this plan)."""
        where = self._where.get(allocation_id)
        return None if where is None else int(where[0].delivered[where[1]])


_LOAD = (  # built once
    select(PlanAllocation.id, PlanAllocation.promise_id, Promise.public_id, Promise.kind,
           Promise.miniapp_id, PlanAllocation.surface, PlanAllocation.city,
           PlanAllocation.daypart, PlanAllocation.audience, PlanAllocation.planned,
           PlanAllocation.delivered, Promise.requested,
           Promise.delivered.label("promise_delivered"), Promise.starts_at, Promise.ends_at)
    .join(Promise, Promise.id == PlanAllocation.promise_id)
    .where(PlanAllocation.plan_id == bindparam("plan"), Promise.state == PromiseState.ACTIVE)
)


def load(db: Session, *, plan_id: int, allocations_since: Counter[int] | None = None,
         promises_since: Counter[int] | None = None) -> PlanState:
    """The plan's allocations of active promises; `*_since`: deliveries not in the database yet."""
    state = PlanState(plan_id, allocations_since=allocations_since,
                      promises_since=promises_since)
    for r in db.execute(_LOAD, {"plan": plan_id}):
        state.add((r.surface, r.city, r.daypart, r.audience), Allocation(
            r.id, r.promise_id, r.public_id, PromiseKind(r.kind), r.miniapp_id, r.planned,
            r.delivered, r.starts_at, r.ends_at,
        ), requested=r.requested, promise_delivered=r.promise_delivered)
    return state.finish()
