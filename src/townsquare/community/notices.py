"""Notices: the property manager and the committee publish, the community's residents read."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.community import access
from townsquare.community.models import Community, Notice
from townsquare.core import audit
from townsquare.core.clock import clock
from townsquare.core.errors import NotFound
from townsquare.core.i18n import N_
from townsquare.core.text import clean_name, clean_text, well_formed

TITLE_MAX = 100
BODY_MAX = 4000


def publish(
    db: Session, *, actor: User | None, community: Community, title: str, body: str
) -> Notice:
    """Publish a notice to the community (property manager or committee)."""
    access.require(db, actor=actor, community=community, roles=access.HEALTH_ROLES)
    title = clean_name(title, field="title", max_length=TITLE_MAX,
                       message=N_("A title is 1 to {n} characters."))
    body = clean_text(body, field="body", message=N_("A notice is 1 to {n} characters."),
                      max_length=BODY_MAX, required=True)
    notice = Notice(
        community_id=community.id, title=title, body=body,
        published_by_id=actor.id if actor else None, published_at=clock.now(),
    )
    db.add(notice)
    db.flush()
    audit.record(
        db, actor_id=actor.id if actor else None, action="community.notice.publish",
        subject_type="community", subject_id=community.public_id, notice=notice.public_id,
    )
    return notice


def notices_for(
    db: Session, *, actor: User | None, community: Community, limit: int = 50
) -> list[Notice]:
    """The community's notices, newest first: for its verified residents and its staff."""
    if actor is not None and access.resident_of(db, actor=actor, community=community) is None:
        access.require(db, actor=actor, community=community,
                       roles=[access.PM, access.COMMITTEE, access.GUARD])
    stmt = (
        select(Notice).where(Notice.community_id == community.id)
        .order_by(Notice.published_at.desc(), Notice.id.desc()).limit(limit)
    )
    return list(db.scalars(stmt))


def withdraw(db: Session, *, actor: User | None, community: Community, notice_id: str) -> None:
    """Remove a notice (property manager or committee)."""
    access.require(db, actor=actor, community=community, roles=access.HEALTH_ROLES)
    notice = None
    if well_formed(notice_id, "ntc"):
        notice = db.scalar(select(Notice).where(
            Notice.public_id == notice_id, Notice.community_id == community.id
        ))
    if notice is None:
        raise NotFound("No such notice.")
    audit.record(
        db, actor_id=actor.id if actor else None, action="community.notice.withdraw",
        subject_type="community", subject_id=community.public_id, notice=notice_id,
    )
    db.delete(notice)
    db.flush()
