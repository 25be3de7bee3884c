"""The audit log: an append-only record of who did what to which object, and why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from townsquare.core.database import Base, keep_on_rollback, utcnow


class AuditEntry(Base):
    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


def record(
    db: Session,
    *,
    actor_id: int | None,
    action: str,
    subject_type: str,
    subject_id: str,
    **detail: Any,
) -> AuditEntry:
    """Append one audit entry in the caller's transaction (so it commits or rolls back with it)."""
    entry = AuditEntry(
        actor_id=actor_id,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        detail=detail,
    )
    db.add(entry)
    return entry


def record_refusal(
    db: Session,
    *,
    actor_id: int | None,
    action: str,
    subject_type: str,
    subject_id: str,
    **detail: Any,
) -> None:
    """Audit a refused attempt: the entry survives the rollback of the refused request."""
    keep_on_rollback(db, lambda session: session.add(AuditEntry(
        actor_id=actor_id, action=action, subject_type=subject_type, subject_id=subject_id,
        detail=dict(detail), at=utcnow(),
    )))


def history(db: Session, *, subject_type: str, subject_id: str) -> list[AuditEntry]:
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.subject_type == subject_type, AuditEntry.subject_id == subject_id)
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    return list(db.scalars(stmt))
