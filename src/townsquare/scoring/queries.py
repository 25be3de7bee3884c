"""Reading scores: a mini-app's latest score and its trend (owner side and operators), cycles and
the score distribution (operators)."""

from __future__ import annotations

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, defer, lazyload

from townsquare.accounts.models import Role, User
from townsquare.accounts.permissions import require_role
from townsquare.core.errors import NotFound
from townsquare.core.text import well_formed
from townsquare.miniapps import registry
from townsquare.scoring.model.catalogue import TIERS
from townsquare.scoring.models import CycleState, MiniAppScore, ScoreCycle


def score_history(
    db: Session, *, actor: User | None, miniapp_id: str, limit: int = 26
) -> list[MiniAppScore]:
    """The mini-app's scores in finished cycles, oldest first (the newest `limit`)."""
    miniapp = registry.get_miniapp(db, actor=actor, public_id=miniapp_id)
    stmt = (
        select(MiniAppScore)
        .join(ScoreCycle, ScoreCycle.id == MiniAppScore.cycle_id)
        .where(MiniAppScore.miniapp_id == miniapp.id, ScoreCycle.state == CycleState.DONE)
        .order_by(ScoreCycle.as_of.desc())
        .limit(max(1, min(limit, 200)))
    )
    return list(reversed(db.scalars(stmt).all()))


def latest_score(db: Session, *, actor: User | None, miniapp_id: str) -> MiniAppScore | None:
    history = score_history(db, actor=actor, miniapp_id=miniapp_id, limit=1)
    return history[-1] if history else None


def list_cycles(db: Session, *, actor: User | None, limit: int = 52) -> list[ScoreCycle]:
    """Cycles, newest first (operators)."""
    require_role(actor, Role.OPERATOR)
    stmt = select(ScoreCycle).order_by(ScoreCycle.as_of.desc()).limit(max(1, min(limit, 500)))
    return list(db.scalars(stmt))


def get_cycle(db: Session, *, actor: User | None, public_id: str) -> ScoreCycle:
    require_role(actor, Role.OPERATOR)
    cycle = None
    if well_formed(public_id, "cyc"):
        cycle = db.scalar(select(ScoreCycle).where(ScoreCycle.public_id == public_id))
    if cycle is None:
        raise NotFound("No such scoring cycle.")
    return cycle


def latest_cycle(db: Session, *, actor: User | None) -> ScoreCycle | None:
    require_role(actor, Role.OPERATOR)
    stmt = (
        select(ScoreCycle)
        .where(ScoreCycle.state == CycleState.DONE)
        .order_by(ScoreCycle.as_of.desc())
        .limit(1)
    )
    return db.scalar(stmt)


def cycle_scores(db: Session, *, actor: User | None, cycle: ScoreCycle) -> list[MiniAppScore]:
    """A cycle's scores, best first (operators)."""
    require_role(actor, Role.OPERATOR)
    stmt = (
        select(MiniAppScore)
        .where(MiniAppScore.cycle_id == cycle.id)
        .order_by(MiniAppScore.overall.desc().nulls_last(), MiniAppScore.id)
    )
    return list(db.scalars(stmt))


SCORE_PAGE_MAX = 200
# The list shows figures, not the explanation: its JSON (result, tier detail, suggestions) and
# the cycle (the page has it) are left unloaded.
_LIST_ONLY = (defer(MiniAppScore.result, raiseload=True),
              defer(MiniAppScore.tier_detail, raiseload=True),
              defer(MiniAppScore.suggestions, raiseload=True), lazyload(MiniAppScore.cycle))


def _cycle_filter(cycle: ScoreCycle, category: str | None, tier: str | None):
    stmt = select(MiniAppScore).where(MiniAppScore.cycle_id == cycle.id)
    if category:
        stmt = stmt.where(MiniAppScore.category_code == category)
    if tier == "none":  # not tiered: not enough data yet
        stmt = stmt.where(MiniAppScore.tier.is_(None))
    elif tier:
        stmt = stmt.where(MiniAppScore.tier == tier)
    return stmt


def score_page(
    db: Session,
    *,
    actor: User | None,
    cycle: ScoreCycle,
    category: str | None = None,
    tier: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[MiniAppScore], int]:
    """One page of a cycle's scores, best first, by category code and tier ("none": not
    tiered), with how many match in all (operators). Paged in SQL."""
    require_role(actor, Role.OPERATOR)
    stmt = _cycle_filter(cycle, category, tier)
    total = db.scalar(stmt.with_only_columns(func.count(MiniAppScore.id))) or 0
    rows = db.scalars(
        stmt.options(*_LIST_ONLY)
        .order_by(MiniAppScore.overall.desc().nulls_last(), MiniAppScore.id)
        .limit(max(1, min(limit, SCORE_PAGE_MAX)))
        .offset(max(0, offset))
    )
    return list(rows), total


def intervals(db: Session, *, actor: User | None,
              scores: list[MiniAppScore]) -> dict[int, tuple[float, float]]:
    """score id → the (low, high) of its interval, read from the result JSON without loading
    the rest of it (operators; scores of older cycles have none)."""
    require_role(actor, Role.OPERATOR)
    if not scores:
        return {}
    low = MiniAppScore.result["score_low"].as_float()
    high = MiniAppScore.result["score_high"].as_float()
    rows = db.execute(select(MiniAppScore.id, low, high).where(
        MiniAppScore.id.in_([s.id for s in scores])))
    return {i: (lo, hi) for i, lo, hi in rows if lo is not None and hi is not None}


def cycle_summary(
    db: Session, *, actor: User | None, cycle: ScoreCycle, bins: int = 10
) -> tuple[dict[str, int], int, list[int], list[str]]:
    """A cycle's tier counts, how many lack data, the histogram of its overall scores (counts
    per band, as `histogram` makes them) and the category codes it scored, all counted in SQL
    without loading scores."""
    require_role(actor, Role.OPERATOR)
    tiers = {tier: 0 for tier in TIERS}
    for tier, n in db.execute(
        select(MiniAppScore.tier, func.count())
        .where(MiniAppScore.cycle_id == cycle.id, MiniAppScore.tier.is_not(None))
        .group_by(MiniAppScore.tier)
    ):
        tiers[str(tier)] = int(n)
    insufficient = db.scalar(
        select(func.count()).select_from(MiniAppScore).where(
            MiniAppScore.cycle_id == cycle.id, MiniAppScore.state != "scored"
        )
    ) or 0
    width = 100 / bins
    band = case(
        *((MiniAppScore.overall < width * (i + 1), i) for i in range(bins - 1)), else_=bins - 1
    ).label("band")
    counts = [0] * bins
    for index, n in db.execute(
        select(band, func.count())
        .where(MiniAppScore.cycle_id == cycle.id, MiniAppScore.overall.is_not(None))
        .group_by(band)
    ):
        counts[int(index)] = int(n)
    codes = list(db.scalars(
        select(MiniAppScore.category_code).where(MiniAppScore.cycle_id == cycle.id)
        .distinct().order_by(MiniAppScore.category_code)
    ))
    return tiers, insufficient, counts, codes


def tier_counts(scores: list[MiniAppScore]) -> dict[str, int]:
    counts = {tier: 0 for tier in TIERS}
    for score in scores:
        if score.tier:
            counts[score.tier] = counts.get(score.tier, 0) + 1
    return counts


def histogram(values: list[float], *, bins: int = 10) -> list[int]:
    """Counts of scores in [0,10), [10,20) … [90,100]."""
    counts = [0] * bins
    for value in values:
        index = min(int(value // (100 / bins)), bins - 1)
        counts[max(index, 0)] += 1
    return counts
