"""The penalty a confirmed anti-fraud review applies, and its application to a cycle's results.

The rule (docs/scoring.md, "Anti-fraud signals"): for the next `cycles` scoring cycles whose date
is on or after the day the operator confirmed the review, the mini-app's overall score is
multiplied by `multiplier` and its tier is capped at `tier_cap` (a better tier becomes the cap;
a worse one stays). Nothing applies before a review is confirmed. Re-running a cycle already
penalised applies the penalty again (the same result); cycles are counted by their dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from townsquare.scoring.integrity.models import IntegrityReview, ReviewState
from townsquare.scoring.model.catalogue import TIERS
from townsquare.scoring.models import MiniAppScore, ScoreCycle, TierHistory


@dataclass(frozen=True)
class Rule:
    tier_cap: str = "C"
    multiplier: float = 0.8
    cycles: int = 4

    def to_json(self) -> dict[str, Any]:
        return {"tier_cap": self.tier_cap, "multiplier": self.multiplier, "cycles": self.cycles}


RULE = Rule()


def capped(tier: str | None, cap: str) -> str | None:
    """The worse of the tier and the cap (TIERS is best first); None stays None."""
    if tier is None or tier not in TIERS or cap not in TIERS:
        return tier
    return TIERS[max(TIERS.index(tier), TIERS.index(cap))]


def penalised(overall: float | None, multiplier: float) -> float | None:
    return None if overall is None else round(overall * multiplier, 2)


def applies(penalty: dict[str, Any], decided: date, as_of: date) -> bool:
    """Whether a confirmed review's penalty applies to the cycle as of `as_of`."""
    done = [date.fromisoformat(d) for d in penalty.get("applied", [])]
    if as_of < decided:
        return False
    if as_of in done:
        return True
    later = [d for d in done if d > as_of]
    return not later and len(done) < int(penalty.get("cycles", 0))


def apply(db: Session, cycle: ScoreCycle) -> int:
    """Apply every due penalty to the cycle's stored results; returns how many applied.
    Runs inside the cycle, which holds the one-run-at-a-time lock; a decision only ever turns
    an open review into a confirmed one, so the confirmed rows read here change only here."""
    reviews = db.scalars(
        select(IntegrityReview).where(IntegrityReview.state == ReviewState.CONFIRMED)
        .order_by(IntegrityReview.id)
    ).all()
    applied = 0
    seen: set[int] = set()
    for review in reviews:
        if review.decided_at is None or review.miniapp_id in seen:
            continue
        if not applies(review.penalty, review.decided_at.date(), cycle.as_of):
            continue
        score = db.scalar(select(MiniAppScore).where(
            MiniAppScore.cycle_id == cycle.id, MiniAppScore.miniapp_id == review.miniapp_id))
        if score is None:
            continue
        seen.add(review.miniapp_id)  # one penalty per mini-app and cycle, the oldest review's
        cap, mult = str(review.penalty["tier_cap"]), float(review.penalty["multiplier"])
        before = {"overall": score.overall, "tier": score.tier}
        score.overall = penalised(score.overall, mult)
        score.tier = capped(score.tier, cap)
        note = {"review": review.public_id, **RULE.to_json(), "tier_cap": cap,
                "multiplier": mult, "before": before}
        score.result = {**score.result, "integrity_penalty": note}
        score.tier_detail = {**score.tier_detail, "integrity_penalty": note}
        if score.tier is not None:
            db.execute(update(TierHistory).where(TierHistory.cycle_id == cycle.id,
                                                 TierHistory.miniapp_id == review.miniapp_id)
                       .values(tier=score.tier))
        days = sorted({*review.penalty.get("applied", []), cycle.as_of.isoformat()})
        review.penalty = {**review.penalty, "applied": days}
        applied += 1
    db.flush()
    return applied
