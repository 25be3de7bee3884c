"""The gate decision: a scanned code, a gate, a guard and a direction → allowed or denied, why.

Checks, in order: the code (genuine, fresh, this community's), the person or household it names,
and for exits the health status (townsquare.community.status, the same colour the code page
shows), who may go out, and the household's exit quota. Entries are let in whenever the code is
genuine (people are not locked out of their homes) but still carry the warnings, and an entry
closes the household's oldest open exit, flagging it when it came back later than allowed.

A `client_id` (the device's idempotency key) is bound to what was sent with it: a retry with the
same key and content answers the recorded decision, even when it races the first attempt; the
same key with other content is refused (409), never answered with someone else's decision.

Quotas hold under concurrency: the household row is locked (SELECT … FOR UPDATE on PostgreSQL;
SQLite serialises writers with BEGIN IMMEDIATE) before the exits are counted, and the lock is
held until the request's transaction commits, so two gates can never both take the last exit.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, lazyload

from townsquare.accounts.models import User
from townsquare.community import access, status
from townsquare.community.gate import codes, visitors
from townsquare.community.gate.models import Direction, Passage
from townsquare.community.gate.rules import exits_used, local_day, people_status
from townsquare.community.models import (
    Community,
    ExitRule,
    Gate,
    GuardPost,
    Household,
    Person,
    Relation,
)
from townsquare.core.clock import clock
from townsquare.core.errors import Conflict, NotFound, PermissionDenied
from townsquare.core.i18n import N_
from townsquare.core.security import mask
from townsquare.core.settings import Settings
from townsquare.core.text import well_formed

ADULT_AGE = 18


class Reason(enum.StrEnum):
    """Why a scan was denied or flagged (stored on the passage, shown translated to the guard)."""

    MALFORMED = "malformed"
    FORGED = "forged"
    EXPIRED = "expired"
    WRONG_COMMUNITY = "wrong_community"
    UNKNOWN = "unknown"
    QUARANTINE = "quarantine"
    FEVER = "fever"
    RISK_REGION = "risk_region"
    CASE_CONTACT = "case_contact"
    RISK_TRAVEL = "risk_travel"
    DECLARED_FEVER = "declared_fever"
    QUOTA = "quota"
    NOT_ALLOWED = "not_allowed"
    PERSONAL_CODE = "personal_code"
    OVERDUE = "overdue"
    OFFLINE_OVER_QUOTA = "offline_over_quota"
    OFFLINE_DISAGREES = "offline_disagrees"
    CHOOSE_MEMBER = "choose_member"
    # visitor codes (kind "v"): see community.gate.visitors
    VISITOR_REVOKED = "visitor_revoked"
    VISITOR_EARLY = "visitor_early"
    VISITOR_LATE = "visitor_late"
    VISITOR_LIMIT = "visitor_limit"
    VISITOR_LOCKDOWN = "visitor_lockdown"
    VISITOR_OFFLINE = "visitor_offline"


REASON_TEXT = {
    Reason.MALFORMED: N_("Not a pass code"),
    Reason.FORGED: N_("Forged or altered code"),
    Reason.EXPIRED: N_("Expired code (an old screenshot?)"),
    Reason.WRONG_COMMUNITY: N_("Code of another community"),
    Reason.UNKNOWN: N_("Not registered in this community"),
    Reason.QUARANTINE: status.REASONS["quarantine"],
    Reason.FEVER: status.REASONS["fever"],
    Reason.RISK_REGION: status.REASONS["risk_region"],
    Reason.CASE_CONTACT: status.REASONS["case_contact"],
    Reason.RISK_TRAVEL: status.REASONS["risk_travel"],
    Reason.DECLARED_FEVER: status.REASONS["declared_fever"],
    Reason.QUOTA: N_("The household's exit quota is used up"),
    Reason.NOT_ALLOWED: N_("This person may not go out under the community's rules"),
    Reason.PERSONAL_CODE: N_("Only the household head may go out: scan the personal code"),
    Reason.OVERDUE: N_("Came back later than allowed"),
    Reason.OFFLINE_OVER_QUOTA: N_("Went out while the gate was offline, beyond the quota"),
    Reason.OFFLINE_DISAGREES: N_("The offline gate decided otherwise than the server would"),
    Reason.CHOOSE_MEMBER: N_("Household code: choose who is going out"),
    Reason.VISITOR_REVOKED: N_("The host revoked this visitor pass"),
    Reason.VISITOR_EARLY: N_("Too early: the visit has not started yet"),
    Reason.VISITOR_LATE: N_("The visit's time window is over"),
    Reason.VISITOR_LIMIT: N_("The household's visitors for today are used up"),
    Reason.VISITOR_LOCKDOWN: N_("The community admits no visitors at present"),
    Reason.VISITOR_OFFLINE: N_("Visitor passes need the network: call the host"),
}
_STATUS_REASON = {text: Reason(key) for key, text in status.REASONS.items()}
_REFUSAL = {
    codes.Refusal.MALFORMED: Reason.MALFORMED,
    codes.Refusal.FORGED: Reason.FORGED,
    codes.Refusal.EXPIRED: Reason.EXPIRED,
    codes.Refusal.WRONG_COMMUNITY: Reason.WRONG_COMMUNITY,
}


@dataclass
class Decision:
    """What the guard sees: no ID number, a masked name, the room and the reasons."""

    allowed: bool
    direction: Direction
    reasons: list[Reason] = field(default_factory=list)
    kind: str = ""
    colour: str | None = None
    name_masked: str = ""
    room: str = ""
    quota_left: int | None = None
    quota_total: int = 0
    overdue: bool = False
    needs_review: bool = False
    passage_id: str | None = None
    at: datetime | None = None
    # a household code at an exit: the members the guard chooses from (public id, masked name)
    members: list[tuple[str, str]] = field(default_factory=list)
    # a visitor code: the visitor (masked name and phone), the purpose and the window
    visitor: bool = False
    phone_masked: str = ""
    purpose: str = ""
    window: tuple[datetime, datetime] | None = None


def mask_name(name: str) -> str:
    """张小民 → 张*民, 李四 → 李*: enough for a guard to greet, not to identify."""
    if len(name) <= 2:
        return name[:1] + "*"
    return mask(name, 1, 1)


def gate_for_guard(db: Session, *, actor: User | None, community: Community, gate_id: str) -> Gate:
    """The gate, if the actor guards it (guards of other gates or communities are refused)."""
    gate, posted = None, None
    if well_formed(gate_id, "gat"):
        # the gate and whether the actor is posted there, in one statement
        post = and_(GuardPost.gate_id == Gate.id,
                    GuardPost.user_id == (actor.id if actor is not None else None))
        row = db.execute(
            select(Gate, GuardPost.id)
            .outerjoin(GuardPost, post)
            .where(Gate.public_id == gate_id, Gate.community_id == community.id)
        ).first()
        if row is not None:
            gate, posted = row
    if gate is None:
        raise NotFound("No such gate in this community.")
    access.require(db, actor=actor, community=community, roles=[access.GUARD])
    if actor is not None and posted is None:
        raise PermissionDenied("You are not posted at this gate.")
    return gate


def posts_of(db: Session, *, actor: User, community: Community) -> list[Gate]:
    """The gates of this community the actor is posted at."""
    stmt = (
        select(Gate)
        .join(GuardPost, GuardPost.gate_id == Gate.id)
        .where(GuardPost.user_id == actor.id, Gate.community_id == community.id)
        .order_by(Gate.name)
    )
    return list(db.scalars(stmt))


def request_digest(*parts: object) -> str:
    """The fingerprint a `client_id` is bound to: what the client sent with it."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()


