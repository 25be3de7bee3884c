"""Exposure concentration over the last days, computed in SQL from the daily rollups: the Gini
coefficient, the Lorenz curve's points and the impressions of mini-apps at the NEW stage.

The page needs a handful of numbers, not a row per mini-app: the per-mini-app totals, their
ranks and running sums stay in the database (window functions, on SQLite and PostgreSQL alike);
what comes back is one row of sums and at most `points` + 1 curve points.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
from sqlalchemy import func, literal, select, union_all
from sqlalchemy.orm import Session

from townsquare.events.models import ExposureDay
from townsquare.miniapps.models import MiniApp
from townsquare.traffic.models import Stage, TrafficProfile


@dataclass(frozen=True)
class Concentration:
    gini: float
    lorenz: list[tuple[float, float]]  # (share of mini-apps, share of impressions)
    impressions: int
    new_impressions: int  # of those, to mini-apps at the NEW stage


def lorenz_picks(count: int, points: int = 50) -> list[int]:
    """The ranks whose running sums make the curve (`reports.lorenz` picks the same)."""
    return [int(i) for i in
            np.unique(np.linspace(0, count, min(points, count) + 1).round().astype(int))]


def concentration(db: Session, *, first: date, last: date, points: int = 50) -> Concentration:
    """Impressions per mini-app over local days `first`..`last`: every mini-app shown, and every
    listed one even if never shown (never being shown is what concentration means)."""
    in_window = (ExposureDay.day >= first, ExposureDay.day <= last)
    shown = (
        select(ExposureDay.miniapp_id.label("miniapp_id"),
               func.sum(ExposureDay.impressions).label("n"))
        .where(*in_window)
        .group_by(ExposureDay.miniapp_id)
        .having(func.sum(ExposureDay.impressions) > 0)
    )
    listed = select(MiniApp.id.label("miniapp_id"), literal(0).label("n")).where(
        MiniApp.listed.is_(True))
    both = union_all(shown, listed).subquery()
    totals = (
        select(func.sum(both.c.n).label("n")).group_by(both.c.miniapp_id).subquery()
    )
    rank = func.row_number().over(order_by=totals.c.n)
    ranked = select(
        totals.c.n,
        rank.label("i"),
        func.sum(totals.c.n).over(order_by=totals.c.n, rows=(None, 0)).label("cum"),
    ).subquery()
    count, total, weighted = db.execute(
        select(func.count(), func.coalesce(func.sum(ranked.c.n), 0),
               func.coalesce(func.sum(ranked.c.i * ranked.c.n), 0))
    ).one()
    count, total, weighted = int(count), int(total), int(weighted)
    new = db.scalar(
        select(func.coalesce(func.sum(ExposureDay.impressions), 0))
        .join(TrafficProfile, TrafficProfile.miniapp_id == ExposureDay.miniapp_id)
        .where(*in_window, TrafficProfile.stage == Stage.NEW)
    ) or 0
    if count == 0 or total <= 0:
        return Concentration(0.0, [(0.0, 0.0), (1.0, 1.0)], total, int(new))
    gini = 2.0 * weighted / (count * total) - (count + 1) / count
    picks = lorenz_picks(count, points)
    running = {int(i): int(cum) for i, cum in db.execute(
        select(ranked.c.i, ranked.c.cum).where(ranked.c.i.in_([p for p in picks if p > 0]))
    )}
    running[0] = 0
    curve = [(i / count, running[i] / total) for i in picks]
    return Concentration(gini, curve, total, int(new))
