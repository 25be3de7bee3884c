"""Channels and official topic pages: what the operator defines, and who belongs on each.

A channel gathers whole categories (the community-life channel). A topic ("buy groceries")
gathers listed mini-apps by category codes and tags, plus merchants' mini-apps the operator
approved on application; a removed or rejected member stays out even when it matches. Only
operators write channels, topics and decisions (each audited); a merchant's staff, or a provider
it authorizes, apply with a note.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, lazyload

from townsquare.accounts.models import Role, User
from townsquare.accounts.permissions import require_role
from townsquare.core import audit
from townsquare.core.clock import clock
from townsquare.core.errors import Conflict, NotFound, ValidationFailed
from townsquare.core.i18n import N_
from townsquare.core.text import LINE_CONTROL, REASON_MAX, clean_name, clean_text, well_formed
from townsquare.merchants.categories import CODE
from townsquare.merchants.models import Category, Merchant
from townsquare.merchants.service import get_merchant
from townsquare.miniapps.models import MiniApp
from townsquare.miniapps.registry import acting_miniapp
from townsquare.traffic import surfaces
from townsquare.traffic.models import Channel, MembershipState, Topic, TopicMember

MAX_TAGS = 10
TAG_MAX = 16
MAX_CATEGORIES = 20
# Path words of the topics API that a topic slug must not shadow.
RESERVED_SLUGS = frozenset({"applications", "members"})
DESCRIPTION_MESSAGE = N_("A description is at most {n} characters of plain text.")
NOTE_MESSAGE = N_("A note is at most {n} characters of plain text.")
REASON_MESSAGE = N_("A reason is required (at most {n} characters).")
STATE_LABELS = {
    MembershipState.APPLIED: N_("Applied"),
    MembershipState.APPROVED: N_("Approved"),
    MembershipState.REJECTED: N_("Rejected"),
    MembershipState.REMOVED: N_("Removed"),
}


def _actor_id(actor: User | None) -> int | None:
    return actor.id if actor else None


# -- checks ----------------------------------------------------------------------------------
def clean_slug(slug: str) -> str:
    """A slug: 2 to 24 lower-case letters, digits and hyphens, starting with a letter."""
    if not isinstance(slug, str) or not surfaces.SLUG.match(slug) or slug in RESERVED_SLUGS:
        raise ValidationFailed(
            "A slug is 2 to 24 lower-case letters, digits or hyphens, starting with a letter.",
            field="slug",
        )
    return slug


def clean_tags(values: Iterable[Any]) -> list[str]:
    """At most 10 distinct tags of 1 to 16 characters each (order kept)."""
    tags: list[str] = []
    for raw in values:
        tag = " ".join(raw.split()) if isinstance(raw, str) else ""
        if not 1 <= len(tag) <= TAG_MAX or LINE_CONTROL.search(tag):
            raise ValidationFailed("Each tag is 1 to {n} characters.", n=TAG_MAX, field="tags")
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise ValidationFailed("At most {n} tags.", n=MAX_TAGS, field="tags")
    return tags


def clean_categories(db: Session, values: Iterable[Any]) -> list[str]:
    """Distinct codes of existing categories (order kept), at most 20."""
    codes: list[str] = []
    for raw in values:
        code = raw if isinstance(raw, str) else ""
        if code not in codes:
            codes.append(code)
    if len(codes) > MAX_CATEGORIES:
        raise ValidationFailed("At most {n} categories.", n=MAX_CATEGORIES, field="category_codes")
    # only well-formed codes reach the database (PostgreSQL refuses NUL characters, for one)
    asked = [code for code in codes if CODE.match(code)] or [""]
    known = set(db.scalars(select(Category.code).where(Category.code.in_(asked))))
    for code in codes:
        if not CODE.match(code) or code not in known:
            raise ValidationFailed(
                "No such category: {category}.", category=code[:32], field="category_codes"
            )
    return codes


def _titles(title_zh: str, title_en: str) -> tuple[str, str]:
    return (
        clean_name(title_zh, field="title_zh", max_length=32),
        clean_name(title_en, field="title_en", max_length=48),
    )


def _description(value: str, field: str) -> str:
    return clean_text(value, field=field, message=DESCRIPTION_MESSAGE)


def _reason(value: str, *, required: bool) -> str:
    return clean_text(
        value, field="reason", message=REASON_MESSAGE, max_length=REASON_MAX, required=required
    )


# -- channels --------------------------------------------------------------------------------
def channels(db: Session) -> list[Channel]:
    """Every channel, in display order (public)."""
    return list(db.scalars(select(Channel).order_by(Channel.position, Channel.slug)))


def get_channel(db: Session, *, slug: str) -> Channel:
    """The channel with this slug, or NotFound."""
    found = None
    if isinstance(slug, str) and surfaces.SLUG.match(slug):
        found = db.scalar(select(Channel).where(Channel.slug == slug))
    if found is None:
        raise NotFound("No such channel.")
    return found


def save_channel(
    db: Session,
    *,
    actor: User | None,
    slug: str,
    title_zh: str,
    title_en: str,
    category_codes: Iterable[str],
    position: int | None = None,
) -> Channel:
    """Create or replace a channel (operators)."""
    require_role(actor, Role.OPERATOR)
    slug = clean_slug(slug)
    title_zh, title_en = _titles(title_zh, title_en)
    codes = clean_categories(db, category_codes)
    if position is not None and not 0 <= position <= 1000:
        raise ValidationFailed("A position is 0 to {n}.", n=1000, field="position")
    channel = db.scalar(select(Channel).where(Channel.slug == slug))
    created = channel is None
    if channel is None:
        channel = Channel(slug=slug, position=position or 0)
        db.add(channel)
    elif position is not None:
        channel.position = position
    channel.title_zh, channel.title_en, channel.category_codes = title_zh, title_en, codes
    db.flush()
    audit.record(
        db, actor_id=_actor_id(actor), action="channel.create" if created else "channel.update",
        subject_type="channel", subject_id=slug, category_codes=codes,
    )
    return channel


def serves_city(cities: list[Any] | None, city: str | None) -> bool:
    # A mini-app that names no city serves every city.
    return city is None or not cities or city in cities


def _listed(db: Session, *, city: str | None) -> list[tuple[int, str, list[Any], list[Any]]]:
    stmt = (
        select(MiniApp.id, Category.code, MiniApp.tags, MiniApp.cities)
        .join(Category, Category.id == MiniApp.category_id)
        .where(MiniApp.listed.is_(True))
        .order_by(MiniApp.id)
    )
    return [
        (row.id, row.code, row.tags or [], row.cities or [])
        for row in db.execute(stmt)
        if serves_city(row.cities, city)
    ]


def channel_miniapp_ids(db: Session, *, channel: Channel, city: str | None = None) -> list[int]:
    """Listed mini-apps in the channel's categories serving `city` (all cities if None), by id."""
    return channel_members(_listed(db, city=city), codes=set(channel.category_codes or []))