def replay(earlier: Passage, *, digest: str) -> Passage:
    """The recorded passage for a retried `client_id`, if the retry sent the same content."""
    if earlier.client_digest and earlier.client_digest != digest:
        raise Conflict(
            "This client_id was already used for a different scan; use a new one.",
            code="client_id_reused",
            client_id=earlier.client_id or "",
        )
    return earlier


def decide(
    db: Session,
    *,
    actor: User | None,
    settings: Settings,
    community_id: str,
    gate_id: str,
    code: str,
    direction: Direction,
    client_id: str | None = None,
    member_id: str | None = None,
) -> Decision:
    """Decide a scan at a gate now and record it as a passage (once per `client_id`). A
    household code going out names who is passing: `member_id`, picked by the guard."""
    community = access.get_community(db, community_id=community_id, gates=False)
    gate = gate_for_guard(db, actor=actor, community=community, gate_id=gate_id)
    direction = Direction(direction)
    digest = (request_digest("scan", gate.public_id, direction.value, code, member_id or "")
              if client_id else "")
    if client_id and (earlier := find_by_client_id(db, community=community, client_id=client_id)):
        return decision_of(replay(earlier, digest=digest), community=community, settings=settings)
    try:
        with db.begin_nested():  # a concurrent attempt with the same client_id loses here
            return evaluate(
                db,
                actor=actor,
                settings=settings,
                community=community,
                gate=gate,
                code=code,
                direction=direction,
                at=clock.now(),
                client_id=client_id,
                client_digest=digest,
                member_id=member_id,
            )
    except IntegrityError:
        earlier = find_by_client_id(db, community=community, client_id=client_id or "")
        if not client_id or earlier is None:
            raise
        return decision_of(replay(earlier, digest=digest), community=community, settings=settings)


