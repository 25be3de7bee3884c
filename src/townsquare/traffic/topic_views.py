"""Channels and active topics as plain data, cached per process, for the resident pages: the
home page's links, the channel and topic pages and their candidates.

Kept until the "topics" generation moves (core/generations.py: any change to a channel, a topic,
a membership decision, a mini-app or a category through the ORM), checked at most every
`refresh_seconds` and at once in the process that made the change. Membership follows the same
rules as `topics.channel_miniapp_ids` / `topics.topic_miniapp_ids` (the same functions decide),
computed from the snapshot instead of re-reading every listed mini-app per request.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.core.errors import NotFound
from townsquare.core.generations import Cached
from townsquare.merchants.models import Category
from townsquare.miniapps.models import MiniApp
from townsquare.traffic import topics
from townsquare.traffic.models import Channel, MembershipState, Topic, TopicMember


@dataclass(frozen=True, slots=True)
class ChannelView:
    slug: str
    title_zh: str
    title_en: str
    category_codes: frozenset[str]

    def title(self, locale: str) -> str:
        return self.title_en if locale == "en" else self.title_zh


@dataclass(frozen=True, slots=True)
class TopicView:
    id: int
    slug: str
    title_zh: str
    title_en: str
    description_zh: str
    description_en: str
    category_codes: frozenset[str]
    tags: frozenset[str]

    def title(self, locale: str) -> str:
        return self.title_en if locale == "en" else self.title_zh

    def description(self, locale: str) -> str:
        return self.description_en if locale == "en" else self.description_zh


ListedApp = tuple[int, str, tuple[Any, ...], tuple[Any, ...]]  # id, category, tags, cities


@dataclass
class Directory:
    """Channels in display order, active topics by slug, every listed mini-app (by id) and the
    topics' membership decisions; members per (page, city) are worked out once and kept."""

    channels: tuple[ChannelView, ...]
    topics: tuple[TopicView, ...]
    listed: tuple[ListedApp, ...]
    states: dict[int, dict[int, tuple[MembershipState, datetime | None]]]
    cities: frozenset[str] = frozenset()
    _members: dict[tuple[str, str, str | None], tuple[int, ...]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.cities = frozenset(c for *_, cities in self.listed for c in cities)

    def channel(self, slug: str) -> ChannelView:
        found = next((c for c in self.channels if c.slug == slug), None)
        if found is None:
            raise NotFound("No such channel.")
        return found

    def topic(self, slug: str) -> TopicView:
        """An active topic, or NotFound."""
        found = next((t for t in self.topics if t.slug == slug), None)
        if found is None:
            raise NotFound("No such topic.")
        return found

    def _serving(self, city: str | None) -> list[ListedApp]:
        return [app for app in self.listed if topics.serves_city(list(app[3]), city)]

    def _kept(self, key: tuple[str, str, str | None], members: list[int]) -> tuple[int, ...]:
        found = tuple(members)
        if key[2] is None or key[2] in self.cities:  # made-up cities cannot grow the memo
            with self._lock:
                self._members[key] = found
        return found

    def channel_ids(self, channel: ChannelView, city: str | None) -> tuple[int, ...]:
        """What `topics.channel_miniapp_ids` answers, from the snapshot."""
        key = ("channel", channel.slug, city)
        found = self._members.get(key)
        if found is None:
            found = self._kept(key, topics.channel_members(
                self._serving(city), codes=set(channel.category_codes)))
        return found

    def topic_ids(self, topic: TopicView, city: str | None) -> tuple[int, ...]:
        """What `topics.topic_miniapp_ids` answers, from the snapshot."""
        key = ("topic", topic.slug, city)
        found = self._members.get(key)
        if found is None:
            found = self._kept(key, topics.topic_members(
                self._serving(city), codes=set(topic.category_codes), tags=set(topic.tags),
                states=self.states.get(topic.id, {})))
        return found


def load(db: Session) -> Directory:
    """Channels, active topics, listed mini-apps and membership decisions, read now."""
    channels = tuple(
        ChannelView(c.slug, c.title_zh, c.title_en,
                    frozenset(x for x in c.category_codes or [] if isinstance(x, str)))
        for c in db.execute(select(Channel.slug, Channel.title_zh, Channel.title_en,
                                   Channel.category_codes)
                            .order_by(Channel.position, Channel.slug))
    )
    active = tuple(
        TopicView(t.id, t.slug, t.title_zh, t.title_en, t.description_zh, t.description_en,
                  frozenset(x for x in t.category_codes or [] if isinstance(x, str)),
                  frozenset(x for x in t.tags or [] if isinstance(x, str)))
        for t in db.execute(select(Topic.id, Topic.slug, Topic.title_zh, Topic.title_en,
                                   Topic.description_zh, Topic.description_en,
                                   Topic.category_codes, Topic.tags)
                            .where(Topic.active.is_(True)).order_by(Topic.slug))
    )
    listed = tuple(
        (row.id, row.code, tuple(row.tags or ()), tuple(row.cities or ()))
        for row in db.execute(select(MiniApp.id, Category.code, MiniApp.tags, MiniApp.cities)
                              .join(Category, Category.id == MiniApp.category_id)
                              .where(MiniApp.listed.is_(True)).order_by(MiniApp.id))
    )
    states: dict[int, dict[int, tuple[MembershipState, datetime | None]]] = {}
    ids = [t.id for t in active]
    if ids:
        for topic_id, miniapp_id, state, decided in db.execute(
                select(TopicMember.topic_id, TopicMember.miniapp_id, TopicMember.state,
                       TopicMember.decided_at).where(TopicMember.topic_id.in_(ids))):
            states.setdefault(topic_id, {})[miniapp_id] = (state, decided)
    return Directory(channels, active, listed, states)


_directory: Cached[Directory] = Cached(("topics",), load)


def directory(db: Session, *, refresh_seconds: float) -> Directory:
    """This process's snapshot of channels and topics (see the module's docstring)."""
    return _directory.get(db, refresh_seconds=refresh_seconds)


def forget() -> None:
    """Drop the cached snapshot (tests that change rows around the ORM)."""
    _directory.forget()
