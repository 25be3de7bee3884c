"""Residents in the mini-app: verify against the register, ask to join a household (tenants),
the household head's decisions, and the household as its members see it."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from townsquare.accounts import identity as idcheck
from townsquare.accounts.models import User
from townsquare.community import access
from townsquare.community.importer import birth_date, id_digest, parse_room_label
from townsquare.community.models import (
    Community,
    CommunityRole,
    CommunityRoleKind,
    Household,
    MemberRequest,
    Person,
    Relation,
    RequestStatus,
    Room,
    VerifyFailure,
)
from townsquare.core import audit
from townsquare.core.clock import clock
from townsquare.core.database import keep_on_rollback
from townsquare.core.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    RateLimited,
    ValidationFailed,
)
from townsquare.core.security import keyed_digest
from townsquare.core.settings import Settings
from townsquare.core.text import clean_name, well_formed

MAX_PENDING_REQUESTS = 3


def _checked_identity(real_name: str, id_number: str) -> tuple[str, str]:
    real_name = clean_name(real_name, field="real_name")
    id_number = idcheck.normalise_id_number(id_number or "")[:32]
    if not idcheck.is_valid_id_number(id_number, today=clock.now().date()):
        raise ValidationFailed("That is not a valid resident ID number.", field="id_number")
    return real_name, id_number


def _same_identity_as_account(actor: User, digest: str) -> None:
    # A user verified on the platform may only claim the register entry of that same ID.
    if actor.identity is not None and actor.identity.id_digest != digest:
        raise ValidationFailed("Your account is already verified with another ID number.")


# Register verification is throttled: a known name and birth date leave about a thousand ID
# numbers to guess, so failures count per account and per name (the register entries an
# attacker aims at), each failure beyond the free ones doubles the wait before the next try,
# and the daily limit stops it; the property manager sees the names under attack.
VERIFY_FREE_FAILURES = 3
VERIFY_BASE_DELAY = timedelta(minutes=1)
VERIFY_ACCOUNT_DAY_LIMIT = 10
VERIFY_NAME_DAY_LIMIT = 20
VERIFY_ALERT_AT = 5  # failures on one name in a day: the property manager is alerted


def _name_key(settings: Settings, community: Community, real_name: str) -> str:
    return keyed_digest(settings.effective_secret_key, "verify-name",
                        f"{community.public_id}\x1f{real_name}")


def _throttle(db: Session, *, community: Community, actor: User, name_key: str) -> None:
    now = clock.now()
    since = now - timedelta(days=1)
    for column, value, limit in ((VerifyFailure.user_id, actor.id, VERIFY_ACCOUNT_DAY_LIMIT),
                                 (VerifyFailure.name_key, name_key, VERIFY_NAME_DAY_LIMIT)):
        count, last = db.execute(
            select(func.count(VerifyFailure.id), func.max(VerifyFailure.at)).where(
                VerifyFailure.community_id == community.id, column == value,
                VerifyFailure.at >= since)
        ).one()
        if count >= limit:
            raise RateLimited("Too many failed verifications; try again tomorrow, or ask the "
                              "property manager.")
        if count >= VERIFY_FREE_FAILURES and last is not None:
            wait = VERIFY_BASE_DELAY * 2 ** (count - VERIFY_FREE_FAILURES)
            if now < last + wait:
                minutes = max(1, math.ceil((last + wait - now).total_seconds() / 60))
                raise RateLimited("Too many failed verifications; try again in {minutes} "
                                  "minutes.", minutes=minutes)


def _record_failure(db: Session, *, community: Community, actor: User, name_key: str,
                    real_name: str) -> None:
    at = clock.now()
    masked = mask_person_name(real_name)

    def add(session: Session) -> None:
        session.add(VerifyFailure(community_id=community.id, user_id=actor.id,
                                  name_key=name_key, name_masked=masked, at=at))
        session.add(audit.AuditEntry(actor_id=actor.id, action="community.verify.fail",
                                     subject_type="community", subject_id=community.public_id,
                                     detail={"name": masked}, at=at))

    keep_on_rollback(db, add)  # the failure is counted although the request is refused


def mask_person_name(name: str) -> str:
    """张小民 → 张*民, 李四 → 李*."""
    if len(name) <= 2:
        return name[:1] + "*"
    return name[:1] + "*" * min(len(name) - 2, 8) + name[-1:]


def verify_alerts(db: Session, *, actor: User | None,
                  community: Community) -> list[tuple[str, int, datetime]]:
    """Names with many failed verifications in the last day (masked name, failures, last):
    someone may be guessing a resident's ID number."""
    access.require(db, actor=actor, community=community, roles=access.HEALTH_ROLES)
    since = clock.now() - timedelta(days=1)
    rows = db.execute(
        select(VerifyFailure.name_key, func.max(VerifyFailure.name_masked),
               func.count(VerifyFailure.id), func.max(VerifyFailure.at))
        .where(VerifyFailure.community_id == community.id, VerifyFailure.at >= since)
        .group_by(VerifyFailure.name_key)
        .having(func.count(VerifyFailure.id) >= VERIFY_ALERT_AT)
    )
    return sorted(((masked, count, last) for _key, masked, count, last in rows),
                  key=lambda row: row[2], reverse=True)


