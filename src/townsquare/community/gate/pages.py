"""Gate pages: the resident's pass code (refreshed before it expires), the guard's scanning page
(camera and keyboard wedge, with offline verification and sync), and the passage log with CSV
export and tracing for the property manager and committee."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from townsquare.accounts.deps import CurrentUser
from townsquare.community import access
from townsquare.community.gate import passages
from townsquare.community.gate.decision import (
    REASON_TEXT,
    Reason,
    gate_for_guard,
    mask_name,
    posts_of,
)
from townsquare.community.gate.issuing import issue_code
from townsquare.community.gate.models import Direction
from townsquare.core import i18n
from townsquare.core.clock import clock
from townsquare.core.errors import PermissionDenied, ValidationFailed
from townsquare.core.i18n import N_
from townsquare.web.deps import AppSettings, DbSession, WritingDbSession
from townsquare.web.openapi import PublicId
from townsquare.web.qr import qr_svg
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)

Kind = Annotated[str, Query(pattern="^(person|household)$")]
Opt = Annotated[str | None, Query(max_length=40)]

# Everything the scanning script says, translated here so the page works offline too.
GATE_STRINGS = {
    "allowed": N_("Allowed"),
    "online": N_("Online"),
    "offline_net": N_("Offline"),
    "denied": N_("Denied"),
    "offline": N_("Offline: checked on this device; quota and health not checked"),
    "pending": N_("{n} passages waiting to sync"),
    "synced": N_("All passages synced"),
    "quota": N_("Exits left: {left} of {total}"),
    "no_keys": N_("No keys on this device yet: connect once to load them"),
    "camera_off": N_("Camera unavailable: use the scanner or type the code"),
    "error": N_("The server refused the scan"),
    "green": N_("Green"),
    "yellow": N_("Yellow"),
    "red": N_("Red"),
    "waiting": N_("Waiting for a code…"),
    "visitor": N_("Visitor"),
    "visit_window": N_("Visit: {start} – {end}"),
}
OFFLINE_REASONS = {
    r.value: REASON_TEXT[r]
    for r in (
        Reason.MALFORMED,
        Reason.FORGED,
        Reason.EXPIRED,
        Reason.WRONG_COMMUNITY,
        Reason.VISITOR_OFFLINE,
    )
}


# The code pages write (each look at the household's health status is audited), so they take
# the write lock at BEGIN: a read-only unit of work that writes late answers "database is
# locked" on SQLite whenever another writer committed since its first read (core/database.py).
@router.get("/community/{com}/code", response_class=HTMLResponse)
def code_page(
    request: Request,
    com: PublicId,
    db: WritingDbSession,
    settings: AppSettings,
    user: CurrentUser,
    kind: Kind = "household",
) -> HTMLResponse:
    return _render_code(request, db, settings, user, com, kind, "community/code_show.html")


@router.get("/community/{com}/code/qr", response_class=HTMLResponse)
def code_fragment(
    request: Request,
    com: PublicId,
    db: WritingDbSession,
    settings: AppSettings,
    user: CurrentUser,
    kind: Kind = "household",
) -> HTMLResponse:
    """The QR alone, swapped in by htmx every REFRESH_SECONDS."""
    return _render_code(request, db, settings, user, com, kind, "community/code_qr.html")


def _render_code(request, db, settings, user, com: str, kind: str, template: str) -> HTMLResponse:
    """A freshly issued code as a QR, in the full page or in the refreshing fragment."""
    issued = issue_code(db, actor=user, settings=settings, community_id=com, kind=kind)
    return render(
        request,
        template,
        issued=issued,
        kind=kind,
        qr=qr_svg(issued.code, label=i18n.gettext("Pass code")),
        room=issued.person.household.room.label,
        masked_name=mask_name(issued.person.real_name),
    )


@router.get("/community/{com}/gate", response_class=HTMLResponse)
def gate_page(
    request: Request,
    com: PublicId,
    db: DbSession,
    user: CurrentUser,
    gate_id: Annotated[str | None, Query(alias="gate", max_length=40)] = None,
) -> HTMLResponse:
    community = access.get_community(db, community_id=com)
    access.require(db, actor=user, community=community, roles=[access.GUARD])
    posts = posts_of(db, actor=user, community=community)
    if not posts:
        raise PermissionDenied("You are not posted at this gate.")
    chosen = None
    if gate_id or len(posts) == 1:
        chosen = gate_for_guard(
            db, actor=user, community=community, gate_id=gate_id or posts[0].public_id
        )
    strings: dict[str, str | dict[str, str]] = {
        key: i18n.gettext(text) for key, text in GATE_STRINGS.items()
    }
    strings["reasons"] = {key: i18n.gettext(text) for key, text in OFFLINE_REASONS.items()}
    return render(
        request,
        "community/gate_scan.html",
        community=community,
        posts=posts,
        chosen=chosen,
        strings=strings,
        directions=list(Direction),
    )


LOG_PAGE_SIZE = 50


def _local_time(value: str | None, zone: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=ZoneInfo(zone))
    except ValueError:
        raise ValidationFailed("Pick the start and end as a date and time.") from None


def _parse_filters(
    household: str | None,
    person: str | None,
    gate_id: str | None,
    day: str | None,
    review: bool,
    zone: str,
    room: str | None = None,
    name: str | None = None,
    start: str | None = None,
    end: str | None = None,
) -> passages.LogFilter:
    since = _local_time(start, zone)
    until = _local_time(end, zone)
    if day:
        try:
            begin = datetime.combine(
                datetime.strptime(day, "%Y-%m-%d").date(), time(), ZoneInfo(zone)
            )
        except ValueError:
            raise ValidationFailed("Pick a day as YYYY-MM-DD.") from None
        since = max(since, begin) if since else begin
        until = min(until, begin + timedelta(days=1)) if until else begin + timedelta(days=1)
    return passages.LogFilter(
        household=household or None,
        person=person or None,
        gate=gate_id or None,
        since=since,
        until=until,
        review_only=review,
        room=(room or "").strip() or None,
        name=(name or "").strip() or None,
    )


@router.get("/community/{com}/passages", response_class=HTMLResponse)
def log_page(
    request: Request,
    com: PublicId,
    db: DbSession,
    settings: AppSettings,
    user: CurrentUser,
    household: Opt = None,
    person: Opt = None,
    gate_id: Annotated[str | None, Query(alias="gate", max_length=40)] = None,
    day: Annotated[str | None, Query(max_length=10)] = None,
    review: bool = False,
    room: Opt = None,
    name: Opt = None,
    start: Annotated[str | None, Query(alias="from", max_length=19)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=19)] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    filters = _parse_filters(
        household, person, gate_id, day, review, settings.timezone, room, name, start, end
    )
    found = passages.search(
        db,
        actor=user,
        community_id=com,
        filters=filters,
        limit=LOG_PAGE_SIZE + 1,  # one more tells whether a next page exists
        offset=(page - 1) * LOG_PAGE_SIZE,
    )
    community = access.get_community(db, community_id=com)
    overdue = passages.overdue(db, actor=user, community_id=com)
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
    return render(
        request,
        "community/gate_log.html",
        community=community,
        passages=found[:LOG_PAGE_SIZE],
        filters=filters,
        day=day or "",
        start=start or "",
        end=end or "",
        overdue=overdue,
        query=urlencode(kept),
        export_query=_export_query(filters),
        page=page,
        has_next=len(found) > LOG_PAGE_SIZE,
        reason_text=_reason_text,
        now=clock.now(),
    )


def _export_query(filters: passages.LogFilter) -> str:
    """The page's filters as the CSV export reads them (it takes since/until, not day/from/to)."""
    values = {
        "household": filters.household,
        "person": filters.person,
        "gate": filters.gate,
        "since": filters.since.isoformat() if filters.since else None,
        "until": filters.until.isoformat() if filters.until else None,
        "review": "true" if filters.review_only else None,
        "room": filters.room,
        "name": filters.name,
    }
    return urlencode({k: v for k, v in values.items() if v})


