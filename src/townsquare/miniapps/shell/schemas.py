"""JSON shapes for the shell API: the hub, its curation, launch contexts, consents and codes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from townsquare.miniapps.models import HubEntry, HubSection, MiniApp
from townsquare.miniapps.shell.hub_view import HubTile

PublicId = Annotated[
    str, Field(min_length=3, max_length=40, pattern=r"^[a-z]{1,8}_[0-9a-z]{1,32}$")
]
Scope = Literal["phone", "real_name"]


class CategoryOut(BaseModel):
    code: str
    name: str


class HubMiniAppOut(BaseModel):
    id: str = Field(description="Mini-app public id (ma_…)")
    name: str
    icon: str
    description: str
    category: CategoryOut
    certified_brand: str | None = Field(None, description="Certified brand of its merchant")

    @classmethod
    def of(cls, miniapp: MiniApp, locale: str) -> HubMiniAppOut:
        brand = miniapp.merchant.certified_brand
        return cls(
            id=miniapp.public_id, name=miniapp.name, icon=miniapp.icon,
            description=miniapp.description,
            category=CategoryOut(code=miniapp.category.code, name=miniapp.category.name(locale)),
            certified_brand=brand.name if brand else None,
        )

    @classmethod
    def of_tile(cls, tile: HubTile, locale: str) -> HubMiniAppOut:
        return cls(
            id=tile.public_id, name=tile.name, icon=tile.icon, description=tile.description,
            category=CategoryOut(code=tile.category_code, name=tile.category_name(locale)),
            certified_brand=tile.brand,
        )


class HubSectionOut(BaseModel):
    id: str
    title: str = Field(description="Title in the request's locale")
    title_zh: str
    title_en: str
    icon: str
    entries: list[HubMiniAppOut]


class HubOut(BaseModel):
    sections: list[HubSectionOut]


class SectionIn(BaseModel):
    title_zh: str = Field(min_length=1, max_length=32)
    title_en: str = Field(min_length=1, max_length=48)
    icon: str = Field("", max_length=16)


class MoveIn(BaseModel):
    direction: Literal["up", "down"]


class EntryIn(BaseModel):
    miniapp_id: PublicId


class CuratedEntryOut(BaseModel):
    miniapp_id: str
    name: str
    listed: bool = Field(description="Only listed mini-apps are shown to residents")
    position: int

    @classmethod
    def of(cls, entry: HubEntry) -> CuratedEntryOut:
        return cls(
            miniapp_id=entry.miniapp.public_id, name=entry.miniapp.name,
            listed=entry.miniapp.listed, position=entry.position,
        )


class CuratedSectionOut(BaseModel):
    id: str
    title_zh: str
    title_en: str
    icon: str
    position: int
    entries: list[CuratedEntryOut]

    @classmethod
    def of(cls, section: HubSection, entries: list[HubEntry]) -> CuratedSectionOut:
        return cls(
            id=section.public_id, title_zh=section.title_zh, title_en=section.title_en,
            icon=section.icon, position=section.position,
            entries=[CuratedEntryOut.of(entry) for entry in entries],
        )


class LaunchOut(BaseModel):
    token: str = Field(description="Signed launch context (kid.payload.signature)")
    url: str = Field(description="What the shell frames: the mini-app URL with ts_launch")
    sub: str = Field(description="Your pseudonymous id for this mini-app")
    expires_in: int


class ConsentIn(BaseModel):
    scopes: list[Scope] = Field(min_length=1, max_length=2)


class CodeOut(BaseModel):
    code: str = Field(description="One-time code for the mini-app backend to exchange")
    scopes: list[str]
    expires_at: datetime


class ConsentOut(BaseModel):
    miniapp_id: str
    name: str
    scopes: list[str]
    granted_at: datetime


class TokenExchangeIn(BaseModel):
    grant_type: Literal["authorization_code"] = "authorization_code"
    code: str = Field(min_length=1, max_length=128)
    client_id: str = Field(min_length=1, max_length=40, description="The mini-app's public id")
    client_secret: str = Field(min_length=1, max_length=128)


class ProfileOut(BaseModel):
    sub: str = Field(description="Pseudonymous user id, the same as in launch contexts")
    scopes: list[str] = Field(description="The fields shared (consented and available)")
    phone: str | None = None
    real_name: str | None = None
