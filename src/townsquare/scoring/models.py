"""Scoring records: operator configuration versions, cycles, per-mini-app scores, the tier
history the traffic system reads, and complaint disputes.

A score row keeps the whole explainable result (inputs, benchmarks, contributions) as JSON, so a
page or an audit can show exactly why a mini-app got its score without re-running anything.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from townsquare.core.database import Base, Timestamped, str_enum
from townsquare.core.ids import new_id
from townsquare.events.models import BehaviourEvent
from townsquare.miniapps.models import MiniApp


class ScoringConfigVersion(Timestamped, Base):
    """One version of the operator's scoring configuration; exactly one is active."""

    __tablename__ = "scoring_config_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(unique=True)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)  # ScoringConfig as JSON
    cycle_days: Mapped[int] = mapped_column(default=7)  # a cycle is due this often
    window_days: Mapped[int] = mapped_column(default=28)  # metrics look back this far
    active: Mapped[bool] = mapped_column(default=False, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(String(500), default="")


class CycleState(enum.StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ScoreCycle(Base):
    """One scoring run as of a date; re-running the same date replaces its results."""

    __tablename__ = "score_cycles"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("cyc"))
    as_of: Mapped[date] = mapped_column(unique=True)
    window_days: Mapped[int] = mapped_column(default=28)
    config_version_id: Mapped[int] = mapped_column(ForeignKey("scoring_config_versions.id"))
    model_version: Mapped[str] = mapped_column(String(64), default="")
    state: Mapped[CycleState] = mapped_column(str_enum(CycleState, 16), default=CycleState.RUNNING)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    run_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # {"miniapps", "scored", "insufficient_data", "excluded_complaints", "seconds"}
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str] = mapped_column(Text, default="")

    config_version: Mapped[ScoringConfigVersion] = relationship(lazy="joined")


class MiniAppScore(Base):
    """A mini-app's explainable score in one cycle."""

    __tablename__ = "miniapp_scores"
    __table_args__ = (
        UniqueConstraint("cycle_id", "miniapp_id"),
        Index("ix_scores_miniapp", "miniapp_id", "cycle_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("score_cycles.id", ondelete="CASCADE"))
    miniapp_id: Mapped[int] = mapped_column(ForeignKey("miniapps.id", ondelete="CASCADE"))
    category_code: Mapped[str] = mapped_column(String(32), default="")
    state: Mapped[str] = mapped_column(String(24))  # scored | insufficient_data
    overall: Mapped[float | None]
    volume: Mapped[float | None]
    scale: Mapped[float | None]
    quality: Mapped[float | None]
    tier: Mapped[str | None] = mapped_column(String(8))
    rank: Mapped[int | None]  # within the category
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)  # ScoreResult.to_json()
    tier_detail: Mapped[dict[str, Any]] = mapped_column(default=dict)  # TierDecision
    suggestions: Mapped[list[Any]] = mapped_column(default=list)

    cycle: Mapped[ScoreCycle] = relationship(lazy="joined")
    miniapp: Mapped[MiniApp] = relationship(lazy="joined")


class TierHistory(Base):
    """The tier a mini-app earned in each cycle; the newest done cycle's tier is current."""

    __tablename__ = "tier_history"
    __table_args__ = (
        UniqueConstraint("miniapp_id", "cycle_id"),
        Index("ix_tier_history_current", "miniapp_id", "as_of"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    miniapp_id: Mapped[int] = mapped_column(ForeignKey("miniapps.id", ondelete="CASCADE"))
    cycle_id: Mapped[int] = mapped_column(ForeignKey("score_cycles.id", ondelete="CASCADE"))
    as_of: Mapped[date]
    tier: Mapped[str] = mapped_column(String(8))


class DisputeState(enum.StrEnum):
    OPEN = "open"
    UPHELD = "upheld"  # the complaint stands and keeps counting
    DISMISSED = "dismissed"  # the complaint is dismissed: not counted from the next cycle


class ComplaintDispute(Timestamped, Base):
    """A merchant's dispute of one complaint event, and the operator's decision."""

    __tablename__ = "complaint_disputes"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("dsp"))
    event_id: Mapped[int] = mapped_column(ForeignKey("behaviour_events.id"), unique=True)
    miniapp_id: Mapped[int] = mapped_column(ForeignKey("miniapps.id", ondelete="CASCADE"))
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[DisputeState] = mapped_column(
        str_enum(DisputeState, 16), default=DisputeState.OPEN, index=True
    )
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str] = mapped_column(Text, default="")

    event: Mapped[BehaviourEvent] = relationship(lazy="joined")
    miniapp: Mapped[MiniApp] = relationship(lazy="joined")
