"""Visitor passes (访客): a verified resident invites a visitor to their household for a time
window; the visitor opens a link (no account) showing a signed visitor code as a QR; the guard's
scanner admits the visitor only inside the window and under the community's visitor rules.

The link's token is random (32 bytes, base64url) and only its SHA-256 is stored, so the database
cannot be read back into working links; the host revokes an invitation and from then on both the
link and the code are refused. The code is a pass code of kind "v" (`codes.issue_visitor`), signed
with the community's key, naming the invitation (`vis_…`) and its window (`nbf`…`exp`).

Visitor rules (per community, `VisitorRules`; defaults when none were saved): at most
`per_household_per_day` visitors per household per local day — counted both when inviting
(invitations whose window starts that day) and at the gate (distinct invitations let in that
day) — invitations at most `max_days_ahead` days ahead and `max_hours` long, and no visitors at
all while the community is in lockdown: the visitor switch is on, or the exit policy allows no
exits (`exits_per_household == 0`: residents may not go out, so nobody comes in to visit).
Both counts run under the host household's row lock (as the exit quota does), so concurrent
invitations or gate scans never exceed the limit.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from townsquare.accounts.identity import is_valid_phone, mask_phone
from townsquare.accounts.models import User
from townsquare.community import access
from townsquare.community.gate import codes
from townsquare.community.gate.models import Direction, Passage, VisitorInvitation, VisitorRules
from townsquare.community.gate.rules import local_day
from townsquare.community.models import Community, Household
from townsquare.core import audit
from townsquare.core.clock import clock
from townsquare.core.errors import AuthenticationRequired, Conflict, NotFound, ValidationFailed
from townsquare.core.security import mask
from townsquare.core.settings import Settings
from townsquare.core.text import clean_name, clean_text, well_formed

TOKEN_BYTES = 32
DEFAULTS = VisitorRules(per_household_per_day=3, max_days_ahead=7, max_hours=12, lockdown=False)
LIMITS = {"per_household_per_day": (0, 50), "max_days_ahead": (0, 14), "max_hours": (1, 72)}

# why a visitor scan is refused or flagged (decision.Reason values)
REVOKED, EARLY, LATE, LIMIT, LOCKDOWN = (
    "visitor_revoked", "visitor_early", "visitor_late", "visitor_limit", "visitor_lockdown")


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def rules_of(db: Session, community: Community) -> VisitorRules:
    """The community's visitor rules (an unsaved default row when none were set)."""
    found = db.scalar(select(VisitorRules).where(VisitorRules.community_id == community.id))
    if found is not None:
        return found
    return VisitorRules(
        community_id=community.id,
        per_household_per_day=DEFAULTS.per_household_per_day,
        max_days_ahead=DEFAULTS.max_days_ahead,
        max_hours=DEFAULTS.max_hours,
        lockdown=DEFAULTS.lockdown,
    )


def in_lockdown(db: Session, community: Community, rules: VisitorRules | None = None) -> bool:
    rules = rules if rules is not None else rules_of(db, community)
    return bool(rules.lockdown) or community.exits_per_household == 0


def set_rules(
    db: Session,
    *,
    actor: User | None,
    community: Community,
    per_household_per_day: int,
    max_days_ahead: int,
    max_hours: int,
    lockdown: bool,
) -> VisitorRules:
    """Change the community's visitor rules (property manager; audited)."""
    access.require(db, actor=actor, community=community, roles=[access.PM])
    values = {"per_household_per_day": per_household_per_day, "max_days_ahead": max_days_ahead,
              "max_hours": max_hours}
    for field, value in values.items():
        low, high = LIMITS[field]
        if not low <= value <= high:
            raise ValidationFailed("Enter a number from {low} to {high}.", low=low, high=high,
                                   field=field)
    rules = db.scalar(select(VisitorRules).where(VisitorRules.community_id == community.id))
    if rules is None:
        rules = VisitorRules(community_id=community.id)
        db.add(rules)
    rules.per_household_per_day = per_household_per_day
    rules.max_days_ahead = max_days_ahead
    rules.max_hours = max_hours
    rules.lockdown = bool(lockdown)
    rules.updated_at = clock.now()
    audit.record(db, actor_id=actor.id if actor else None, action="community.visitor_rules",
                 subject_type="community", subject_id=community.public_id, **values,
                 lockdown=bool(lockdown))
    db.flush()
    return rules


@dataclass(frozen=True)
class Created:
    invitation: VisitorInvitation
    token: str  # shown once: the visitor's link is /visit/{token}