TrendDays = Annotated[int, Query(ge=1, le=passages.TRENDS_MAX_DAYS)]


@router.get("/community/{com}/passages/trends", response_class=HTMLResponse)
def trends_page(
    request: Request,
    com: PublicId,
    db: DbSession,
    settings: AppSettings,
    user: CurrentUser,
    days: TrendDays = 14,
) -> HTMLResponse:
    """Daily passages, exits and denials over the last days: a chart and its table."""
    figures = passages.daily_figures(
        db, actor=user, community_id=com, days=days, zone=settings.timezone
    )
    community = access.get_community(db, community_id=com)
    top = max((f.passages for f in figures), default=0)
    return render(
        request,
        "community/gate_trends.html",
        community=community,
        figures=figures,
        days=days,
        top=max(top, 1),
        totals=(
            sum(f.passages for f in figures),
            sum(f.exits for f in figures),
            sum(f.denials for f in figures),
        ),
    )


@router.get("/community/{com}/passages/trends.csv")
def trends_csv(
    com: PublicId,
    db: DbSession,
    settings: AppSettings,
    user: CurrentUser,
    days: TrendDays = 14,
) -> Response:
    """The daily figures as a CSV file."""
    figures = passages.daily_figures(
        db, actor=user, community_id=com, days=days, zone=settings.timezone
    )
    return Response(
        "".join(passages.trends_csv(figures)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="passage-trends-{com}.csv"'},
    )


def _reason_text(value: str) -> str:
    try:
        return i18n.gettext(REASON_TEXT[Reason(value)])
    except (ValueError, KeyError, ValidationError):
        return value


@router.get("/community/{com}/passages/{passage}/trace", response_class=HTMLResponse)
def trace_page(
    request: Request,
    com: PublicId,
    passage: PublicId,
    db: WritingDbSession,  # the trace of personal data is audited
    user: CurrentUser,
    minutes: Annotated[int, Query(ge=1, le=passages.TRACE_MAX_MINUTES)] = 30,
) -> HTMLResponse:
    origin, near = passages.trace(
        db, actor=user, community_id=com, passage_id=passage, minutes=minutes
    )
    community = access.get_community(db, community_id=com)
    return render(
        request,
        "community/gate_trace.html",
        community=community,
        origin=origin,
        passages=near,
        minutes=minutes,
        reason_text=_reason_text,
    )