def find_by_client_id(db: Session, *, community: Community, client_id: str) -> Passage | None:
    return db.scalar(
        select(Passage).where(Passage.community_id == community.id, Passage.client_id == client_id)
    )


def evaluate(
    db: Session,
    *,
    actor: User | None,
    settings: Settings,
    community: Community,
    gate: Gate,
    code: str,
    direction: Direction,
    at: datetime,
    client_id: str | None = None,
    client_digest: str = "",
    device_allowed: bool | None = None,
    member_id: str | None = None,
) -> Decision:
    """The decision for a scan at time `at`, recorded as a passage. `device_allowed` is what
    an offline guard device decided: the passage records what really happened at the gate
    (an exit it let through counts), and a disagreement with the server is flagged for review."""
    passage = Passage(
        community_id=community.id,
        gate_id=gate.id,
        guard_id=actor.id if actor else None,
        direction=direction,
        at=at,
        client_id=client_id,
        client_digest=client_digest,
        offline=device_allowed is not None,
        needs_review=False,
        overdue=False,
        counted=False,
        code_kind="",
    )
    reasons: list[Reason] = []
    decision = Decision(allowed=False, direction=direction, at=at)
    try:
        keys = codes.public_keys(settings.effective_secret_key, community.public_id)
        claims = codes.verify(code, keys, community=community.public_id, now=at.timestamp())
    except codes.CodeRefused as refused:
        claims = None
        if refused.reason is codes.Refusal.EXPIRED:
            # a genuine visitor code past its window: refused below with the host's room
            claims = codes.expired_visitor(code, keys, community=community.public_id)
        if claims is None:
            reasons.append(_REFUSAL[refused.reason])
    if claims is not None and claims.kind is codes.CodeKind.VISITOR:
        return _visitor(db, settings=settings, community=community, claims=claims,
                        passage=passage, decision=decision, device_allowed=device_allowed)
    household, person = _subject(db, community=community, claims=claims)
    if claims is not None and household is None:
        reasons.append(Reason.UNKNOWN)
    if household is not None and person is None:
        # A household code says which home, not who: the guard picks the member going out, and
        # from then on every rule about that person applies (age, head-only, health).
        person = _member(household, member_id)
        if member_id and person is None:
            household = None
            reasons.append(Reason.UNKNOWN)
        elif person is None and direction is Direction.EXIT:
            reasons.append(Reason.CHOOSE_MEMBER)
            decision.members = [(m.public_id, mask_name(m.real_name))
                                for m in household.members]
    if household is not None:
        passage.household_id, passage.person_id = household.id, person.id if person else None
        passage.code_kind = claims.kind.value if claims else ""
        _lock(db, household)
        reasons += _assess(db, actor, settings, community, household, person, decision, at)
    blocking = [r for r in reasons if r not in (Reason.OVERDUE,)]
    genuine = household is not None and not any(r in _REFUSAL.values() for r in reasons)
    decision.allowed = genuine if direction is Direction.ENTRY else not blocking
    if device_allowed is not None and device_allowed != decision.allowed:
        passage.needs_review = True
        over_quota = Reason.QUOTA in reasons and device_allowed
        reasons.append(Reason.OFFLINE_OVER_QUOTA if over_quota else Reason.OFFLINE_DISAGREES)
        decision.allowed = device_allowed  # the passage records what really happened
    passage.allowed = decision.allowed
    passage.counted = decision.allowed and direction is Direction.EXIT and household is not None
    if passage.counted and decision.quota_left is not None:
        decision.quota_left = max(decision.quota_left - 1, 0)
    passage.reasons = [r.value for r in dict.fromkeys(reasons)]
    db.add(passage)
    db.flush()
    entering = decision.allowed and direction is Direction.ENTRY
    if household is not None and (passage.counted or entering):
        reconcile(db, community=community, household=household, since=at)
    decision.overdue = passage.overdue
    decision.reasons = [Reason(r) for r in passage.reasons]
    decision.needs_review = passage.needs_review
    decision.kind = passage.code_kind
    decision.passage_id = passage.public_id
    return decision