def verify(
    db: Session, *, settings: Settings, actor: User, community: Community, real_name: str,
    id_number: str,
) -> Person:
    """Link the user to the registered person with this name and ID number (digest compare)."""
    real_name, id_number = _checked_identity(real_name, id_number)
    name_key = _name_key(settings, community, real_name)
    _throttle(db, community=community, actor=actor, name_key=name_key)
    digest = id_digest(settings, id_number)
    _same_identity_as_account(actor, digest)
    person = db.scalar(
        select(Person).where(Person.community_id == community.id, Person.id_digest == digest)
    )
    # One answer for "no such ID" and "wrong name", so the register cannot be probed by name.
    if person is None or person.real_name != real_name:
        _record_failure(db, community=community, actor=actor, name_key=name_key,
                        real_name=real_name)
        raise ValidationFailed(
            "No registered resident of this community has that name and ID number."
        )
    if person.user_id == actor.id:
        return person
    if person.user_id is not None:
        raise Conflict("This resident is already verified by another account.")
    if access.resident_of(db, actor=actor, community=community) is not None:
        raise Conflict("You are already verified as another resident of this community.")
    person.user_id = actor.id
    person.verified_at = clock.now()
    if person.relation == Relation.HEAD:
        _grant_head(db, actor=actor, community=community)
    audit.record(
        db, actor_id=actor.id, action="community.verify", subject_type="person",
        subject_id=person.public_id,
    )
    db.flush()
    return person


def _grant_head(db: Session, *, actor: User, community: Community) -> None:
    exists = db.scalar(select(CommunityRole).where(
        CommunityRole.user_id == actor.id, CommunityRole.community_id == community.id,
        CommunityRole.role == CommunityRoleKind.HOUSEHOLD_HEAD,
    ))
    if exists is None:
        db.add(CommunityRole(
            user_id=actor.id, community_id=community.id, role=CommunityRoleKind.HOUSEHOLD_HEAD
        ))


def request_membership(
    db: Session, *, settings: Settings, actor: User, community: Community, room: str,
    real_name: str, id_number: str, relation: str,
) -> MemberRequest:
    """Ask the head of the household in `room` to add you (for people not on the register)."""
    real_name, id_number = _checked_identity(real_name, id_number)
    try:
        kind = Relation(relation)
    except ValueError:
        raise ValidationFailed("Unknown relation.", field="relation") from None
    if kind == Relation.HEAD:
        raise ValidationFailed("A household has one head; choose your relation to them.")
    digest = id_digest(settings, id_number)
    _same_identity_as_account(actor, digest)
    if access.resident_of(db, actor=actor, community=community) is not None:
        raise Conflict("You are already verified as a resident of this community.")
    if db.scalar(
        select(Person.id).where(Person.community_id == community.id, Person.id_digest == digest)
    ):
        raise Conflict("You are on the register: verify with your name and ID number instead.")
    parts = parse_room_label((room or "")[:40])
    found_room = None
    if parts:
        found_room = db.scalar(select(Room).where(
            Room.community_id == community.id, Room.building == parts[0],
            Room.unit == parts[1], Room.number == parts[2],
        ))
    household = (
        db.scalar(select(Household).where(Household.room_id == found_room.id))
        if found_room else None
    )
    if household is None:
        raise ValidationFailed("There is no room {room} in this community.", room=room[:40])
    head = household.head
    if head is None or head.user_id is None:
        raise ValidationFailed("This household's head has not verified yet; ask them first.")
    pending = db.scalars(select(MemberRequest).where(
        MemberRequest.user_id == actor.id, MemberRequest.status == RequestStatus.PENDING
    )).all()
    if len(pending) >= MAX_PENDING_REQUESTS:
        raise Conflict("You have {n} requests waiting; wait for an answer.", n=len(pending))
    request = MemberRequest(
        household_id=household.id, user_id=actor.id, real_name=real_name, id_digest=digest,
        id_masked=idcheck.mask_id_number(id_number), birth_date=birth_date(id_number),
        relation=kind,
    )
    db.add(request)
    db.flush()
    audit.record(
        db, actor_id=actor.id, action="community.member.request", subject_type="household",
        subject_id=household.public_id, request=request.public_id,
    )
    return request


