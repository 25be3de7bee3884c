"""Issuing pass codes to verified residents: the personal code and the household's shared one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.community import access
from townsquare.community.gate import codes
from townsquare.community.gate.rules import local_day, person_status
from townsquare.community.models import Community, Person
from townsquare.community.status import Status, worst
from townsquare.core.clock import clock
from townsquare.core.errors import AuthenticationRequired, ValidationFailed
from townsquare.core.settings import Settings


@dataclass(frozen=True)
class IssuedCode:
    code: str
    kind: codes.CodeKind
    subject: str
    issued_at: datetime
    expires_at: datetime
    refresh_in: int  # seconds until the page should fetch a fresh code
    person: Person
    community: Community
    status: Status


def issue_code(
    db: Session, *, actor: User | None, settings: Settings, community_id: str, kind: str
) -> IssuedCode:
    """A fresh code for the actor (kind "person") or the actor's household (kind "household")."""
    if actor is None:
        raise AuthenticationRequired("Please log in first.")
    try:
        code_kind = {"person": codes.CodeKind.PERSON, "household": codes.CodeKind.HOUSEHOLD}[kind]
    except KeyError:
        raise ValidationFailed("A code is for a person or a household.") from None
    community = access.get_community(db, community_id=community_id)
    person = access.require_resident(db, actor=actor, community=community)
    now = clock.now()
    subject = person.public_id if code_kind is codes.CodeKind.PERSON else person.household.public_id
    token = codes.issue(
        settings.effective_secret_key,
        community=community.public_id,
        subject=subject,
        kind=code_kind,
        now=now.timestamp(),
    )
    today = local_day(now, settings.timezone)
    people = [person] if code_kind is codes.CodeKind.PERSON else person.household.members
    shown = worst(
        person_status(db, viewer=actor, community=community, person=p, today=today, purpose="code")
        for p in people
    )
    iat = int(now.timestamp())
    return IssuedCode(
        code=token,
        kind=code_kind,
        subject=subject,
        issued_at=datetime.fromtimestamp(iat, UTC),
        expires_at=datetime.fromtimestamp(iat + codes.CODE_TTL_SECONDS, UTC),
        refresh_in=codes.REFRESH_SECONDS,
        person=person,
        community=community,
        status=shown,
    )
