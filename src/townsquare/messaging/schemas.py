"""Messaging API shapes: templates, subscriptions, sends from mini-app backends, the inbox."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

Key = Annotated[str, StringConstraints(min_length=1, max_length=48)]
Value = str | int | float


class TemplateIn(BaseModel):
    key: Key = Field(description="Stable key, lower-case letters, digits and underscores")
    title: str = Field(min_length=1, max_length=64)
    body: str = Field(min_length=1, max_length=1000, description="Text with {placeholders}")


class TemplateOut(BaseModel):
    key: str
    title: str
    body: str
    placeholders: list[str]


class SubscribeIn(BaseModel):
    keys: list[Key] = Field(min_length=1, max_length=10)


class SubscriptionsOut(BaseModel):
    miniapp_id: str
    open: dict[str, int] = Field(description="Sends left per template key")


class SendIn(BaseModel):
    client_id: str = Field(min_length=1, max_length=40, description="The mini-app's public id")
    client_secret: str = Field(min_length=1, max_length=128)
    sub: str = Field(min_length=1, max_length=64, description="The user's pseudonymous id")
    key: Key
    data: dict[Annotated[str, StringConstraints(max_length=32)], Value] = Field(
        default_factory=dict, max_length=20
    )
    link: str = Field(default="", max_length=500, description="A path on this site, optional")


class MessageOut(BaseModel):
    id: str
    miniapp_id: str
    miniapp_name: str
    title: str
    body: str
    link: str
    sent_at: datetime
    read: bool


class InboxOut(BaseModel):
    unread: int
    messages: list[MessageOut]


class SentOut(BaseModel):
    id: str
    sent_at: datetime


class NotificationOut(BaseModel):
    id: str
    kind: str = Field(description="What happened, e.g. review.rejected, points.earned")
    title: str = Field(description="In the language asked for (?lang=en, else Chinese)")
    body: str
    link: str = Field(description="The console page it is about")
    merchant_name: str
    created_at: datetime
    read: bool


class NotificationsOut(BaseModel):
    unread: int
    notifications: list[NotificationOut]
