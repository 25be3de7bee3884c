"""A small world for gate tests: two communities, each with a gate, a guard, a property manager
and a household of a verified head, a verified child and an unverified spouse."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace

from townsquare.accounts.models import Role
from townsquare.community.models import (
    Community,
    CommunityRole,
    CommunityRoleKind,
    ExitRule,
    Gate,
    GuardPost,
    Household,
    Person,
    Relation,
    Room,
)
from townsquare.core.clock import clock


@dataclass
class World:
    com: str
    gate: str
    gate2: str
    household: str
    head: str  # per_ of the verified head
    child: str  # per_ of a verified 10-year-old
    guard: object
    guard2: object  # posted at gate2 only
    manager: object
    resident: object  # the head's user
    kid_user: object


def build(
    database,
    make_user,
    *,
    name: str = "A",
    exits: int = 1,
    per_days: int = 1,
    rule: ExitRule = ExitRule.ANY_ADULT,
    max_hours: int = 4,
) -> World:
    guard = make_user(Role.GUARD, username=f"guard{name}")
    guard2 = make_user(Role.GUARD, username=f"guard{name}2")
    manager = make_user(Role.PROPERTY_MANAGER, username=f"pm{name}")
    resident = make_user(Role.RESIDENT, username=f"res{name}", display_name="张小民")
    kid_user = make_user(Role.RESIDENT, username=f"kid{name}")
    with database.unit_of_work() as db:
        community = Community(
            name=f"幸福{name}区",
            city="武汉",
            exits_per_household=exits,
            per_days=per_days,
            who_may_exit=rule,
            max_hours_outside=max_hours,
        )
        db.add(community)
        db.flush()
        gate = Gate(community_id=community.id, name="东门")
        gate2 = Gate(community_id=community.id, name="西门")
        room = Room(community_id=community.id, building="3栋", unit="2单元", number="301")
        db.add_all([gate, gate2, room])
        db.flush()
        household = Household(community_id=community.id, room_id=room.id)
        db.add(household)
        db.flush()
        now = clock.now()

        def person(real_name: str, relation: Relation, born: date, user) -> Person:
            p = Person(
                community_id=community.id,
                household_id=household.id,
                real_name=real_name,
                id_digest=f"digest-{real_name}-{name}",
                id_masked="4201**********1234",
                birth_date=born,
                relation=relation,
                user_id=user.id if user else None,
                verified_at=now if user else None,
            )
            db.add(p)
            return p

        head = person("张小民", Relation.HEAD, date(1980, 5, 1), resident)
        child = person("张豆豆", Relation.CHILD, date(now.year - 10, 1, 1), kid_user)
        person("李梅", Relation.SPOUSE, date(1982, 3, 3), None)
        db.add_all(
            [
                CommunityRole(
                    user_id=guard.id, community_id=community.id, role=CommunityRoleKind.GUARD
                ),
                CommunityRole(
                    user_id=guard2.id, community_id=community.id, role=CommunityRoleKind.GUARD
                ),
                CommunityRole(
                    user_id=manager.id,
                    community_id=community.id,
                    role=CommunityRoleKind.PROPERTY_MANAGER,
                ),
                GuardPost(user_id=guard.id, gate_id=gate.id),
                GuardPost(user_id=guard.id, gate_id=gate2.id),
                GuardPost(user_id=guard2.id, gate_id=gate2.id),
            ]
        )
        db.flush()
        ids = SimpleNamespace(
            com=community.public_id,
            gate=gate.public_id,
            gate2=gate2.public_id,
            household=household.public_id,
            head=head.public_id,
            child=child.public_id,
        )
    return World(
        **vars(ids),
        guard=guard,
        guard2=guard2,
        manager=manager,
        resident=resident,
        kid_user=kid_user,
    )
