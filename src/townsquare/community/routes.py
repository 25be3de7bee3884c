"""Community pass JSON API: residents verify, declare and read their household's status and
notices; staff read the dashboard figures. (The gate's API is in gate/routes.py.)"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from townsquare.accounts.deps import CurrentUser
from townsquare.community import access, communities, dashboard, health, notices, residents
from townsquare.community.dashboard import Figures
from townsquare.community.schemas import (
    DeclarationIn,
    FiguresOut,
    HouseholdOut,
    MemberOut,
    NoticeOut,
    PassMiniAppIn,
    PassMiniAppOut,
    StatusOut,
    VerifyIn,
)
from townsquare.community.status import Status
from townsquare.core import i18n
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.openapi import PublicId, Responses, error

router = APIRouter(prefix="/api/community", tags=["community pass"])


RESIDENT_ERRORS: Responses = {
    401: error("Not logged in"), 403: error("Not a verified resident here"),
    404: error("No such community"), 422: error("Invalid input")}
STAFF_ERRORS: Responses = {
    401: error("Not logged in"), 403: error("No staff role in this community"),
    404: error("No such community")}


def status_out(status: Status) -> StatusOut:
    return StatusOut(colour=status.colour.value,
                     reasons=[i18n.gettext(r) for r in status.reasons])


def _household(db, settings, user, community) -> HouseholdOut:
    person, household = residents.my_household(db, actor=user, community=community)
    today = health.local_today(settings)
    statuses = health.statuses(db, community=community, persons=list(household.members),
                               today=today)
    return HouseholdOut(
        id=household.public_id, room=household.room.label, me=person.public_id,
        status=status_out(health.household_status(db, community=community,
                                                  household=household, today=today)),
        members=[MemberOut(id=m.public_id, name=m.real_name, relation=m.relation.value,
                           verified=m.user_id is not None, status=status_out(statuses[m.id]))
                 for m in household.members],
        declared_today=health.declared_today(db, settings=settings, person=person),
    )


@router.post("/{com}/verify", response_model=HouseholdOut,
             responses={**RESIDENT_ERRORS, 409: error("Already verified by someone else")})
def verify(com: PublicId, body: VerifyIn, db: DbSession, settings: AppSettings, user: CurrentUser
           ) -> HouseholdOut:
    """Verify as a registered resident (real name and ID number must match the register)."""
    community = access.get_community(db, community_id=com)
    residents.verify(db, settings=settings, actor=user, community=community,
                     real_name=body.real_name, id_number=body.id_number)
    return _household(db, settings, user, community)


@router.get("/{com}/household", response_model=HouseholdOut, responses=RESIDENT_ERRORS)
def household(com: PublicId, db: DbSession, settings: AppSettings, user: CurrentUser
              ) -> HouseholdOut:
    """Your household, its members and their status colours."""
    community = access.get_community(db, community_id=com)
    return _household(db, settings, user, community)


@router.post("/{com}/declarations", response_model=HouseholdOut, responses=RESIDENT_ERRORS)
def declare(com: PublicId, body: DeclarationIn, db: DbSession, settings: AppSettings,
            user: CurrentUser) -> HouseholdOut:
    """Today's health declaration for you (or, as head, a member); declaring again updates."""
    community = access.get_community(db, community_id=com)
    me = access.require_resident(db, actor=user, community=community)
    target = (residents.household_member(db, actor=user, community=community,
                                         person_id=body.person) if body.person else me)
    health.declare(db, settings=settings, actor=user, community=community, person=target,
                   temperature_c=body.temperature_c, symptoms=body.symptoms,
                   risk_travel=body.risk_travel, case_contact=body.case_contact)
    return _household(db, settings, user, community)


@router.get("/{com}/notices", response_model=list[NoticeOut], responses=RESIDENT_ERRORS)
def notice_list(com: PublicId, db: DbSession, user: CurrentUser) -> list[NoticeOut]:
    """The community's notices, newest first (its residents and staff)."""
    community = access.get_community(db, community_id=com)
    return [NoticeOut(id=n.public_id, title=n.title, body=n.body, published_at=n.published_at)
            for n in notices.notices_for(db, actor=user, community=community)]


def figures_out(f: Figures) -> FiguresOut:
    return FiguresOut(residents=f.residents, verified=f.verified, households=f.households,
                      quarantined=f.quarantined, fever=f.fever, declared_today=f.declared_today,
                      completion_percent=f.completion, exits_by_hour=f.exits_by_hour,
                      entries_by_hour=f.entries_by_hour)


@router.get("/{com}/dashboard", response_model=FiguresOut, responses=STAFF_ERRORS)
def figures(com: PublicId, db: DbSession, settings: AppSettings, user: CurrentUser) -> FiguresOut:
    """Today's figures (property manager, committee)."""
    community = access.get_community(db, community_id=com)
    return figures_out(dashboard.figures(db, settings=settings, actor=user,
                                         community=community))



PASS_ERRORS: dict[int | str, dict[str, Any]] = {
    **STAFF_ERRORS, 409: error("Already another community's pass"),
    422: error("Not a listed pass mini-app serving this community"),
}


@router.put("/{com}/pass-miniapp", response_model=PassMiniAppOut, responses=PASS_ERRORS)
def choose_pass(com: PublicId, body: PassMiniAppIn, db: DbSession,
                user: CurrentUser) -> PassMiniAppOut:
    """The property manager (or an operator) names the community's one official pass
    mini-app: only it gets the residents' reminder subscriptions."""
    community = access.get_community(db, community_id=com)
    chosen = communities.choose_pass_miniapp(db, actor=user, community=community,
                                             miniapp_id=body.miniapp)
    return PassMiniAppOut(miniapp=chosen.public_id if chosen else None)
