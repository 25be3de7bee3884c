"""Gate JSON API: community public keys, residents' pass codes, scans, offline sync and the
passage log (search, CSV export, tracing, overdue returns)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime
from starlette.concurrency import run_in_threadpool

from townsquare.accounts.deps import CurrentUser, required_user
from townsquare.community import access
from townsquare.community.gate import codes, passages
from townsquare.community.gate.decision import REASON_TEXT, Decision, decide
from townsquare.community.gate.issuing import issue_code
from townsquare.community.gate.models import Passage
from townsquare.community.gate.schemas import (
    CodeOut,
    DecisionOut,
    KeySetOut,
    MemberChoiceOut,
    PassageOut,
    ReasonOut,
    ScanIn,
    SyncIn,
    SyncOut,
    SyncResultOut,
    TraceOut,
)
from townsquare.core import i18n
from townsquare.core.database import Database
from townsquare.web.deps import AppSettings, DbSession, WritingDbSession, get_settings
from townsquare.web.openapi import PublicId, Responses, error

router = APIRouter(prefix="/api/community", tags=["community gate"])

Ids = Annotated[str | None, Query(max_length=40)]


COMMON: Responses = {
    401: error("Not logged in"),
    404: error("No such community"),
    422: error("Invalid input"),
}
GUARD_ERRORS: Responses = {**COMMON, 403: error("Not a guard posted at this gate")}
LOG_ERRORS: Responses = {
    **COMMON,
    403: error("Not the property manager or committee of this community"),
}


def decision_out(decision: Decision) -> DecisionOut:
    return DecisionOut(
        allowed=decision.allowed,
        direction=decision.direction,
        reasons=[
            ReasonOut(code=r.value, text=i18n.gettext(REASON_TEXT[r]))
            for r in decision.reasons
        ],
        kind=decision.kind,
        colour=decision.colour,
        name_masked=decision.name_masked,
        room=decision.room,
        quota_left=decision.quota_left,
        quota_total=decision.quota_total,
        overdue=decision.overdue,
        needs_review=decision.needs_review,
        members=[MemberChoiceOut(id=i, name_masked=n) for i, n in decision.members],
        passage=decision.passage_id,
        at=decision.at,
        visitor=decision.visitor,
        phone_masked=decision.phone_masked,
        purpose=decision.purpose,
        window_start=decision.window[0] if decision.window else None,
        window_end=decision.window[1] if decision.window else None,
    )


def passage_out(p: Passage) -> PassageOut:
    return PassageOut(
        id=p.public_id,
        at=p.at,
        gate=p.gate.public_id,
        gate_name=p.gate.name,
        direction=p.direction,
        allowed=p.allowed,
        reasons=list(p.reasons),
        room=p.household.room.label if p.household else "",
        household=p.household.public_id if p.household else None,
        person=p.person.public_id if p.person else None,
        name=p.person.real_name if p.person else "",
        offline=p.offline,
        needs_review=p.needs_review,
        returned_at=p.returned_at,
        overdue=p.overdue,
        visitor=p.invitation.visitor_name if p.invitation else "",
        invitation=p.invitation.public_id if p.invitation else None,
    )


@router.get("/{com}/keys", response_model=KeySetOut, responses={404: error("No such community")})
def community_keys(com: PublicId, db: DbSession, settings: AppSettings) -> KeySetOut:
    """The community's pass-code public keys, for guard devices that verify offline."""
    community = access.get_community(db, community_id=com)
    return KeySetOut(
        community=community.public_id,
        current=codes.CURRENT_KID,
        keys=codes.published_keys(settings.effective_secret_key, community.public_id),
        ttl_seconds=codes.CODE_TTL_SECONDS,
    )


@router.get(
    "/{com}/code",
    response_model=CodeOut,
    responses={**COMMON, 403: error("Not a verified resident of this community")},
)
def my_code(
    com: PublicId,
    db: WritingDbSession,  # each look at the household's health status is audited (a write)
    settings: AppSettings,
    user: CurrentUser,
    kind: Annotated[str, Query(pattern="^(person|household)$")] = "household",
) -> CodeOut:
    """A fresh pass code for me (person) or my household; fetch again after `refresh_in` s.
    A writing unit of work although a GET: on SQLite a write in a read-only one fails when
    another writer committed since its first read (core/database.py)."""
    issued = issue_code(db, actor=user, settings=settings, community_id=com, kind=kind)
    return CodeOut(
        code=issued.code,
        kind="person" if issued.kind is codes.CodeKind.PERSON else "household",
        subject=issued.subject,
        issued_at=issued.issued_at,
        expires_at=issued.expires_at,
        refresh_in=issued.refresh_in,
        colour=issued.status.colour.value,
    )