def _visitor(
    db: Session,
    *,
    settings: Settings,
    community: Community,
    claims: codes.PassClaims,
    passage: Passage,
    decision: Decision,
    device_allowed: bool | None,
) -> Decision:
    """A visitor code: its invitation, the host's room and the visitor rules. Recorded with
    the host household and the invitation, never counted against the household's exit quota
    and never paired with its residents' exits (`reconcile` leaves visitor passages out).

    An offline device cannot know whether the host revoked the pass, nor the day's count or a
    lockdown, so it refuses visitor codes (community-gate.js); synced, such a refusal is simply
    recorded, and an offline admission (an old or tampered device) is flagged for review."""
    at = passage.at
    passage.code_kind = codes.CodeKind.VISITOR.value
    decision.kind = passage.code_kind
    decision.visitor = True
    invitation = visitors.find(db, community=community, invitation_id=claims.subject)
    reasons: list[Reason] = []
    if invitation is None:
        reasons.append(Reason.UNKNOWN)
    else:
        visitors.lock_household(db, invitation.household_id)
        passage.household_id, passage.invitation_id = invitation.household_id, invitation.id
        decision.room = invitation.household.room.label
        decision.name_masked = mask_name(invitation.visitor_name)
        decision.phone_masked = visitors.phone_for_guard(invitation)
        decision.purpose = invitation.purpose
        decision.window = (invitation.starts_at, invitation.ends_at)
        if device_allowed is not None:  # offline: refused either way (see the docstring)
            reasons.append(Reason.VISITOR_OFFLINE)
        else:
            reasons += [Reason(r) for r in visitors.assess(
                db, community=community, invitation=invitation, direction=passage.direction,
                at=at, zone=settings.timezone)]
    decision.allowed = not reasons
    if device_allowed is not None and device_allowed != decision.allowed:
        passage.needs_review = True
        reasons.append(Reason.OFFLINE_DISAGREES)
        decision.allowed = device_allowed
    passage.allowed = decision.allowed
    passage.reasons = [r.value for r in dict.fromkeys(reasons)]
    db.add(passage)
    db.flush()
    decision.reasons = [Reason(r) for r in passage.reasons]
    decision.needs_review = passage.needs_review
    decision.passage_id = passage.public_id
    return decision


def _subject(
    db: Session, *, community: Community, claims: codes.PassClaims | None
) -> tuple[Household | None, Person | None]:
    if claims is None or claims.kind is codes.CodeKind.VISITOR:
        return None, None
    if claims.kind is codes.CodeKind.PERSON:
        person = db.scalar(
            select(Person).where(
                Person.public_id == claims.subject,
                Person.community_id == community.id,
                Person.user_id.is_not(None),
            )
        )
        return (person.household, person) if person else (None, None)
    household = db.scalar(
        select(Household).where(
            Household.public_id == claims.subject, Household.community_id == community.id
        )
    )
    return household, None


def _member(household: Household, member_id: str | None) -> Person | None:
    if not member_id:
        return None
    return next((m for m in household.members if m.public_id == member_id), None)


def _lock(db: Session, household: Household) -> None:
    # Serialises every scan of this household until the transaction ends. Not sent on SQLite,
    # where BEGIN IMMEDIATE has already taken the database's write lock (and FOR UPDATE is
    # dropped from the statement anyway).
    if db.get_bind().dialect.name == "sqlite":
        return
    db.execute(select(Household.id).where(Household.id == household.id).with_for_update())


