"""Community pass API shapes: verification, declarations, household status, notices, figures."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class VerifyIn(BaseModel):
    real_name: str = Field(min_length=1, max_length=64)
    id_number: str = Field(min_length=1, max_length=32)


class PassMiniAppIn(BaseModel):
    miniapp: str | None = Field(None, max_length=40,
                                description="The official pass mini-app's public id, or null")


class PassMiniAppOut(BaseModel):
    miniapp: str | None


class DeclarationIn(BaseModel):
    temperature_c: float = Field(ge=30, le=45)
    symptoms: list[str] = Field(default_factory=list, max_length=10)
    risk_travel: bool = False
    case_contact: bool = False
    person: str | None = Field(default=None, max_length=40,
                               description="A member of your household (default: yourself)")


class StatusOut(BaseModel):
    colour: str = Field(description="green, yellow or red")
    reasons: list[str]


class MemberOut(BaseModel):
    id: str
    name: str
    relation: str
    verified: bool
    status: StatusOut


class HouseholdOut(BaseModel):
    id: str
    room: str
    me: str
    status: StatusOut
    members: list[MemberOut]
    declared_today: bool


class NoticeOut(BaseModel):
    id: str
    title: str
    body: str
    published_at: datetime


class FiguresOut(BaseModel):
    residents: int
    verified: int
    households: int
    quarantined: int
    fever: int
    declared_today: int
    completion_percent: int
    exits_by_hour: list[int]
    entries_by_hour: list[int]