def _scan(request: Request, com: str, body: ScanIn) -> DecisionOut:
    """One scan, whole, in one worker thread: its unit of work (committed before the answer
    leaves, as `DbSession`), its guard (as `CurrentUser`) and the decision. Declared as the
    usual sync dependencies, each would be a thread hop of its own."""
    database: Database = request.app.state.database
    with database.unit_of_work() as db:
        user = required_user(request, db)
        decision = decide(
            db,
            actor=user,
            settings=get_settings(request),
            community_id=com,
            gate_id=body.gate,
            code=body.code,
            direction=body.direction,
            client_id=body.client_id,
            member_id=body.member,
        )
        return decision_out(decision)


@router.post("/{com}/gate/scan", response_model=DecisionOut, responses=GUARD_ERRORS)
async def scan(com: PublicId, body: ScanIn, request: Request) -> DecisionOut:
    """Decide a scanned code at a gate and record the passage (idempotent by `client_id`)."""
    return await run_in_threadpool(_scan, request, com, body)


@router.post("/{com}/passages/sync", response_model=SyncOut, responses=GUARD_ERRORS)
def sync_passages(
    com: PublicId, body: SyncIn, db: DbSession, settings: AppSettings, user: CurrentUser
) -> SyncOut:
    """Passages a guard device recorded offline; each `client_id` is recorded once."""
    scans = [
        passages.OfflineScan(
            client_id=s.client_id,
            gate=s.gate,
            code=s.code,
            direction=s.direction,
            at=s.at,
            allowed=s.allowed,
            member=s.member,
        )
        for s in body.scans
    ]
    results = passages.sync(db, actor=user, settings=settings, community_id=com, scans=scans)
    return SyncOut(
        results=[
            SyncResultOut(
                client_id=r.client_id,
                status=r.status,
                passage=r.passage_id,
                allowed=r.allowed,
                needs_review=r.needs_review,
            )
            for r in results
        ]
    )


def _filters(
    household: Ids = None,
    person: Ids = None,
    gate_id: Annotated[str | None, Query(alias="gate", max_length=40)] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    review: bool = False,
    room: Annotated[str | None, Query(max_length=40)] = None,
    name: Annotated[str | None, Query(max_length=40)] = None,
) -> passages.LogFilter:
    """The log's query filters, shared by the JSON log and the CSV export."""
    return passages.LogFilter(
        household=household,
        person=person,
        gate=gate_id,
        since=since,
        until=until,
        review_only=review,
        room=room or None,
        name=name or None,
    )


Filters = Annotated[passages.LogFilter, Depends(_filters)]


@router.get("/{com}/passages", response_model=list[PassageOut], responses=LOG_ERRORS)
def passage_log(
    com: PublicId,
    db: DbSession,
    user: CurrentUser,
    filters: Filters,
    limit: Annotated[int, Query(ge=1, le=passages.PAGE_MAX)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[PassageOut]:
    """The entry and exit log, newest first, by household, person, gate and time range."""
    found = passages.search(
        db,
        actor=user,
        community_id=com,
        filters=filters,
        limit=limit,
        offset=offset,
    )
    return [passage_out(p) for p in found]


@router.get(
    "/{com}/passages.csv",
    response_class=StreamingResponse,
    responses={**LOG_ERRORS, 200: {"content": {"text/csv": {}}, "description": "The log as CSV"}},
)
def passage_csv(
    com: PublicId,
    db: WritingDbSession,  # the export is audited
    user: CurrentUser,
    settings: AppSettings,
    filters: Filters,
) -> StreamingResponse:
    """The filtered log as a CSV file (the export is audited)."""
    lines = list(
        passages.export_csv(
            db,
            actor=user,
            community_id=com,
            zone=settings.timezone,
            filters=filters,
        )
    )  # rendered inside the request's transaction, streamed after it
    return StreamingResponse(
        iter(lines),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="passages-{com}.csv"'},
    )


@router.get("/{com}/passages/overdue", response_model=list[PassageOut], responses=LOG_ERRORS)
def overdue_returns(com: PublicId, db: DbSession, user: CurrentUser) -> list[PassageOut]:
    """Exits not yet back in after the community's longest time outside."""
    return [passage_out(p) for p in passages.overdue(db, actor=user, community_id=com)]


@router.get(
    "/{com}/passages/{passage}/trace",
    response_model=TraceOut,
    responses={**LOG_ERRORS, 404: error("No such community or passage")},
)
def trace_passage(
    com: PublicId,
    passage: PublicId,
    db: WritingDbSession,  # the trace of personal data is audited
    user: CurrentUser,
    minutes: Annotated[int, Query(ge=1, le=passages.TRACE_MAX_MINUTES)] = 30,
) -> TraceOut:
    """Everyone who passed the same gate within `minutes` of this passage (audited)."""
    origin, near = passages.trace(
        db, actor=user, community_id=com, passage_id=passage, minutes=minutes
    )
    return TraceOut(
        origin=passage_out(origin), minutes=minutes, passages=[passage_out(p) for p in near]
    )