def _assess(
    db: Session,
    actor: User | None,
    settings: Settings,
    community: Community,
    household: Household,
    person: Person | None,
    decision: Decision,
    at: datetime,
) -> list[Reason]:
    """Fill in what the guard sees and return the reasons that speak against going out."""
    today = local_day(at, settings.timezone)
    people = [person] if person else list(household.members)
    shown = person or household.head or (people[0] if people else None)
    decision.name_masked = mask_name(shown.real_name) if shown else ""
    decision.room = household.room.label
    health = status.worst(
        people_status(db, viewer=actor, community=community, people=people, today=today,
                      purpose="gate")
    )
    decision.colour = health.colour.value
    reasons = [_STATUS_REASON[text] for text in health.reasons if text in _STATUS_REASON]
    if person is not None:
        rule = community.who_may_exit
        if (rule is ExitRule.HEAD_ONLY and person.relation is not Relation.HEAD) or (
            rule is ExitRule.ANY_ADULT and person.age_on(today) < ADULT_AGE
        ):
            reasons.append(Reason.NOT_ALLOWED)
    used = exits_used(db, community=community, household=household, at=at, zone=settings.timezone)
    decision.quota_total = community.exits_per_household
    decision.quota_left = max(community.exits_per_household - used, 0)
    if decision.direction is Direction.EXIT and decision.quota_left == 0:
        reasons.append(Reason.QUOTA)
    return reasons


def reconcile(db: Session, *, community: Community, household: Household, since: datetime) -> None:
    """Pair the household's allowed entries with its counted exits by their scan time (the
    device's time for offline scans), whatever order they were recorded in: each entry closes
    the oldest exit still open before it, and flags it overdue when it came back too late.

    Pairings before `since` cannot change, so only exits open at `since` or later and entries
    from `since` on are replayed. The caller holds the household's lock."""
    # One statement for both sides; only the passages' own columns are needed here, so the
    # gate, household (with its members) and person they eagerly load elsewhere are left out.
    found = db.scalars(
        select(Passage)
        .options(lazyload("*"))
        .where(
            Passage.household_id == household.id,
            Passage.invitation_id.is_(None),  # a visitor's passages pair with no resident's
            or_(
                and_(
                    Passage.direction == Direction.EXIT,
                    Passage.counted.is_(True),
                    or_(Passage.at >= since, Passage.returned_at.is_(None),
                        Passage.returned_at >= since),
                ),
                and_(
                    Passage.direction == Direction.ENTRY,
                    Passage.allowed.is_(True),
                    Passage.at >= since,
                ),
            ),
        )
    )
    exits: list[Passage] = []
    entries: list[Passage] = []
    for p in found:
        (entries if p.direction is Direction.ENTRY else exits).append(p)
    limit = timedelta(hours=community.max_hours_outside)
    timeline = sorted(
        [(p.at, 0, p.id, p) for p in exits] + [(p.at, 1, p.id, p) for p in entries],
        key=lambda item: item[:3],  # at the same instant the exit comes first
    )
    open_exits: list[Passage] = []
    for _at, is_entry, _id, passage in timeline:
        if not is_entry:
            passage.returned_at, passage.overdue = None, False
            open_exits.append(passage)
            continue
        late = False
        if open_exits:
            exit_ = open_exits.pop(0)
            exit_.returned_at = passage.at
            exit_.overdue = late = passage.at - exit_.at > limit
        reasons = [r for r in passage.reasons if r != Reason.OVERDUE.value]
        passage.reasons = reasons + [Reason.OVERDUE.value] if late else reasons
        passage.overdue = late
    db.flush()


def decision_of(passage: Passage, *, community: Community, settings: Settings) -> Decision:
    """The decision as recorded (a repeated scan or sync answers what was decided first)."""
    person, household = passage.person, passage.household
    shown = person or (household.head if household else None)
    invitation = passage.invitation
    if invitation is not None:
        return Decision(
            allowed=passage.allowed, direction=passage.direction,
            reasons=[Reason(r) for r in passage.reasons], kind=passage.code_kind,
            name_masked=mask_name(invitation.visitor_name),
            room=household.room.label if household else "", needs_review=passage.needs_review,
            passage_id=passage.public_id, at=passage.at, visitor=True,
            phone_masked=visitors.phone_for_guard(invitation), purpose=invitation.purpose,
            window=(invitation.starts_at, invitation.ends_at),
        )
    return Decision(
        allowed=passage.allowed,
        direction=passage.direction,
        reasons=[Reason(r) for r in passage.reasons],
        kind=passage.code_kind,
        name_masked=mask_name(shown.real_name) if shown else "",
        room=household.room.label if household else "",
        quota_total=community.exits_per_household,
        overdue=passage.overdue,
        needs_review=passage.needs_review,
        passage_id=passage.public_id,
        at=passage.at,
    )