def lock_household(db: Session, household_id: int) -> None:
    """Serialise everything counted per household (as `decision._lock`; SQLite's BEGIN
    IMMEDIATE already holds the write lock)."""
    if db.get_bind().dialect.name == "sqlite":
        return
    db.execute(select(Household.id).where(Household.id == household_id).with_for_update())


def create(
    db: Session,
    *,
    actor: User | None,
    settings: Settings,
    community_id: str,
    visitor_name: str,
    visitor_phone: str,
    purpose: str,
    starts_at: datetime,
    ends_at: datetime,
    idempotency_key: str | None = None,
) -> Created:
    """Invite a visitor to the actor's household (verified residents only)."""
    if actor is None:
        raise AuthenticationRequired("Please log in first.")
    community = access.get_community(db, community_id=community_id)
    host = access.require_resident(db, actor=actor, community=community)
    name = clean_name(visitor_name, field="visitor_name", max_length=32,
                      message="A visitor's name is 1 to {n} characters.")
    phone = (visitor_phone or "").strip()
    if not is_valid_phone(phone):
        raise ValidationFailed("Enter the visitor's mobile number (11 digits).",
                               field="visitor_phone")
    purpose = clean_text(purpose, field="purpose", max_length=100,
                         message="The purpose is at most {n} characters.")
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ValidationFailed("Give the visit's start and end with a time zone.",
                               field="starts_at")
    rules = rules_of(db, community)
    now = clock.now()
    if ends_at <= starts_at:
        raise ValidationFailed("The visit must end after it starts.", field="ends_at")
    if ends_at <= now:
        raise ValidationFailed("The visit's window is already over.", field="ends_at")
    if starts_at > now + timedelta(days=rules.max_days_ahead) + timedelta(minutes=1):
        raise ValidationFailed("Invite at most {n} days ahead.", n=rules.max_days_ahead,
                               field="starts_at")
    if ends_at - starts_at > timedelta(hours=rules.max_hours):
        raise ValidationFailed("A visit lasts at most {n} hours.", n=rules.max_hours,
                               field="ends_at")
    household = host.household
    lock_household(db, household.id)
    if idempotency_key:
        earlier = db.scalar(select(VisitorInvitation).where(
            VisitorInvitation.household_id == household.id,
            VisitorInvitation.idempotency_key == idempotency_key))
        if earlier is not None:
            raise Conflict("This invitation was already sent.", code="duplicate_invitation",
                           invitation=earlier.public_id)
    if in_lockdown(db, community, rules):
        raise Conflict("The community admits no visitors at present.", code="visitor_lockdown")
    day = local_day(max(starts_at, now), settings.timezone)
    booked = db.scalar(select(func.count(VisitorInvitation.id)).where(
        VisitorInvitation.household_id == household.id,
        VisitorInvitation.day == day,
        VisitorInvitation.revoked_at.is_(None))) or 0
    if booked >= rules.per_household_per_day:
        raise Conflict("Your household has invited {n} visitors for that day already.",
                       n=rules.per_household_per_day, code="visitor_limit")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    invitation = VisitorInvitation(
        community_id=community.id, household_id=household.id, host_id=host.id,
        visitor_name=name, visitor_phone=phone, purpose=purpose,
        starts_at=starts_at, ends_at=ends_at, day=day, token_digest=token_digest(token),
        idempotency_key=idempotency_key or None, created_at=now,
    )
    db.add(invitation)
    db.flush()
    audit.record(db, actor_id=actor.id, action="visitor.invite", subject_type="invitation",
                 subject_id=invitation.public_id, household=household.public_id)
    return Created(invitation, token)


def _own(db: Session, actor: User | None, community: Community, invitation_id: str
         ) -> VisitorInvitation:
    if actor is None:
        raise AuthenticationRequired("Please log in first.")
    host = access.require_resident(db, actor=actor, community=community)
    found = None
    if well_formed(invitation_id, "vis"):
        found = db.scalar(select(VisitorInvitation).where(
            VisitorInvitation.public_id == invitation_id,
            VisitorInvitation.household_id == host.household_id))
    if found is None:
        raise NotFound("No such invitation.")
    return found


def revoke(db: Session, *, actor: User | None, community_id: str, invitation_id: str
           ) -> VisitorInvitation:
    """Revoke an invitation of the actor's household (any member): its link and code stop."""
    community = access.get_community(db, community_id=community_id)
    invitation = _own(db, actor, community, invitation_id)
    if invitation.revoked_at is None:
        invitation.revoked_at = clock.now()
        audit.record(db, actor_id=actor.id if actor else None, action="visitor.revoke",
                     subject_type="invitation", subject_id=invitation.public_id)
        db.flush()
    return invitation


