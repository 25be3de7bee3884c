"""Setting up a community: the operator creates it and assigns its staff; the property manager
adds gates, rooms and households, assigns guards to gates and sets the exit policy."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts import service as accounts
from townsquare.accounts.models import Role, User
from townsquare.community import access
from townsquare.community.models import (
    Community,
    CommunityRole,
    CommunityRoleKind,
    ExitRule,
    Gate,
    GuardPost,
    Household,
    Room,
)
from townsquare.core import audit
from townsquare.core.errors import Conflict, NotFound, ValidationFailed
from townsquare.core.text import CITY_MAX, clean_name, clean_text, well_formed
from townsquare.miniapps.models import (
    MiniApp,
    MiniAppKind,
    MiniAppVersion,
    Template,
    VersionState,
)

PASS_RUNTIME = "community_pass"
_ROOM_PART = re.compile(r"^[0-9A-Za-z\u4e00-\u9fff]{1,16}$")
# Which platform role a community role also needs (so the shell shows the right consoles).
_PLATFORM_ROLE = {
    CommunityRoleKind.GUARD: Role.GUARD,
    CommunityRoleKind.PROPERTY_MANAGER: Role.PROPERTY_MANAGER,
    CommunityRoleKind.COMMITTEE: Role.COMMITTEE,
    CommunityRoleKind.TECHNICIAN: Role.TECHNICIAN,
}


def _policy(exits_per_household: int, per_days: int, max_hours_outside: int, who: str) -> None:
    if not 0 <= exits_per_household <= 20:
        raise ValidationFailed(
            "Exits per household are 0 to {n}.", n=20, field="exits_per_household"
        )
    if not 1 <= per_days <= 30:
        raise ValidationFailed("The quota period is 1 to {n} days.", n=30, field="per_days")
    if not 1 <= max_hours_outside <= 72:
        raise ValidationFailed(
            "The longest time outside is 1 to {n} hours.", n=72, field="max_hours_outside"
        )
    if who not in {rule.value for rule in ExitRule}:
        raise ValidationFailed("Unknown exit rule.", field="who_may_exit")


def create_community(
    db: Session,
    *,
    actor: User | None,
    name: str,
    city: str,
    address: str = "",
    exits_per_household: int = 1,
    per_days: int = 1,
    max_hours_outside: int = 4,
    who_may_exit: str = "any_adult",
) -> Community:
    """A new community (platform operator or CLI)."""
    access.require_operator(actor)
    name = clean_name(name)
    city = clean_name(city, field="city", max_length=CITY_MAX)
    address = clean_text(
        address, field="address", message="An address is at most {n} characters.", max_length=200
    )
    _policy(exits_per_household, per_days, max_hours_outside, who_may_exit)
    community = Community(
        name=name, city=city, address=address, exits_per_household=exits_per_household,
        per_days=per_days, max_hours_outside=max_hours_outside,
        who_may_exit=ExitRule(who_may_exit),
    )
    db.add(community)
    db.flush()
    audit.record(
        db, actor_id=actor.id if actor else None, action="community.create",
        subject_type="community", subject_id=community.public_id, name=name,
    )
    return community


def set_policy(
    db: Session,
    *,
    actor: User | None,
    community: Community,
    exits_per_household: int,
    per_days: int,
    max_hours_outside: int,
    who_may_exit: str,
    yellow_days: int | None = None,
    red_days: int | None = None,
) -> Community:
    """Change the exit policy and the status-colour periods (property manager)."""
    access.require(db, actor=actor, community=community, roles=[access.PM])
    _policy(exits_per_household, per_days, max_hours_outside, who_may_exit)
    rules = dict(community.status_rules or {})
    for key, value in (("yellow_days", yellow_days), ("red_days", red_days)):
        if value is not None:
            if not 1 <= value <= 60:
                raise ValidationFailed("A status period is 1 to {n} days.", n=60, field=key)
            rules[key] = value
    community.exits_per_household = exits_per_household
    community.per_days = per_days
    community.max_hours_outside = max_hours_outside
    community.who_may_exit = ExitRule(who_may_exit)
    community.status_rules = rules
    audit.record(
        db, actor_id=actor.id if actor else None, action="community.policy",
        subject_type="community", subject_id=community.public_id,
        exits=exits_per_household, per_days=per_days, hours=max_hours_outside, who=who_may_exit,
    )
    db.flush()
    return community


def _user(db: Session, username: str) -> User:
    found = accounts.user_by_username(db, username=(username or "").strip()[:64])
    if found is None:
        raise NotFound("No such user.")
    return found


def grant_role(
    db: Session, *, actor: User | None, community: Community, username: str, role: str
) -> CommunityRole:
    """Give a user a role in a community: the operator assigns property managers and committee
    members; a property manager assigns guards and technicians."""
    try:
        kind = CommunityRoleKind(role)
    except ValueError:
        raise ValidationFailed("Unknown community role.") from None
    if kind in (CommunityRoleKind.GUARD, CommunityRoleKind.TECHNICIAN):
        if not (actor is None or actor.has_role(Role.OPERATOR)):
            access.require(db, actor=actor, community=community, roles=[access.PM])
    elif kind == CommunityRoleKind.HOUSEHOLD_HEAD:
        raise ValidationFailed("Household heads are recognised when they verify.")
    else:
        access.require_operator(actor)
    user = _user(db, username)
    existing = db.scalar(select(CommunityRole).where(
        CommunityRole.user_id == user.id, CommunityRole.community_id == community.id,
        CommunityRole.role == kind,
    ))
    if existing is not None:
        return existing
    grant = CommunityRole(user_id=user.id, community_id=community.id, role=kind)
    db.add(grant)
    if kind in _PLATFORM_ROLE and not user.has_role(_PLATFORM_ROLE[kind]):
        accounts.grant_role(db, actor=None, user=user, role=_PLATFORM_ROLE[kind])
    audit.record(
        db, actor_id=actor.id if actor else None, action="community.role.grant",
        subject_type="community", subject_id=community.public_id,
        user=user.public_id, role=kind.value,
    )
    db.flush()
    return grant


def staff(db: Session, *, actor: User | None, community: Community) -> list[tuple[User, str]]:
    """Everyone holding a staff role here, with the role (property manager or operator)."""
    if not (actor is None or actor.has_role(Role.OPERATOR)):
        access.require(db, actor=actor, community=community, roles=[access.PM])
    stmt = (
        select(User, CommunityRole.role)
        .join(CommunityRole, CommunityRole.user_id == User.id)
        .where(
            CommunityRole.community_id == community.id,
            CommunityRole.role != CommunityRoleKind.HOUSEHOLD_HEAD,
        )
        .order_by(CommunityRole.role, User.username)
    )
    return [(user, role.value) for user, role in db.execute(stmt)]


def add_gate(db: Session, *, actor: User | None, community: Community, name: str) -> Gate:
    """A new gate (property manager)."""
    access.require(db, actor=actor, community=community, roles=[access.PM])
    name = clean_name(name)
    if db.scalar(select(Gate).where(Gate.community_id == community.id, Gate.name == name)):
        raise Conflict("There is already a gate called {name}.", name=name)
    gate = Gate(community_id=community.id, name=name)
    db.add(gate)
    db.flush()
    return gate


def get_gate(db: Session, *, community: Community, gate_id: str) -> Gate:
    found = None
    if well_formed(gate_id, "gat"):
        found = db.scalar(
            select(Gate).where(Gate.public_id == gate_id, Gate.community_id == community.id)
        )
    if found is None:
        raise NotFound("No such gate.")
    return found


def assign_guard(
    db: Session, *, actor: User | None, community: Community, gate_id: str, username: str
) -> GuardPost:
    """Post a guard at a gate (makes the user a guard of the community if not yet)."""
    access.require(db, actor=actor, community=community, roles=[access.PM])
    gate = get_gate(db, community=community, gate_id=gate_id)
    grant_role(db, actor=actor, community=community, username=username, role="guard")
    user = _user(db, username)
    post = db.scalar(
        select(GuardPost).where(GuardPost.user_id == user.id, GuardPost.gate_id == gate.id)
    )
    if post is None:
        post = GuardPost(user_id=user.id, gate_id=gate.id)
        db.add(post)
        db.flush()
    return post


def clean_room_part(value: str, *, field: str, required: bool = True) -> str:
    value = (value or "").strip()
    if not value and not required:
        return ""
    if not _ROOM_PART.fullmatch(value):
        raise ValidationFailed(
            "A building, unit or room number is 1 to 16 letters or digits.", field=field
        )
    return value


def find_room(db: Session, *, community: Community, building: str, unit: str, number: str
              ) -> Room | None:
    return db.scalar(select(Room).where(
        Room.community_id == community.id, Room.building == building, Room.unit == unit,
        Room.number == number,
    ))


def add_rooms(
    db: Session,
    *,
    actor: User | None,
    community: Community,
    building: str,
    unit: str,
    numbers: list[str],
) -> list[Room]:
    """Rooms in one building and unit, each with its (empty) household; existing ones are kept."""
    access.require(db, actor=actor, community=community, roles=[access.PM])
    building = clean_room_part(building, field="building")
    unit = clean_room_part(unit, field="unit", required=False)
    cleaned = [clean_room_part(n, field="numbers") for n in numbers if n.strip()]
    if not 1 <= len(cleaned) <= 500:
        raise ValidationFailed("Add 1 to {n} rooms at a time.", n=500)
    rooms = []
    for number in dict.fromkeys(cleaned):
        room = find_room(db, community=community, building=building, unit=unit, number=number)
        if room is None:
            room = Room(community_id=community.id, building=building, unit=unit, number=number)
            db.add(room)
            db.flush()
            db.add(Household(community_id=community.id, room_id=room.id))
        rooms.append(room)
    db.flush()
    return rooms


def rooms_of(db: Session, *, actor: User | None, community: Community) -> list[Room]:
    access.require(db, actor=actor, community=community, roles=access.HEALTH_ROLES)
    stmt = select(Room).where(Room.community_id == community.id)
    return sorted(db.scalars(stmt), key=_room_sort_key)


def households_of(db: Session, *, actor: User | None, community: Community) -> list[Household]:
    """Every household with its members (property manager, committee)."""
    access.require(db, actor=actor, community=community, roles=access.HEALTH_ROLES)
    stmt = select(Household).where(Household.community_id == community.id)
    return sorted(db.scalars(stmt), key=lambda h: _room_sort_key(h.room))


def _room_sort_key(room: Room) -> tuple:
    def natural(part: str) -> tuple:
        return (0, int(part), "") if part.isdigit() else (1, 0, part)

    return (natural(room.building), natural(room.unit), natural(room.number))


# --- the community's official pass mini-app -------------------------------------------------

def is_pass_for(db: Session, *, miniapp: MiniApp, community: Community) -> bool:
    """A listed community-pass mini-app whose published version serves this community."""
    if not (miniapp.listed and miniapp.kind == MiniAppKind.TEMPLATE and miniapp.template
            and miniapp.template.runtime == PASS_RUNTIME):
        return False
    configs = db.scalars(select(MiniAppVersion.config).where(
        MiniAppVersion.miniapp_id == miniapp.id, MiniAppVersion.state == VersionState.PUBLISHED))
    return any((config or {}).get("community") == community.public_id for config in configs)


def official_pass(db: Session, *, community: Community) -> MiniApp | None:
    """The community's official pass mini-app (chosen by its property manager or an operator),
    if it is still listed and still serves the community; nothing else speaks for it."""
    if community.pass_miniapp_id is None:
        return None
    miniapp = db.get(MiniApp, community.pass_miniapp_id)
    if miniapp is None or not is_pass_for(db, miniapp=miniapp, community=community):
        return None
    return miniapp


def pass_candidates(db: Session, *, community: Community) -> list[MiniApp]:
    """Listed community-pass mini-apps whose published version names this community: one query
    that asks the version's settings for the community (not every template mini-app in turn)."""
    stmt = (
        select(MiniApp).join(MiniAppVersion, MiniAppVersion.miniapp_id == MiniApp.id)
        .join(Template, Template.id == MiniApp.template_id)
        .where(MiniApp.kind == MiniAppKind.TEMPLATE, MiniApp.listed.is_(True),
               Template.runtime == PASS_RUNTIME, MiniAppVersion.state == VersionState.PUBLISHED,
               MiniAppVersion.config["community"].as_string() == community.public_id)
        .order_by(MiniApp.id)
    )
    return list(dict.fromkeys(db.scalars(stmt)))