def my_requests(db: Session, *, actor: User, community: Community) -> list[MemberRequest]:
    stmt = (
        select(MemberRequest)
        .join(Household, Household.id == MemberRequest.household_id)
        .where(MemberRequest.user_id == actor.id, Household.community_id == community.id)
        .order_by(MemberRequest.id.desc())
    )
    return list(db.scalars(stmt))


def requests_for_head(db: Session, *, actor: User, community: Community) -> list[MemberRequest]:
    """Pending requests to join the actor's household, if the actor is its verified head."""
    me = access.resident_of(db, actor=actor, community=community)
    if me is None or me.relation != Relation.HEAD:
        return []
    stmt = select(MemberRequest).where(
        MemberRequest.household_id == me.household_id,
        MemberRequest.status == RequestStatus.PENDING,
    ).order_by(MemberRequest.id)
    return list(db.scalars(stmt))


def decide_request(
    db: Session, *, actor: User, community: Community, request_id: str, approve: bool
) -> MemberRequest:
    """The household head (or the property manager) approves or rejects a membership request."""
    found = None
    if well_formed(request_id, "mrq"):
        found = db.scalar(select(MemberRequest).where(MemberRequest.public_id == request_id))
    if found is None or found.household.community_id != community.id:
        raise NotFound("No such request.")
    me = access.resident_of(db, actor=actor, community=community)
    is_head = me is not None and me.relation == Relation.HEAD and me.household_id == (
        found.household_id
    )
    if not is_head and not access.has_role(db, actor=actor, community=community,
                                           roles=[access.PM]):
        raise NotFound("No such request.")
    if found.status != RequestStatus.PENDING:
        raise Conflict("This request has already been decided.")
    if approve:
        if db.scalar(select(Person.id).where(
            Person.community_id == community.id,
            (Person.id_digest == found.id_digest) | (Person.user_id == found.user_id),
        )):
            raise Conflict("This person is already a resident of this community.")
        db.add(Person(
            community_id=community.id, household_id=found.household_id,
            real_name=found.real_name, id_digest=found.id_digest, id_masked=found.id_masked,
            birth_date=found.birth_date, relation=found.relation, user_id=found.user_id,
            verified_at=clock.now(),
        ))
    found.status = RequestStatus.APPROVED if approve else RequestStatus.REJECTED
    found.decided_by_id = actor.id
    found.decided_at = clock.now()
    audit.record(
        db, actor_id=actor.id, action="community.member." + found.status.value,
        subject_type="household", subject_id=found.household.public_id,
        request=found.public_id,
    )
    db.flush()
    return found


def my_household(db: Session, *, actor: User, community: Community) -> tuple[Person, Household]:
    """The actor's own person record and household (verified residents only)."""
    person = access.require_resident(db, actor=actor, community=community)
    return person, person.household


def household_member(
    db: Session, *, actor: User, community: Community, person_id: str
) -> Person:
    """A member of the actor's own household (the head may declare for children, say)."""
    me = access.require_resident(db, actor=actor, community=community)
    target = access.person_in(db, community=community, person_id=person_id)
    if target.household_id != me.household_id:
        raise NotFound("No such resident in this community.")
    if target.id != me.id and me.relation != Relation.HEAD and target.user_id is not None:
        raise PermissionDenied("Only the household head may act for another member.")
    return target
