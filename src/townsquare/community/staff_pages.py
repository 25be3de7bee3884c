"""Pages for the property manager and the committee: the console with the dashboard, setup
(gates, rooms, guards, exit policy), register import, residents and their audited health
records, flags and notices; and the committee's overview of several communities."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal, overload

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from townsquare.accounts.deps import CurrentUser, FormUser
from townsquare.accounts.models import User
from townsquare.community import (
    access,
    communities,
    dashboard,
    health,
    importer,
    notices,
    residents,
)
from townsquare.community.gate import visitors
from townsquare.community.models import Community, CommunityRoleKind, ExitRule
from townsquare.community.resident_pages import RELATION_LABELS
from townsquare.core.errors import TownsquareError, ValidationFailed
from townsquare.core.settings import Settings
from townsquare.web.deps import AppSettings, DbSession, WritingDbSession
from townsquare.web.forms import field_problems, rejected, see_other, whole_number
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=4000)]


def _staff_community(db: Session, user: User, community_id: str) -> Community:
    community = access.get_community(db, community_id=community_id)
    access.require(db, actor=user, community=community, roles=access.HEALTH_ROLES)
    return community


def _is_pm(db: Session, user: User, community: Community) -> bool:
    return access.has_role(db, actor=user, community=community, roles=[access.PM])


@router.get("/community/staff", response_class=HTMLResponse)
def staff_home(request: Request, db: DbSession, user: CurrentUser) -> HTMLResponse:
    roles = {
        kind: access.communities_for(db, actor=user, roles=[kind])
        for kind in (CommunityRoleKind.PROPERTY_MANAGER, CommunityRoleKind.COMMITTEE,
                     CommunityRoleKind.GUARD, CommunityRoleKind.TECHNICIAN)
    }
    return render(request, "community/staff.html", roles=roles)


@router.get("/community/committee", response_class=HTMLResponse)
def committee(request: Request, db: DbSession, settings: AppSettings, user: CurrentUser
              ) -> HTMLResponse:
    rows, total = dashboard.committee_overview(db, settings=settings, actor=user)
    return render(request, "community/committee.html", rows=rows, total=total)


def _console(request: Request, db: Session, settings: Settings, user: User,
             community: Community, page: str, exc: TownsquareError | None = None,
             **extra) -> HTMLResponse:
    if exc is not None:
        db.rollback()
    context = {"community": community, "page": page, "is_pm": _is_pm(db, user, community),
               "relations": RELATION_LABELS, **extra}
    today = health.local_today(settings)
    if page == "dashboard":
        context["figures"] = dashboard.figures(db, settings=settings, actor=user,
                                               community=community)
        context["verify_alerts"] = residents.verify_alerts(db, actor=user, community=community)
    elif page == "setup":
        context.update(rooms=communities.rooms_of(db, actor=user, community=community),
                       rules=[r.value for r in ExitRule],
                       staff=communities.staff(db, actor=user, community=community)
                       if context["is_pm"] else [],
                       official=communities.official_pass(db, community=community),
                       candidates=communities.pass_candidates(db, community=community)
                       if context["is_pm"] else [])
        context["visitor_rules"] = visitors.rules_of(db, community)  # issue 18: visitors
    elif page == "residents":
        households = communities.households_of(db, actor=user, community=community)
        persons = [m for h in households for m in h.members]
        context.update(households=households, statuses=health.statuses(
            db, community=community, persons=persons, today=today),
            flags=health.active_flags(db, community=community, today=today),
            regions=health.risk_regions(db, community=community), today=today)
    elif page == "notices":
        context["notices"] = notices.notices_for(db, actor=user, community=community)
    template = f"community/manage_{page}.html"
    if exc is not None:
        return rejected(request, db, template, exc, **context)
    return render(request, template, **context)


@router.get("/community/{community_id}/manage", response_class=HTMLResponse)
def manage(request: Request, community_id: str, db: DbSession, settings: AppSettings,
           user: CurrentUser, page: str = "dashboard") -> HTMLResponse:
    community = _staff_community(db, user, community_id)
    if page not in ("dashboard", "setup", "residents", "notices", "import"):
        page = "dashboard"
    return _console(request, db, settings, user, community, page)


@router.post("/community/{community_id}/manage/setup")
def setup_post(request: Request, community_id: str, db: DbSession, settings: AppSettings,
               user: FormUser, action: Text = "", name: Text = "", building: Text = "",
               unit: Text = "", numbers: Text = "", gate: Text = "", username: Text = "",
               exits_per_household: Text = "1", per_days: Text = "1",
               max_hours_outside: Text = "4", who_may_exit: Text = "any_adult",
               yellow_days: Text = "7", red_days: Text = "14") -> Response:
    community = _staff_community(db, user, community_id)
    typed = {"exits_per_household": exits_per_household, "per_days": per_days,
             "max_hours_outside": max_hours_outside, "who_may_exit": who_may_exit,
             "yellow_days": yellow_days, "red_days": red_days}
    try:
        if action == "gate":
            communities.add_gate(db, actor=user, community=community, name=name)
        elif action == "rooms":
            communities.add_rooms(
                db, actor=user, community=community, building=building, unit=unit,
                numbers=numbers.replace("，", ",").replace(" ", ",").split(","))
        elif action == "guard":
            communities.assign_guard(db, actor=user, community=community, gate_id=gate,
                                     username=username)
        elif action == "pass":
            communities.choose_pass_miniapp(db, actor=user, community=community,
                                            miniapp_id=name or None)
        elif action == "policy":
            number = {name: whole_number(value, field=name)
                      for name, value in typed.items() if name != "who_may_exit"}
            communities.set_policy(
                db, actor=user, community=community, who_may_exit=who_may_exit,
                exits_per_household=number["exits_per_household"], per_days=number["per_days"],
                max_hours_outside=number["max_hours_outside"],
                yellow_days=number["yellow_days"], red_days=number["red_days"])
        else:
            raise ValidationFailed("Unknown action.")
    except TownsquareError as exc:
        # the policy form comes back with what was typed and the message beside its field
        policy = {"policy_form": typed} if action == "policy" else {}
        return _console(request, db, settings, user, community, "setup", exc,
                        field_errors=field_problems(exc), **policy)
    return see_other(f"/community/{community_id}/manage?page=setup")


@router.post("/community/{community_id}/manage/import", response_class=HTMLResponse)
async def import_post(request: Request, community_id: str, db: DbSession,
                      settings: AppSettings, user: FormUser,
                      file: Annotated[UploadFile, File()]) -> Response:
    community = _staff_community(db, user, community_id)
    data = await file.read(importer.MAX_BYTES + 1)
    try:
        report = importer.import_residents(db, settings=settings, actor=user,
                                           community=community, data=data)
    except TownsquareError as exc:
        return _console(request, db, settings, user, community, "import", exc,
                        problems=exc.details if isinstance(exc.details, list) else [])
    return _console(request, db, settings, user, community, "import", report=report)


@router.get("/community/{community_id}/manage/residents/{person_id}",
            response_class=HTMLResponse)
def person_record(request: Request, community_id: str, person_id: str, db: WritingDbSession,
                  settings: AppSettings, user: CurrentUser) -> HTMLResponse:
    # a writing unit of work although a GET: each look at a health record is audited, and on
    # SQLite a write in a read-only one fails when another writer committed since its first read
    community = _staff_community(db, user, community_id)
    record = health.health_record(db, settings=settings, actor=user, community=community,
                                  person_id=person_id)
    views = (health.record_views(db, actor=user, community=community, person_id=person_id)
             if _is_pm(db, user, community) else [])
    return render(request, "community/manage_person.html", community=community, record=record,
                  views=views, relations=RELATION_LABELS,
                  regions=health.risk_regions(db, community=community),
                  today=health.local_today(settings))


@overload
def _date(value: str, *, field: str, required: Literal[True] = True) -> date: ...


@overload
def _date(value: str, *, field: str, required: bool) -> date | None: ...


def _date(value: str, *, field: str, required: bool = True) -> date | None:
    if not value and not required:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise ValidationFailed("Enter a date like 2026-03-01.", field=field) from None


@router.post("/community/{community_id}/manage/flags")
def flag_post(request: Request, community_id: str, db: DbSession, settings: AppSettings,
              user: FormUser, person: Text = "", kind: Text = "", start: Text = "",
              end: Text = "", region: Text = "", note: Text = "", action: Text = "set",
              flag: Text = "", back: Text = "") -> Response:
    community = _staff_community(db, user, community_id)
    try:
        if action == "lift":
            health.lift_flag(db, actor=user, community=community, flag_id=flag)
        elif action == "region":
            health.add_risk_region(db, actor=user, community=community, name=region)
        else:
            health.set_flag(db, actor=user, community=community, person_id=person, kind=kind,
                            start=_date(start, field="start"),
                            end=_date(end, field="end", required=False), region=region,
                            note=note)
    except TownsquareError as exc:
        return _console(request, db, settings, user, community, "residents", exc)
    target = f"/community/{community_id}/manage?page=residents"
    if back == "person" and person:
        target = f"/community/{community_id}/manage/residents/{person[:40]}"
    return see_other(target)


@router.post("/community/{community_id}/manage/notices")
def notice_post(request: Request, community_id: str, db: DbSession, settings: AppSettings,
                user: FormUser, title: Text = "", body: Text = "", action: Text = "publish",
                notice: Text = "") -> Response:
    community = _staff_community(db, user, community_id)
    try:
        if action == "withdraw":
            notices.withdraw(db, actor=user, community=community, notice_id=notice)
        else:
            notices.publish(db, actor=user, community=community, title=title, body=body)
    except TownsquareError as exc:
        return _console(request, db, settings, user, community, "notices", exc, title=title,
                        body=body)
    return see_other(f"/community/{community_id}/manage?page=notices")
