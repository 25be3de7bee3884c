"""Who may do what in a community: roles are scoped per community, so a property manager,
committee member or guard sees only the communities they hold a role in.

`actor=None` is the system (CLI, jobs) and passes every check. Platform operators create
communities and assign their staff, but hold no health-data rights unless given a role.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from townsquare.accounts.models import Role, User
from townsquare.community.models import Community, CommunityRole, CommunityRoleKind, Person
from townsquare.core.errors import NotFound, PermissionDenied
from townsquare.core.text import well_formed

PM = CommunityRoleKind.PROPERTY_MANAGER
COMMITTEE = CommunityRoleKind.COMMITTEE
GUARD = CommunityRoleKind.GUARD
HEALTH_ROLES = (PM, COMMITTEE)  # who may see health records


def get_community(db: Session, *, community_id: str, gates: bool = True) -> Community:
    """The community with this public id (communities are not secret; their data is).
    `gates=False` leaves its gates to be loaded when asked for (a gate scan never asks)."""
    found = None
    if well_formed(community_id, "com"):
        stmt = select(Community).where(Community.public_id == community_id)
        if not gates:
            stmt = stmt.options(lazyload(Community.gates))
        found = db.scalar(stmt)
    if found is None:
        raise NotFound("No such community.")
    return found


def roles_in(db: Session, *, actor: User, community: Community) -> set[CommunityRoleKind]:
    stmt = select(CommunityRole.role).where(
        CommunityRole.user_id == actor.id, CommunityRole.community_id == community.id
    )
    return set(db.scalars(stmt))


def has_role(
    db: Session, *, actor: User | None, community: Community, roles: Iterable[CommunityRoleKind]
) -> bool:
    if actor is None:
        return True
    return bool(roles_in(db, actor=actor, community=community) & set(roles))


def require(
    db: Session, *, actor: User | None, community: Community, roles: Iterable[CommunityRoleKind]
) -> None:
    """PermissionDenied unless the actor holds one of `roles` in this community."""
    if not has_role(db, actor=actor, community=community, roles=roles):
        raise PermissionDenied("You have no role in this community that allows this.")


def require_operator(actor: User | None) -> None:
    if actor is not None and not actor.has_role(Role.OPERATOR):
        raise PermissionDenied("Only a platform operator may do this.")


def communities_for(
    db: Session, *, actor: User, roles: Iterable[CommunityRoleKind]
) -> list[Community]:
    """The communities where the actor holds one of `roles`, by name."""
    # IN (subquery) rather than DISTINCT: PostgreSQL cannot compare the JSON rules column.
    held = select(CommunityRole.community_id).where(
        CommunityRole.user_id == actor.id, CommunityRole.role.in_(list(roles))
    )
    stmt = select(Community).where(Community.id.in_(held)).order_by(Community.name, Community.id)
    return list(db.scalars(stmt))


def resident_of(db: Session, *, actor: User, community: Community) -> Person | None:
    """The actor's verified person record in this community, if any."""
    stmt = select(Person).where(Person.community_id == community.id, Person.user_id == actor.id)
    return db.scalar(stmt)


def require_resident(db: Session, *, actor: User, community: Community) -> Person:
    person = resident_of(db, actor=actor, community=community)
    if person is None:
        raise PermissionDenied("Verify as a resident of this community first.")
    return person


def person_in(db: Session, *, community: Community, person_id: str) -> Person:
    """A person of this community (NotFound for anyone else's, so ids leak nothing)."""
    found = None
    if well_formed(person_id, "per"):
        found = db.scalar(
            select(Person).where(
                Person.public_id == person_id, Person.community_id == community.id
            )
        )
    if found is None:
        raise NotFound("No such resident in this community.")
    return found