def of_household(db: Session, *, actor: User | None, community_id: str
                 ) -> tuple[Community, list[VisitorInvitation]]:
    """The actor's household's invitations, newest first."""
    if actor is None:
        raise AuthenticationRequired("Please log in first.")
    community = access.get_community(db, community_id=community_id)
    host = access.require_resident(db, actor=actor, community=community)
    found = db.scalars(select(VisitorInvitation).where(
        VisitorInvitation.household_id == host.household_id)
        .order_by(VisitorInvitation.starts_at.desc(), VisitorInvitation.id.desc()).limit(100))
    return community, list(found)


def passages_of_household(db: Session, *, actor: User | None, community_id: str
                          ) -> list[Passage]:
    """The visitor passages of the actor's household (the host sees who came and went)."""
    if actor is None:
        raise AuthenticationRequired("Please log in first.")
    community = access.get_community(db, community_id=community_id)
    host = access.require_resident(db, actor=actor, community=community)
    return list(db.scalars(select(Passage).where(
        Passage.household_id == host.household_id, Passage.invitation_id.is_not(None))
        .order_by(Passage.at.desc(), Passage.id.desc()).limit(100)))


@dataclass(frozen=True)
class VisitorPage:
    invitation: VisitorInvitation
    community: Community
    code: str | None  # None once revoked or over


def by_token(db: Session, *, settings: Settings, token: str) -> VisitorPage:
    """The visitor's page behind the link (no login): the invitation and its signed code."""
    found = None
    if token and len(token) <= 100:
        found = db.scalar(select(VisitorInvitation).where(
            VisitorInvitation.token_digest == token_digest(token)))
    if found is None:
        raise NotFound("No such invitation.")
    community = db.get(Community, found.community_id)
    assert community is not None
    now = clock.now()
    code = None
    if found.revoked_at is None and now <= found.ends_at:
        code = visitor_code(settings, community, found)
    return VisitorPage(found, community, code)


def visitor_code(settings: Settings, community: Community, invitation: VisitorInvitation) -> str:
    """The invitation's signed code (the same every time: issued at its creation or start)."""
    issued = min(invitation.created_at, invitation.starts_at).timestamp()
    return codes.issue_visitor(
        settings.effective_secret_key, community=community.public_id,
        invitation=invitation.public_id, issued=issued,
        starts=invitation.starts_at.timestamp(), ends=invitation.ends_at.timestamp())


def find(db: Session, *, community: Community, invitation_id: str) -> VisitorInvitation | None:
    if not well_formed(invitation_id, "vis"):
        return None
    return db.scalar(select(VisitorInvitation).where(
        VisitorInvitation.public_id == invitation_id,
        VisitorInvitation.community_id == community.id))


def assess(
    db: Session,
    *,
    community: Community,
    invitation: VisitorInvitation,
    direction: Direction,
    at: datetime,
    zone: str,
) -> list[str]:
    """Why this visitor may not pass now (empty: allowed). Leaving is never refused; coming in
    needs a live invitation, its window, no lockdown and room in the household's daily limit.
    The caller holds the host household's lock."""
    if direction is Direction.EXIT:
        return []
    reasons = []
    if invitation.revoked_at is not None and invitation.revoked_at <= at:
        reasons.append(REVOKED)
    if at < invitation.starts_at:
        reasons.append(EARLY)
    elif at > invitation.ends_at:
        reasons.append(LATE)
    rules = rules_of(db, community)
    if in_lockdown(db, community, rules):
        reasons.append(LOCKDOWN)
    if not reasons:
        start = datetime.combine(local_day(at, zone), time(), ZoneInfo(zone))
        end = start + timedelta(days=1)
        admitted = set(db.scalars(select(Passage.invitation_id).distinct().where(
            Passage.household_id == invitation.household_id,
            Passage.invitation_id.is_not(None),
            Passage.direction == Direction.ENTRY,
            Passage.allowed.is_(True),
            Passage.at >= start, Passage.at < end)))
        if invitation.id not in admitted and len(admitted) >= rules.per_household_per_day:
            reasons.append(LIMIT)
    return reasons


def phone_for_guard(invitation: VisitorInvitation) -> str:
    return mask_phone(invitation.visitor_phone)


def mask_visitor(name: str) -> str:
    """张小民 → 张*民, 李四 → 李*: the visitor's page and the guard show no more."""
    return name[:1] + "*" if len(name) <= 2 else mask(name, 1, 1)