Listed = Iterable[tuple[int, str, Iterable[Any], Iterable[Any]]]  # id, category, tags, cities


def channel_members(listed: Listed, *, codes: set[str]) -> list[int]:
    """The ids of `listed` (id, category code, tags, cities) in one of the channel's codes."""
    return [mid for mid, code, _tags, _cities in listed if code in codes]


# -- topics ----------------------------------------------------------------------------------
def list_topics(db: Session, *, active_only: bool = True) -> list[Topic]:
    """Topics by slug; only active ones unless asked (the operator sees all)."""
    stmt = select(Topic).order_by(Topic.slug)
    if active_only:
        stmt = stmt.where(Topic.active.is_(True))
    return list(db.scalars(stmt))


def get_topic(db: Session, *, slug: str, active_only: bool = False) -> Topic:
    """The topic with this slug, or NotFound (also for an inactive one when `active_only`)."""
    found = None
    if isinstance(slug, str) and surfaces.SLUG.match(slug):
        found = db.scalar(select(Topic).where(Topic.slug == slug))
    if found is None or (active_only and not found.active):
        raise NotFound("No such topic.")
    return found


def create_topic(
    db: Session,
    *,
    actor: User | None,
    slug: str,
    title_zh: str,
    title_en: str,
    description_zh: str = "",
    description_en: str = "",
    category_codes: Iterable[str] = (),
    tags: Iterable[str] = (),
) -> Topic:
    """Define a new official topic (operators)."""
    require_role(actor, Role.OPERATOR)
    slug = clean_slug(slug)
    title_zh, title_en = _titles(title_zh, title_en)
    topic = Topic(
        slug=slug, title_zh=title_zh, title_en=title_en,
        description_zh=_description(description_zh, "description_zh"),
        description_en=_description(description_en, "description_en"),
        category_codes=clean_categories(db, category_codes), tags=clean_tags(tags),
        created_by_id=_actor_id(actor),
    )
    if db.scalar(select(Topic.id).where(Topic.slug == slug)) is not None:
        raise Conflict("A topic with the slug {slug} already exists.", slug=slug)
    try:
        with db.begin_nested():  # a concurrent create of the same slug loses cleanly here
            db.add(topic)
            db.flush()
    except IntegrityError as exc:
        raise Conflict("A topic with the slug {slug} already exists.", slug=slug) from exc
    audit.record(
        db, actor_id=_actor_id(actor), action="topic.create", subject_type="topic",
        subject_id=topic.public_id, slug=slug, category_codes=topic.category_codes,
        tags=topic.tags,
    )
    return topic


