"""The passage log: search, CSV export, tracing, overdue returns and offline sync.

The log is for the property manager and the residents' committee of the community (it names
people); guards only ever see single decisions at their gate.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.community import access
from townsquare.community.gate import codes
from townsquare.community.gate.decision import (
    evaluate,
    find_by_client_id,
    gate_for_guard,
    replay,
    request_digest,
)
from townsquare.community.gate.models import Direction, Passage, VisitorInvitation
from townsquare.community.models import Community, Gate, Household, Person, Room
from townsquare.core import audit, csvout
from townsquare.core.clock import clock
from townsquare.core.database import is_deadlock
from townsquare.core.errors import NotFound, ValidationFailed
from townsquare.core.i18n import format_datetime
from townsquare.core.settings import Settings
from townsquare.core.text import well_formed

LOG_ROLES = (access.PM, access.COMMITTEE)
PAGE_MAX = 500
EXPORT_MAX = 50_000
TRACE_MAX_MINUTES = 24 * 60
SYNC_MAX_ITEMS = 200
SYNC_MAX_AGE = timedelta(days=7)  # older offline records are refused (the device was gone too long)
SYNC_MAX_AHEAD = timedelta(minutes=5)  # device clocks drift a little, never hours
SYNC_ATTEMPTS = 3  # a batch chosen as a deadlock victim runs again, this many times in all


@dataclass(frozen=True)
class LogFilter:
    household: str | None = None  # hh_…
    person: str | None = None  # per_…
    gate: str | None = None  # gat_…
    since: datetime | None = None
    until: datetime | None = None
    review_only: bool = False
    room: str | None = None  # part of the room as written: "3栋-2单元-301", "301", "3栋2单元"
    name: str | None = None  # part of the resident's real name


def _like(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its own wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _visible_community(db: Session, actor: User | None, community_id: str) -> Community:
    community = access.get_community(db, community_id=community_id)
    access.require(db, actor=actor, community=community, roles=LOG_ROLES)
    return community


def _filtered(db: Session, community: Community, f: LogFilter):
    stmt = select(Passage).where(Passage.community_id == community.id)
    if f.household:
        hh = (
            db.scalar(
                select(Household.id).where(
                    Household.public_id == f.household, Household.community_id == community.id
                )
            )
            if well_formed(f.household, "hh")
            else None
        )
        stmt = stmt.where(Passage.household_id == (hh or -1))
    if f.person:
        per = (
            db.scalar(
                select(Person.id).where(
                    Person.public_id == f.person, Person.community_id == community.id
                )
            )
            if well_formed(f.person, "per")
            else None
        )
        stmt = stmt.where(Passage.person_id == (per or -1))
    if f.gate:
        gid = (
            db.scalar(
                select(Gate.id).where(Gate.public_id == f.gate, Gate.community_id == community.id)
            )
            if well_formed(f.gate, "gat")
            else None
        )
        stmt = stmt.where(Passage.gate_id == (gid or -1))
    if f.room and f.room.strip():
        wanted = "".join(f.room.split()).replace("-", "")
        room_ids = select(Household.id).join(Room, Household.room_id == Room.id).where(
            Household.community_id == community.id,
            (Room.building + Room.unit + Room.number).like(_like(wanted), escape="\\"),
        )
        stmt = stmt.where(Passage.household_id.in_(room_ids))
    if f.name and f.name.strip():
        person_ids = select(Person.id).where(
            Person.community_id == community.id,
            Person.real_name.like(_like(f.name.strip()), escape="\\"),
        )
        stmt = stmt.where(Passage.person_id.in_(person_ids))
    if f.since:
        stmt = stmt.where(Passage.at >= f.since)
    if f.until:
        stmt = stmt.where(Passage.at < f.until)
    if f.review_only:
        stmt = stmt.where(Passage.needs_review.is_(True))
    return stmt.order_by(Passage.at.desc(), Passage.id.desc())


def search(
    db: Session,
    *,
    actor: User | None,
    community_id: str,
    filters: LogFilter = LogFilter(),
    limit: int = 100,
    offset: int = 0,
) -> list[Passage]:
    """Passages of the community matching `filters`, newest first."""
    community = _visible_community(db, actor, community_id)
    if filters.since and filters.until and filters.since > filters.until:
        raise ValidationFailed("The start of the time range is after its end.")
    stmt = _filtered(db, community, filters).limit(min(max(limit, 1), PAGE_MAX)).offset(offset)
    return list(db.scalars(stmt))


CSV_HEADER = (
    "passage",
    "time",
    "gate",
    "direction",
    "allowed",
    "reasons",
    "room",
    "household",
    "person",
    "name",
    "code",
    "offline",
    "needs_review",
    "returned_at",
    "overdue",
)


def export_csv(
    db: Session, *, actor: User | None, community_id: str, filters: LogFilter, zone: str
) -> Iterator[str]:
    """The filtered log as CSV lines (header first); the export itself is audited."""
    community = _visible_community(db, actor, community_id)
    audit.record(
        db,
        actor_id=actor.id if actor else None,
        action="passages.export",
        subject_type="community",
        subject_id=community.public_id,
        filters={k: (str(v) if v is not None else None) for k, v in filters.__dict__.items()},
    )
    rows = db.scalars(_filtered(db, community, filters).limit(EXPORT_MAX))

    def local(dt: datetime | None) -> str:
        return format_datetime(dt, zone, "yyyy-MM-dd HH:mm:ss") if dt else ""

    line = csvout.line  # formula-looking cells (a name typed as "=1+2") are defused
    yield "\ufeff" + line(CSV_HEADER)  # the BOM makes Excel read the Chinese names right
    for p in rows:
        yield line(
            (
                p.public_id,
                local(p.at),
                p.gate.name,
                p.direction.value,
                int(p.allowed),
                " ".join(p.reasons),
                p.household.room.label if p.household else "",
                p.household.public_id if p.household else "",
                p.person.public_id if p.person else "",
                p.person.real_name if p.person else (
                    p.invitation.visitor_name if p.invitation else ""),  # a visitor's name
                p.code_kind,
                int(p.offline),
                int(p.needs_review),
                local(p.returned_at),
                int(p.overdue),
            )
        )


TRENDS_MAX_DAYS = 92


@dataclass(frozen=True)
class DayFigures:
    """One local day of the log: every scan, the exits let out, the scans refused."""

    day: date
    passages: int
    exits: int
    denials: int


def daily_figures(
    db: Session, *, actor: User | None, community_id: str, days: int, zone: str
) -> list[DayFigures]:
    """Passages, allowed exits and denials per local day for the last `days` days (today
    included), oldest first, every day listed even when nothing happened. Counted in SQL: the
    day boundaries (local midnights, so daylight saving is right) become one CASE bucket."""
    community = _visible_community(db, actor, community_id)
    if not 1 <= days <= TRENDS_MAX_DAYS:
        raise ValidationFailed("Trends cover 1 to {n} days.", n=TRENDS_MAX_DAYS)
    tz = ZoneInfo(zone)
    today = clock.now().astimezone(tz).date()
    first = today - timedelta(days=days - 1)
    starts = [
        datetime.combine(first + timedelta(days=i), time(), tz).astimezone(UTC)
        for i in range(days + 1)
    ]
    bucket = case(
        *((Passage.at < starts[i + 1], i) for i in range(days)), else_=None
    ).label("bucket")
    exits = case((Passage.allowed.is_(True) & (Passage.direction == Direction.EXIT), 1), else_=0)
    denied = case((Passage.allowed.is_(False), 1), else_=0)
    inner = (
        select(bucket, exits.label("exit"), denied.label("denied"))
        .where(
            Passage.community_id == community.id,
            Passage.at >= starts[0],
            Passage.at < starts[-1],
        )
        .subquery()
    )  # grouped outside, so PostgreSQL sees one column, not the CASE with its parameters
    stmt = select(
        inner.c.bucket, func.count(), func.sum(inner.c.exit), func.sum(inner.c.denied)
    ).group_by(inner.c.bucket)
    counted = {row[0]: row for row in db.execute(stmt) if row[0] is not None}
    out = []
    for i in range(days):
        row = counted.get(i)
        out.append(
            DayFigures(
                first + timedelta(days=i),
                int(row[1]) if row else 0,
                int(row[2] or 0) if row else 0,
                int(row[3] or 0) if row else 0,
            )
        )
    return out


TRENDS_CSV_HEADER = ("day", "passages", "exits", "denials")


def trends_csv(figures: Sequence[DayFigures]) -> Iterator[str]:
    """The daily figures as CSV lines (through the formula-defusing writer, like every export)."""
    yield "\ufeff" + csvout.line(TRENDS_CSV_HEADER)
    for f in figures:
        yield csvout.line((f.day.isoformat(), f.passages, f.exits, f.denials))


def trace(
    db: Session, *, actor: User | None, community_id: str, passage_id: str, minutes: int = 30
) -> tuple[Passage, list[Passage]]:
    """Everyone who passed the same gate within `minutes` either side of the given passage."""
    community = _visible_community(db, actor, community_id)
    if not 1 <= minutes <= TRACE_MAX_MINUTES:
        raise ValidationFailed("The tracing window is 1 to {n} minutes.", n=TRACE_MAX_MINUTES)
    origin = None
    if well_formed(passage_id, "pas"):
        origin = db.scalar(
            select(Passage).where(
                Passage.public_id == passage_id, Passage.community_id == community.id
            )
        )
    if origin is None:
        raise NotFound("No such passage in this community.")
    window = timedelta(minutes=minutes)
    stmt = (
        select(Passage)
        .where(
            Passage.gate_id == origin.gate_id,
            Passage.id != origin.id,
            Passage.at >= origin.at - window,
            Passage.at <= origin.at + window,
            Passage.household_id.is_not(None),
        )
        .order_by(Passage.at, Passage.id)
        .limit(PAGE_MAX)
    )
    audit.record(
        db,
        actor_id=actor.id if actor else None,
        action="passages.trace",
        subject_type="passage",
        subject_id=origin.public_id,
        minutes=minutes,
    )
    return origin, list(db.scalars(stmt))


def overdue(db: Session, *, actor: User | None, community_id: str) -> list[Passage]:
    """Exits still open (not back in) for longer than the community allows, oldest first."""
    community = _visible_community(db, actor, community_id)
    return overdue_in(db, community=community, now=clock.now())


def overdue_in(db: Session, *, community: Community, now: datetime) -> list[Passage]:
    """Open exits past the limit (no permission check: for jobs such as reminders)."""
    cutoff = now - timedelta(hours=community.max_hours_outside)
    stmt = (
        select(Passage)
        .where(
            Passage.community_id == community.id,
            Passage.direction == Direction.EXIT,
            Passage.counted.is_(True),
            Passage.returned_at.is_(None),
            Passage.at < cutoff,
        )
        .order_by(Passage.at)
    )
    return list(db.scalars(stmt))


@dataclass(frozen=True)
class OfflineScan:
    """One passage a guard device recorded while offline."""

    client_id: str
    gate: str
    code: str
    direction: Direction
    at: datetime
    allowed: bool
    member: str | None = None  # a household code going out: who the guard picked


@dataclass(frozen=True)
class SyncResult:
    client_id: str
    status: Literal["recorded", "duplicate"]  # new, or already had it
    passage_id: str
    allowed: bool
    needs_review: bool


def sync(
    db: Session,
    *,
    actor: User | None,
    settings: Settings,
    community_id: str,
    scans: Sequence[OfflineScan],
) -> list[SyncResult]:
    """Record a guard device's offline passages, each once (idempotent by `client_id`).

    Each is judged as of its own time against the live quota and flags; a passage the
    device allowed that the server would not have (e.g. over the quota) is still recorded as
    it happened (an exit counts) and flagged for review."""
    community = access.get_community(db, community_id=community_id)
    if len(scans) > SYNC_MAX_ITEMS:
        raise ValidationFailed("Send at most {n} passages at a time.", n=SYNC_MAX_ITEMS)
    now = clock.now()
    gate_by_id: dict[str, Gate] = {}
    for scan in scans:  # check everything before recording anything
        if scan.gate not in gate_by_id:
            gate_by_id[scan.gate] = gate_for_guard(
                db, actor=actor, community=community, gate_id=scan.gate
            )
        if not (now - SYNC_MAX_AGE <= scan.at <= now + SYNC_MAX_AHEAD):
            raise ValidationFailed(
                "An offline passage is dated outside the last {n} days.", n=SYNC_MAX_AGE.days
            )
    ordered = sorted(scans, key=lambda s: (s.at, s.client_id))  # as they happened (quota order)
    for attempt in range(1, SYNC_ATTEMPTS + 1):
        try:
            with db.begin_nested():  # a deadlock victim rolls back to here and runs again
                _lock_households(db, settings, community, ordered)
                return [
                    _sync_one(db, actor, settings, community, gate_by_id[scan.gate], scan)
                    for scan in ordered
                ]
        except OperationalError as exc:
            if not is_deadlock(exc) or attempt == SYNC_ATTEMPTS:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _lock_households(
    db: Session, settings: Settings, community: Community, scans: Sequence[OfflineScan]
) -> None:
    """Lock every household the batch names, in id order, before recording anything: two
    devices syncing overlapping batches then queue instead of deadlocking (each scan's own
    lock in `evaluate` is already held by then)."""
    keys = codes.public_keys(settings.effective_secret_key, community.public_id)
    households: set[str] = set()
    persons: set[str] = set()
    invited: set[str] = set()
    for scan in scans:
        try:
            claims = codes.verify(scan.code, keys, community=community.public_id,
                                  now=scan.at.timestamp())
        except codes.CodeRefused:
            continue
        if claims.kind is codes.CodeKind.VISITOR:
            invited.add(claims.subject)  # a visitor: the host household is locked
            continue
        (persons if claims.kind is codes.CodeKind.PERSON else households).add(claims.subject)
    ids = set(db.scalars(select(Household.id).where(
        Household.community_id == community.id, Household.public_id.in_(households))))
    ids |= {i for i in db.scalars(select(Person.household_id).where(
        Person.community_id == community.id, Person.public_id.in_(persons))) if i is not None}
    ids |= set(db.scalars(select(VisitorInvitation.household_id).where(
        VisitorInvitation.community_id == community.id, VisitorInvitation.public_id.in_(invited))))
    if ids:
        db.execute(select(Household.id).where(Household.id.in_(ids))
                   .order_by(Household.id).with_for_update())


def _sync_one(
    db: Session,
    actor: User | None,
    settings: Settings,
    community: Community,
    gate: Gate,
    scan: OfflineScan,
) -> SyncResult:
    digest = request_digest("offline", gate.public_id, Direction(scan.direction).value,
                            scan.code, scan.at.timestamp(), scan.allowed, scan.member or "")
    existing = find_by_client_id(db, community=community, client_id=scan.client_id)
    if existing is None:
        try:
            with db.begin_nested():  # a concurrent sync of the same id loses cleanly here
                decision = evaluate(
                    db,
                    actor=actor,
                    settings=settings,
                    community=community,
                    gate=gate,
                    code=scan.code,
                    direction=scan.direction,
                    at=scan.at,
                    client_id=scan.client_id,
                    client_digest=digest,
                    device_allowed=scan.allowed,
                    member_id=scan.member,
                )
            return SyncResult(
                scan.client_id,
                "recorded",
                decision.passage_id or "",
                decision.allowed,
                decision.needs_review,
            )
        except IntegrityError:
            existing = find_by_client_id(db, community=community, client_id=scan.client_id)
            if existing is None:
                raise
    replay(existing, digest=digest)
    return SyncResult(
        scan.client_id, "duplicate", existing.public_id, existing.allowed, existing.needs_review
    )
