"""Resident pages of the community pass: verify, join a household, declare, notices, the
household with its colours, and reminders to subscribe to. The code itself is the gate part's
page (`/community/{com}/code`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from townsquare.accounts.deps import CurrentUser, FormUser
from townsquare.accounts.models import User
from townsquare.community import access, communities, health, jobs, notices, residents
from townsquare.community.models import Community, Relation
from townsquare.community.status import SYMPTOM_LABELS, SYMPTOMS
from townsquare.core.errors import TownsquareError, ValidationFailed
from townsquare.core.i18n import N_
from townsquare.core.settings import Settings
from townsquare.messaging import service as messaging
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.forms import rejected, see_other
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=200)]
RELATION_LABELS = {
    "head": N_("Household head"), "spouse": N_("Spouse"), "child": N_("Child"),
    "parent": N_("Parent"), "relative": N_("Relative"), "tenant": N_("Tenant"),
    "other": N_("Other"),
}


def _home_context(db: Session, settings: Settings, user: User, community: Community) -> dict:
    person = access.resident_of(db, actor=user, community=community)
    context: dict = {"community": community, "person": person, "relations": RELATION_LABELS,
                     "requests": residents.my_requests(db, actor=user, community=community)}
    if person is None:
        return context
    today = health.local_today(settings)
    household = person.household
    statuses = health.statuses(db, community=community, persons=list(household.members),
                               today=today)
    miniapp = communities.official_pass(db, community=community)
    context.update(
        household=household, statuses=statuses,
        household_status=health.household_status(db, community=community,
                                                  household=household, today=today),
        notices=notices.notices_for(db, actor=user, community=community, limit=3),
        pending=residents.requests_for_head(db, actor=user, community=community),
        is_head=person.relation == Relation.HEAD,
        declared=health.declared_today(db, settings=settings, person=person),
        reminders=messaging.open_subscriptions(db, actor=user, miniapp=miniapp)
        if miniapp else None,
    )
    return context


def _home(request: Request, db: Session, settings: Settings, user: User, community_id: str,
          exc: TownsquareError | None = None, **extra) -> HTMLResponse:
    if exc is not None:
        db.rollback()
    community = access.get_community(db, community_id=community_id)
    context = {**_home_context(db, settings, user, community), **extra}
    if exc is not None:
        return rejected(request, db, "community/home.html", exc, **context)
    return render(request, "community/home.html", **context)


@router.get("/community/{community_id}", response_class=HTMLResponse)
def home(request: Request, community_id: str, db: DbSession, settings: AppSettings,
         user: CurrentUser) -> HTMLResponse:
    return _home(request, db, settings, user, community_id)


@router.post("/community/{community_id}/verify")
def verify(request: Request, community_id: str, db: DbSession, settings: AppSettings,
           user: FormUser, real_name: Text = "", id_number: Text = "") -> Response:
    community = access.get_community(db, community_id=community_id)
    try:
        residents.verify(db, settings=settings, actor=user, community=community,
                         real_name=real_name, id_number=id_number)
    except TownsquareError as exc:
        return _home(request, db, settings, user, community_id, exc, real_name=real_name)
    return see_other(f"/community/{community_id}")


@router.post("/community/{community_id}/join")
def join(request: Request, community_id: str, db: DbSession, settings: AppSettings,
         user: FormUser, room: Text = "", real_name: Text = "", id_number: Text = "",
         relation: Text = "tenant") -> Response:
    community = access.get_community(db, community_id=community_id)
    try:
        residents.request_membership(db, settings=settings, actor=user, community=community,
                                     room=room, real_name=real_name, id_number=id_number,
                                     relation=relation)
    except TownsquareError as exc:
        return _home(request, db, settings, user, community_id, exc, room=room,
                     join_name=real_name)
    return see_other(f"/community/{community_id}?requested=1")


@router.post("/community/{community_id}/requests/{request_id}")
def decide(request: Request, community_id: str, request_id: str, db: DbSession,
           settings: AppSettings, user: FormUser, decision: Text = "") -> Response:
    community = access.get_community(db, community_id=community_id)
    try:
        residents.decide_request(db, actor=user, community=community, request_id=request_id,
                                 approve=decision == "approve")
    except TownsquareError as exc:
        return _home(request, db, settings, user, community_id, exc)
    return see_other(f"/community/{community_id}")


@router.post("/community/{community_id}/reminders")
def subscribe_reminders(request: Request, community_id: str, db: DbSession,
                        settings: AppSettings, user: FormUser) -> Response:
    community = access.get_community(db, community_id=community_id)
    miniapp = communities.official_pass(db, community=community)
    try:
        if miniapp is None:
            raise ValidationFailed("Reminders are not available for this community.")
        access.require_resident(db, actor=user, community=community)
        jobs.ensure_templates(db, miniapp=miniapp)
        messaging.subscribe(db, actor=user, miniapp_id=miniapp.public_id,
                            keys=list(jobs.TEMPLATES))
    except TownsquareError as exc:
        return _home(request, db, settings, user, community_id, exc)
    return see_other(f"/community/{community_id}?subscribed=1")


def _declare_page(request: Request, db: Session, settings: Settings, user: User,
                  community: Community, exc: TownsquareError | None = None) -> HTMLResponse:
    person, household = residents.my_household(db, actor=user, community=community)
    members = [m for m in household.members
               if m.id == person.id or person.relation == Relation.HEAD or m.user_id is None]
    context: dict[str, Any] = {"community": community, "person": person, "members": members,
                               "symptoms": [(s, SYMPTOM_LABELS[s]) for s in SYMPTOMS],
                               "today": health.local_today(settings)}
    if exc is not None:
        return rejected(request, db, "community/declare.html", exc, **context)
    return render(request, "community/declare.html", **context)


@router.get("/community/{community_id}/declare", response_class=HTMLResponse)
def declare_form(request: Request, community_id: str, db: DbSession, settings: AppSettings,
                 user: CurrentUser) -> HTMLResponse:
    community = access.get_community(db, community_id=community_id)
    return _declare_page(request, db, settings, user, community)


@router.post("/community/{community_id}/declare")
async def declare(request: Request, community_id: str, db: DbSession, settings: AppSettings,
                  user: FormUser) -> Response:
    community = access.get_community(db, community_id=community_id)
    form = await request.form()
    try:
        target = residents.household_member(db, actor=user, community=community,
                                            person_id=str(form.get("person", ""))[:40])
        try:
            temperature = float(str(form.get("temperature_c", ""))[:8])
        except ValueError:
            raise ValidationFailed("A body temperature is 34.0 to 43.0 °C.") from None
        health.declare(db, settings=settings, actor=user, community=community, person=target,
                       temperature_c=temperature,
                       symptoms=[str(s)[:32] for s in form.getlist("symptoms")][:10],
                       risk_travel=form.get("risk_travel") == "on",
                       case_contact=form.get("case_contact") == "on")
    except TownsquareError as exc:
        db.rollback()
        return _declare_page(request, db, settings, user, community, exc)
    return see_other(f"/community/{community_id}?declared=1")


@router.get("/community/{community_id}/notices", response_class=HTMLResponse)
def notice_list(request: Request, community_id: str, db: DbSession, user: CurrentUser
                ) -> HTMLResponse:
    community = access.get_community(db, community_id=community_id)
    return render(request, "community/notices.html", community=community,
                  notices=notices.notices_for(db, actor=user, community=community))