def update_topic(
    db: Session,
    *,
    actor: User | None,
    slug: str,
    title_zh: str | None = None,
    title_en: str | None = None,
    description_zh: str | None = None,
    description_en: str | None = None,
    category_codes: Iterable[str] | None = None,
    tags: Iterable[str] | None = None,
    active: bool | None = None,
) -> Topic:
    """Change a topic's fields (None keeps a field); deactivating hides it (operators)."""
    require_role(actor, Role.OPERATOR)
    topic = get_topic(db, slug=slug)
    changes: dict[str, Any] = {}
    if title_zh is not None:
        changes["title_zh"] = clean_name(title_zh, field="title_zh", max_length=32)
    if title_en is not None:
        changes["title_en"] = clean_name(title_en, field="title_en", max_length=48)
    if description_zh is not None:
        changes["description_zh"] = _description(description_zh, "description_zh")
    if description_en is not None:
        changes["description_en"] = _description(description_en, "description_en")
    if category_codes is not None:
        changes["category_codes"] = clean_categories(db, category_codes)
    if tags is not None:
        changes["tags"] = clean_tags(tags)
    if active is not None:
        changes["active"] = bool(active)
    # every value is checked before the first one is written: a bad field changes nothing
    for name, value in changes.items():
        setattr(topic, name, value)
    db.flush()
    audit.record(
        db, actor_id=_actor_id(actor), action="topic.update", subject_type="topic",
        subject_id=topic.public_id, fields=sorted(changes),
    )
    return topic


def topic_miniapp_ids(db: Session, *, topic: Topic, city: str | None = None) -> list[int]:
    """Listed mini-apps matching the topic's categories or tags, plus approved members, minus
    rejected and removed ones, serving `city` (all cities if None); ordered by id."""
    stmt = select(TopicMember.miniapp_id, TopicMember.state, TopicMember.decided_at).where(
        TopicMember.topic_id == topic.id
    )
    states = {mid: (state, decided) for mid, state, decided in db.execute(stmt)}
    return topic_members(_listed(db, city=city), codes=set(topic.category_codes or []),
                         tags=set(topic.tags or []), states=states)


def topic_members(listed: Listed, *, codes: set[str], tags: set[str],
                  states: dict[int, tuple[MembershipState, datetime | None]]) -> list[int]:
    """The ids of `listed` (id, category code, tags, cities) the topic takes, given its
    members' (state, decided at) by mini-app id."""
    excluded = (MembershipState.REJECTED, MembershipState.REMOVED)
    found = []
    for mid, code, app_tags, _cities in listed:
        state, decided = states.get(mid, (None, None))
        if state in excluded or (state == MembershipState.APPLIED and decided is not None):
            continue  # rejected or removed, or applying again after that: not until approved
        if state == MembershipState.APPROVED or code in codes or tags.intersection(app_tags):
            found.append(mid)
    return found


# -- applications ----------------------------------------------------------------------------
def apply(
    db: Session, *, actor: User | None, topic_slug: str, miniapp_public_id: str, note: str = ""
) -> TopicMember:
    """A merchant (its staff or an authorized provider) applies a listed mini-app to a topic."""
    topic = get_topic(db, slug=topic_slug, active_only=True)
    miniapp = acting_miniapp(db, actor=actor, public_id=miniapp_public_id)
    note = clean_text(note, field="note", message=NOTE_MESSAGE, max_length=REASON_MAX)
    if not miniapp.listed:
        raise Conflict("Only a listed mini-app can join a topic.")
    member = db.scalar(
        select(TopicMember)
        .where(TopicMember.topic_id == topic.id, TopicMember.miniapp_id == miniapp.id)
        .with_for_update(of=TopicMember)
        .execution_options(populate_existing=True)
    )
    if member is not None and member.state == MembershipState.APPLIED:
        raise Conflict("This mini-app has already applied to this topic.")
    if member is not None and member.state == MembershipState.APPROVED:
        raise Conflict("This mini-app is already a member of this topic.")
    if member is None:
        member = TopicMember(topic_id=topic.id, miniapp_id=miniapp.id)
        try:
            with db.begin_nested():  # two applications at once: the second is a conflict
                db.add(member)
                db.flush()
        except IntegrityError as exc:
            raise Conflict("This mini-app has already applied to this topic.") from exc
    # after a rejection (or a removal) the merchant may try again: back in the queue, but the
    # last decision (decided_at) stays, so the mini-app stays off the page until approved
    member.state = MembershipState.APPLIED
    member.note, member.reason = note, ""
    member.applied_by_id = _actor_id(actor)
    db.flush()
    audit.record(
        db, actor_id=_actor_id(actor), action="topic.apply", subject_type="topic_member",
        subject_id=member.public_id, topic=topic.public_id, miniapp=miniapp.public_id,
    )
    return member


