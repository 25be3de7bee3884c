"""Visitor pass JSON API for residents' apps: invite (the link comes back once), list, revoke."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Request
from pydantic import AwareDatetime, BaseModel, Field

from townsquare.accounts.deps import CurrentUser
from townsquare.community.gate import visitors
from townsquare.community.gate.models import VisitorInvitation
from townsquare.core.clock import clock
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.openapi import PublicId, Responses, error

router = APIRouter(prefix="/api/community", tags=["community visitors"])
ERRORS: Responses = {
    401: error("Not logged in"),
    403: error("Not a verified resident of this community"),
    404: error("No such community or invitation"),
    409: error("Daily visitor limit reached, lockdown, or a repeated Idempotency-Key"),
    422: error("Invalid input"),
}


class InvitationIn(BaseModel):
    visitor_name: str = Field(max_length=32)
    visitor_phone: str = Field(max_length=20, description="11-digit mainland mobile number")
    purpose: str = Field(default="", max_length=100)
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class InvitationOut(BaseModel):
    id: str
    visitor_name: str
    visitor_phone_masked: str
    purpose: str
    starts_at: datetime
    ends_at: datetime
    state: str = Field(description="active, over or revoked")
    link: str | None = Field(default=None, description="The visitor's link: returned only by "
                             "the call that created the invitation")


def _out(invitation: VisitorInvitation, link: str | None = None) -> InvitationOut:
    state = ("revoked" if invitation.revoked_at else
             "over" if invitation.ends_at < clock.now() else "active")
    return InvitationOut(
        id=invitation.public_id, visitor_name=invitation.visitor_name,
        visitor_phone_masked=visitors.phone_for_guard(invitation), purpose=invitation.purpose,
        starts_at=invitation.starts_at, ends_at=invitation.ends_at, state=state, link=link)


@router.post("/{com}/visitors", response_model=InvitationOut, status_code=201, responses=ERRORS)
def invite(
    com: PublicId,
    body: InvitationIn,
    request: Request,
    db: DbSession,
    settings: AppSettings,
    user: CurrentUser,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=64)] = None,
) -> InvitationOut:
    """Invite a visitor to my household for a time window; the answer carries the link."""
    created = visitors.create(
        db, actor=user, settings=settings, community_id=com, visitor_name=body.visitor_name,
        visitor_phone=body.visitor_phone, purpose=body.purpose, starts_at=body.starts_at,
        ends_at=body.ends_at, idempotency_key=idempotency_key)
    link = str(request.base_url).rstrip("/") + f"/visit/{created.token}"
    return _out(created.invitation, link)


@router.get("/{com}/visitors", response_model=list[InvitationOut], responses=ERRORS)
def my_invitations(com: PublicId, db: DbSession, user: CurrentUser) -> list[InvitationOut]:
    """My household's invitations, newest first (without their links)."""
    _community, found = visitors.of_household(db, actor=user, community_id=com)
    return [_out(i) for i in found]


@router.post("/{com}/visitors/{invitation}/revoke", response_model=InvitationOut,
             responses=ERRORS)
def revoke(com: PublicId, invitation: PublicId, db: DbSession, user: CurrentUser
           ) -> InvitationOut:
    """Revoke an invitation of my household: its link and code stop working."""
    return _out(visitors.revoke(db, actor=user, community_id=com, invitation_id=invitation))
