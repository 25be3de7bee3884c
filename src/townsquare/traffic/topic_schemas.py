"""JSON shapes for the channels and topics API. Inputs are bounded; objects are named by public
id or slug, never by integer id."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from townsquare.miniapps.models import MiniApp
from townsquare.traffic import surfaces
from townsquare.traffic.models import Channel, Topic, TopicMember

TitleZh = Annotated[str, Field(min_length=1, max_length=32)]
TitleEn = Annotated[str, Field(min_length=1, max_length=48)]
Description = Annotated[str, Field(max_length=2000)]
CategoryCode = Annotated[str, Field(min_length=1, max_length=32)]
Tag = Annotated[str, Field(min_length=1, max_length=16)]


class MiniAppBrief(BaseModel):
    id: str
    name: str
    icon: str

    @classmethod
    def of(cls, miniapp: MiniApp) -> MiniAppBrief:
        return cls(id=miniapp.public_id, name=miniapp.name, icon=miniapp.icon)


# -- channels --------------------------------------------------------------------------------
class ChannelIn(BaseModel):
    title_zh: TitleZh
    title_en: TitleEn
    category_codes: list[CategoryCode] = Field(default_factory=list, max_length=20)
    position: int | None = Field(None, ge=0, le=1000)


class ChannelOut(BaseModel):
    slug: str
    surface: str = Field(description="The surface name bids and events use: channel.<slug>")
    title_zh: str
    title_en: str
    category_codes: list[str]
    position: int

    @classmethod
    def of(cls, channel: Channel) -> ChannelOut:
        return cls(
            slug=channel.slug, surface=surfaces.channel(channel.slug), title_zh=channel.title_zh,
            title_en=channel.title_en, category_codes=list(channel.category_codes or []),
            position=channel.position,
        )


class ChannelDetailOut(ChannelOut):
    miniapps: list[MiniAppBrief]


# -- topics ----------------------------------------------------------------------------------
class TopicIn(BaseModel):
    slug: str = Field(min_length=2, max_length=24, pattern=r"^[a-z][a-z0-9-]{1,23}$")
    title_zh: TitleZh
    title_en: TitleEn
    description_zh: Description = ""
    description_en: Description = ""
    category_codes: list[CategoryCode] = Field(default_factory=list, max_length=20)
    tags: list[Tag] = Field(default_factory=list, max_length=10)


class TopicPatch(BaseModel):
    title_zh: TitleZh | None = None
    title_en: TitleEn | None = None
    description_zh: Description | None = None
    description_en: Description | None = None
    category_codes: list[CategoryCode] | None = Field(None, max_length=20)
    tags: list[Tag] | None = Field(None, max_length=10)
    active: bool | None = None


class TopicOut(BaseModel):
    id: str
    slug: str
    surface: str = Field(description="The surface name bids and events use: topic.<slug>")
    title_zh: str
    title_en: str
    description_zh: str
    description_en: str
    category_codes: list[str]
    tags: list[str]
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, topic: Topic) -> TopicOut:
        return cls(
            id=topic.public_id, slug=topic.slug, surface=surfaces.topic(topic.slug),
            title_zh=topic.title_zh, title_en=topic.title_en,
            description_zh=topic.description_zh, description_en=topic.description_en,
            category_codes=list(topic.category_codes or []), tags=list(topic.tags or []),
            active=topic.active, created_at=topic.created_at,
        )


class TopicDetailOut(TopicOut):
    miniapps: list[MiniAppBrief]


class ApplicationIn(BaseModel):
    miniapp_id: str = Field(min_length=1, max_length=40, description="A mini-app id (`ma_…`).")
    note: str = Field("", max_length=500, description="Why the mini-app belongs on the topic.")


class DecisionIn(BaseModel):
    approve: bool
    reason: str = Field("", max_length=500, description="Required to reject.")


class RemovalIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class ApplicationOut(BaseModel):
    id: str
    topic: str = Field(description="The topic's slug.")
    miniapp: MiniAppBrief
    merchant_id: str
    state: Literal["applied", "approved", "rejected", "removed"]
    note: str
    reason: str
    created_at: datetime
    decided_at: datetime | None

    @classmethod
    def of(cls, member: TopicMember) -> ApplicationOut:
        return cls(
            id=member.public_id, topic=member.topic.slug, miniapp=MiniAppBrief.of(member.miniapp),
            merchant_id=member.miniapp.merchant.public_id, state=member.state.value,
            note=member.note, reason=member.reason, created_at=member.created_at,
            decided_at=member.decided_at,
        )
