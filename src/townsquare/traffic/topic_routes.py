"""Channels and topics JSON API: residents read channels and topics, operators define them and
decide applications, merchants (staff or an authorized ISV) apply to topics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.deps import CurrentUser, OptionalUser
from townsquare.accounts.permissions import is_operator
from townsquare.miniapps.models import MiniApp
from townsquare.traffic import topics
from townsquare.traffic.models import MembershipState
from townsquare.traffic.topic_schemas import (
    ApplicationIn,
    ApplicationOut,
    ChannelDetailOut,
    ChannelIn,
    ChannelOut,
    DecisionIn,
    MiniAppBrief,
    RemovalIn,
    TopicDetailOut,
    TopicIn,
    TopicOut,
    TopicPatch,
)
from townsquare.web.deps import DbSession
from townsquare.web.openapi import MerchantId, errors

router = APIRouter(prefix="/api", tags=["traffic"])

Slug = Annotated[str, Path(max_length=40, description="A channel or topic slug.")]
MemberId = Annotated[str, Path(max_length=40, description="A topic application id (`tpm_…`).")]
City = Annotated[
    str | None, Query(min_length=1, max_length=32, description="Only mini-apps serving this city.")
]
MAX_LISTED = 200


def _briefs(db: Session, ids: list[int]) -> list[MiniAppBrief]:
    ids = ids[:MAX_LISTED]
    found = {m.id: m for m in db.scalars(select(MiniApp).where(MiniApp.id.in_(ids or [0])))}
    return [MiniAppBrief.of(found[i]) for i in ids if i in found]


# ---- channels ---------------------------------------------------------------------------------


@router.get("/channels", response_model=list[ChannelOut])
def list_channels(db: DbSession) -> list[ChannelOut]:
    """Every channel, in display order (public)."""
    return [ChannelOut.of(c) for c in topics.channels(db)]


@router.get("/channels/{slug}", response_model=ChannelDetailOut, responses=errors(404))
def get_channel(slug: Slug, db: DbSession, city: City = None) -> ChannelDetailOut:
    """A channel and its listed mini-apps (public; `city` narrows them)."""
    channel = topics.get_channel(db, slug=slug)
    ids = topics.channel_miniapp_ids(db, channel=channel, city=city)
    return ChannelDetailOut(**ChannelOut.of(channel).model_dump(), miniapps=_briefs(db, ids))


@router.put(
    "/channels/{slug}", response_model=ChannelOut, responses=errors(401, 403, 422)
)
def save_channel(slug: Slug, body: ChannelIn, user: CurrentUser, db: DbSession) -> ChannelOut:
    """Create or replace a channel (operators)."""
    channel = topics.save_channel(
        db, actor=user, slug=slug, title_zh=body.title_zh, title_en=body.title_en,
        category_codes=body.category_codes, position=body.position,
    )
    return ChannelOut.of(channel)


# ---- topics: operators' queue first, so "applications" is never read as a slug ------------------


@router.get(
    "/topics/applications", response_model=list[ApplicationOut], responses=errors(401, 403)
)
def list_applications(
    user: CurrentUser, db: DbSession, state: MembershipState | None = None
) -> list[ApplicationOut]:
    """Topic applications in one state, or all, oldest first (operators)."""
    return [ApplicationOut.of(m) for m in topics.applications(db, actor=user, state=state)]


@router.post(
    "/topics/applications/{tpm_id}/decision",
    response_model=ApplicationOut,
    responses=errors(401, 403, 404, 409, 422),
)
def decide_application(
    tpm_id: MemberId, body: DecisionIn, user: CurrentUser, db: DbSession
) -> ApplicationOut:
    """Approve or reject a pending application; a rejection needs a reason (operators)."""
    member = topics.decide(
        db, actor=user, member_public_id=tpm_id, approve=body.approve, reason=body.reason
    )
    return ApplicationOut.of(member)


@router.post(
    "/topics/applications/{tpm_id}/removal",
    response_model=ApplicationOut,
    responses=errors(401, 403, 404, 409, 422),
)
def remove_member(
    tpm_id: MemberId, body: RemovalIn, user: CurrentUser, db: DbSession
) -> ApplicationOut:
    """Take an approved member off its topic, with a reason (operators)."""
    member = topics.remove(db, actor=user, member_public_id=tpm_id, reason=body.reason)
    return ApplicationOut.of(member)


def _operator(user) -> bool:
    # the anonymous caller is not the system here: `is_operator(None)` would say yes
    return user is not None and is_operator(user)


@router.get("/topics", response_model=list[TopicOut])
def list_topics(
    db: DbSession, user: OptionalUser, include_inactive: bool = False
) -> list[TopicOut]:
    """Active topics (public); operators may ask for inactive ones too."""
    active_only = not (include_inactive and _operator(user))
    return [TopicOut.of(t) for t in topics.list_topics(db, active_only=active_only)]


@router.post("/topics", status_code=201, response_model=TopicOut,
             responses=errors(401, 403, 409, 422))
def create_topic(body: TopicIn, user: CurrentUser, db: DbSession) -> TopicOut:
    """Define an official topic page (operators)."""
    topic = topics.create_topic(
        db, actor=user, slug=body.slug, title_zh=body.title_zh, title_en=body.title_en,
        description_zh=body.description_zh, description_en=body.description_en,
        category_codes=body.category_codes, tags=body.tags,
    )
    return TopicOut.of(topic)


@router.get("/topics/{slug}", response_model=TopicDetailOut, responses=errors(404))
def get_topic(
    slug: Slug, db: DbSession, user: OptionalUser, city: City = None
) -> TopicDetailOut:
    """A topic and its mini-apps (public; an inactive topic only for operators)."""
    topic = topics.get_topic(db, slug=slug, active_only=not _operator(user))
    ids = topics.topic_miniapp_ids(db, topic=topic, city=city)
    return TopicDetailOut(**TopicOut.of(topic).model_dump(), miniapps=_briefs(db, ids))


@router.patch("/topics/{slug}", response_model=TopicOut, responses=errors(401, 403, 404, 422))
def update_topic(slug: Slug, body: TopicPatch, user: CurrentUser, db: DbSession) -> TopicOut:
    """Change a topic; omitted fields stay; `active: false` hides it (operators)."""
    topic = topics.update_topic(
        db, actor=user, slug=slug, title_zh=body.title_zh, title_en=body.title_en,
        description_zh=body.description_zh, description_en=body.description_en,
        category_codes=body.category_codes, tags=body.tags, active=body.active,
    )
    return TopicOut.of(topic)


@router.post(
    "/topics/{slug}/applications",
    status_code=201,
    response_model=ApplicationOut,
    responses=errors(401, 403, 404, 409, 422),
)
def apply_to_topic(
    slug: Slug, body: ApplicationIn, user: CurrentUser, db: DbSession
) -> ApplicationOut:
    """Apply a listed mini-app to a topic (its merchant's staff or an authorized ISV)."""
    member = topics.apply(
        db, actor=user, topic_slug=slug, miniapp_public_id=body.miniapp_id, note=body.note
    )
    return ApplicationOut.of(member)


@router.get(
    "/merchants/{mer_id}/topic-applications",
    response_model=list[ApplicationOut],
    responses=errors(401, 403),
)
def merchant_applications(
    mer_id: MerchantId, user: CurrentUser, db: DbSession
) -> list[ApplicationOut]:
    """The merchant's topic applications and memberships, newest first."""
    found = topics.merchant_applications(db, actor=user, merchant_public_id=mer_id)
    return [ApplicationOut.of(m) for m in found]