def choose_pass_miniapp(
    db: Session, *, actor: User | None, community: Community, miniapp_id: str | None
) -> MiniApp | None:
    """The community's property manager (or an operator) names its one official pass mini-app
    (or none). It must be a listed community-pass mini-app serving this community and not
    already another community's."""
    if actor is None or not actor.has_role(Role.OPERATOR):
        access.require(db, actor=actor, community=community, roles=(access.PM,))
    chosen = None
    if miniapp_id:
        if well_formed(miniapp_id, "ma"):
            chosen = db.scalar(select(MiniApp).where(MiniApp.public_id == miniapp_id))
        if chosen is None or not is_pass_for(db, miniapp=chosen, community=community):
            raise ValidationFailed(
                "Only a listed community-pass mini-app serving this community can be its pass.",
                field="miniapp")
        other = db.scalar(select(Community.public_id).where(
            Community.pass_miniapp_id == chosen.id, Community.id != community.id))
        if other is not None:
            raise Conflict("This mini-app is already another community's official pass.")
    community.pass_miniapp_id = chosen.id if chosen else None
    db.flush()
    audit.record(
        db, actor_id=actor.id if actor else None, action="community.pass_miniapp",
        subject_type="community", subject_id=community.public_id,
        miniapp=chosen.public_id if chosen else None,
    )
    return chosen
