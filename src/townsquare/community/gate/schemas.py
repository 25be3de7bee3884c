"""Pydantic schemas of the gate API: scans, decisions, offline sync, the passage log."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from townsquare.community.gate.models import Direction

PUBLIC_ID = r"^[a-z]{2,4}_[0-9a-z]{1,32}$"
CLIENT_ID = r"^[A-Za-z0-9_-]{8,64}$"
CODE_MAX = 512


class KeySetOut(BaseModel):
    community: str
    current: str
    keys: dict[str, str] = Field(description="kid → raw Ed25519 public key, base64url")
    ttl_seconds: int


class CodeOut(BaseModel):
    code: str
    kind: Literal["person", "household"]
    subject: str
    issued_at: datetime
    expires_at: datetime
    refresh_in: int
    colour: str


class ScanIn(BaseModel):
    gate: str = Field(pattern=PUBLIC_ID, max_length=40)
    code: str = Field(max_length=CODE_MAX)
    direction: Direction
    client_id: str | None = Field(default=None, pattern=CLIENT_ID)
    member: str | None = Field(default=None, pattern=PUBLIC_ID, max_length=40,
                               description="A household code going out: the member passing, "
                                           "as picked by the guard from `members`")


class MemberChoiceOut(BaseModel):
    id: str
    name_masked: str


class ReasonOut(BaseModel):
    code: str
    text: str


class DecisionOut(BaseModel):
    allowed: bool
    direction: Direction
    reasons: list[ReasonOut]
    kind: str
    colour: str | None
    name_masked: str
    room: str
    quota_left: int | None
    quota_total: int
    overdue: bool
    needs_review: bool
    members: list[MemberChoiceOut] = Field(
        default_factory=list, description="A household code going out: choose who passes")
    passage: str | None
    at: datetime | None
    visitor: bool = Field(default=False, description="A visitor code: the host's room, the "
                          "visitor's masked name and phone, the purpose and the window")
    phone_masked: str = ""
    purpose: str = ""
    window_start: datetime | None = None
    window_end: datetime | None = None


class OfflineScanIn(ScanIn):
    client_id: str = Field(pattern=CLIENT_ID)
    at: AwareDatetime
    allowed: bool = Field(description="what the offline device decided (and the guard did)")


class SyncIn(BaseModel):
    scans: list[OfflineScanIn] = Field(max_length=200)


class SyncResultOut(BaseModel):
    client_id: str
    status: Literal["recorded", "duplicate"]
    passage: str
    allowed: bool
    needs_review: bool


class SyncOut(BaseModel):
    results: list[SyncResultOut]


class PassageOut(BaseModel):
    id: str
    at: datetime
    gate: str
    gate_name: str
    direction: Direction
    allowed: bool
    reasons: list[str]
    room: str
    household: str | None
    person: str | None
    name: str
    offline: bool
    needs_review: bool
    returned_at: datetime | None
    overdue: bool
    visitor: str = Field(default="", description="A visitor's passage: the visitor's name "
                         "(the household is the host's)")
    invitation: str | None = None


class TraceOut(BaseModel):
    origin: PassageOut
    minutes: int
    passages: list[PassageOut]
