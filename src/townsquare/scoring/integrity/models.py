"""The operator's review queue of anti-fraud flags: one review per flagged mini-app and detection
date, holding the anomaly scores with their evidence, the decision, and (once confirmed) the
penalty the next scoring cycles apply."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from townsquare.core.database import Base, Timestamped, str_enum
from townsquare.core.ids import new_id
from townsquare.miniapps.models import MiniApp


class ReviewState(enum.StrEnum):
    OPEN = "open"
    DISMISSED = "dismissed"  # not fraud (the reason says why): no penalty
    CONFIRMED = "confirmed"  # fraud: the penalty applies to the next cycles


class IntegrityReview(Timestamped, Base):
    """A mini-app flagged by the detectors as of a date, and the operator's decision."""

    __tablename__ = "integrity_reviews"
    __table_args__ = (
        UniqueConstraint("miniapp_id", "as_of"),
        Index("ix_integrity_reviews_state", "state", "anomaly"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("irv"))
    miniapp_id: Mapped[int] = mapped_column(ForeignKey("miniapps.id", ondelete="CASCADE"))
    as_of: Mapped[date]  # the detection's window ends this day
    anomaly: Mapped[float]  # the strongest signal's score, 0..1
    signals: Mapped[list[Any]] = mapped_column(default=list)  # Signal.to_json(), strongest first
    state: Mapped[ReviewState] = mapped_column(str_enum(ReviewState, 16), default=ReviewState.OPEN)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(Text, default="")
    # the penalty of a confirmed review: cap, multiplier, cycles, and the cycles it applied to
    penalty: Mapped[dict[str, Any]] = mapped_column(default=dict)

    miniapp: Mapped[MiniApp] = relationship(lazy="joined")