def _member(db: Session, public_id: str) -> TopicMember:
    found = None
    if well_formed(public_id, "tpm"):
        found = db.scalar(
            select(TopicMember)
            .where(TopicMember.public_id == public_id)
            .with_for_update(of=TopicMember)
            .execution_options(populate_existing=True)
        )
    if found is None:
        raise NotFound("No such topic application.")
    return found


def _settle(
    db: Session, *, actor: User | None, member: TopicMember, to: MembershipState, reason: str,
    action: str,
) -> TopicMember:
    before = member.state
    member.state, member.reason = to, reason
    member.decided_by_id, member.decided_at = _actor_id(actor), clock.now()
    db.flush()
    audit.record(
        db, actor_id=_actor_id(actor), action=action, subject_type="topic_member",
        subject_id=member.public_id, topic=member.topic.public_id,
        miniapp=member.miniapp.public_id, before=before.value, reason=reason,
    )
    return member


def decide(
    db: Session, *, actor: User | None, member_public_id: str, approve: bool, reason: str = ""
) -> TopicMember:
    """Approve or reject a pending application (operators); rejecting needs a reason."""
    require_role(actor, Role.OPERATOR)
    reason = _reason(reason, required=not approve)
    member = _member(db, member_public_id)
    if member.state != MembershipState.APPLIED:
        raise Conflict("Only a pending application can be approved or rejected.")
    to = MembershipState.APPROVED if approve else MembershipState.REJECTED
    action = "topic.approve" if approve else "topic.reject"
    return _settle(db, actor=actor, member=member, to=to, reason=reason, action=action)


def remove(db: Session, *, actor: User | None, member_public_id: str, reason: str) -> TopicMember:
    """Take an approved member off a topic, with a reason (operators)."""
    require_role(actor, Role.OPERATOR)
    reason = _reason(reason, required=True)
    member = _member(db, member_public_id)
    if member.state != MembershipState.APPROVED:
        raise Conflict("Only an approved member can be removed.")
    return _settle(
        db, actor=actor, member=member, to=MembershipState.REMOVED, reason=reason,
        action="topic.remove",
    )


# An application's topic and mini-app with its merchant and category, as the queues show them;
# the mini-app's other joined relationships (builder, template and its provider, the
# merchant's category and brands) load only if read.
_SHOWN = (
    joinedload(TopicMember.miniapp).options(
        lazyload(MiniApp.builder), lazyload(MiniApp.template),
        joinedload(MiniApp.merchant).options(lazyload(Merchant.category),
                                             lazyload(Merchant.brands)),
    ),
)


def applications(
    db: Session, *, actor: User | None, state: MembershipState | None = None, limit: int = 200
) -> list[TopicMember]:
    """Applications in one state, or all (operators); oldest first, as a queue."""
    require_role(actor, Role.OPERATOR)
    stmt = (select(TopicMember).options(*_SHOWN)
            .order_by(TopicMember.created_at, TopicMember.id))
    if state is not None:
        stmt = stmt.where(TopicMember.state == state)
    return list(db.scalars(stmt.limit(max(1, min(limit, 500)))))


def merchant_applications(
    db: Session, *, actor: User | None, merchant_public_id: str
) -> list[TopicMember]:
    """A merchant's applications and memberships, newest first (its staff, authorized ISVs,
    operators)."""
    merchant = get_merchant(db, actor=actor, public_id=merchant_public_id)
    stmt = (
        select(TopicMember).options(*_SHOWN)
        .join(MiniApp, MiniApp.id == TopicMember.miniapp_id)
        .where(MiniApp.merchant_id == merchant.id)
        .order_by(TopicMember.created_at.desc(), TopicMember.id.desc())
    )
    return list(db.scalars(stmt))
