"""A community set up through the services: an operator, a property manager and a committee
member (who also oversees a second community), rooms 1-1-101..102 and 2-1-101, and a register
of three people imported from CSV."""

from __future__ import annotations

from dataclasses import dataclass

from townsquare.accounts.identity import id_check_char
from townsquare.accounts.models import Role, User
from townsquare.community import access, communities, importer
from townsquare.core.database import Database
from townsquare.core.settings import Settings


def make_id(first17: str) -> str:
    return first17 + id_check_char(first17)


HEAD_ID = make_id("42010619800101001")
SPOUSE_ID = make_id("42010619820202002")
CHILD_ID = make_id("42010620150303003")  # a child: born 2015
OTHER_ID = make_id("42010619700404004")
TENANT_ID = make_id("42010619900505005")

REGISTER = (
    "name,id_number,phone,room,relation\n"
    f"张三,{HEAD_ID},13800000001,1-1-101,head\n"
    f"李四,{SPOUSE_ID},13800000002,1-1-101,spouse\n"
    f"张小三,{CHILD_ID},,1-1-101,child\n"
    f"王五,{OTHER_ID},13800000004,2-1-101,head\n"
)


@dataclass
class World:
    com: str
    other_com: str
    operator: User
    manager: User
    committee: User
    other_manager: User  # manages other_com only
    guard: User
    resident: User  # not yet verified; will be 张三
    outsider: User


def build(database: Database, settings: Settings, make_user) -> World:
    operator = make_user(Role.OPERATOR, username="oper")
    manager = make_user(Role.RESIDENT, username="pman")
    committee = make_user(Role.RESIDENT, username="cmte")
    other_manager = make_user(Role.RESIDENT, username="pman2")
    guard = make_user(Role.RESIDENT, username="guard")
    resident = make_user(Role.RESIDENT, username="zhangsan")
    outsider = make_user(Role.RESIDENT, username="outsider")
    with database.unit_of_work() as db:
        op = db.merge(operator)
        com = communities.create_community(db, actor=op, name="幸福小区", city="武汉")
        other = communities.create_community(db, actor=op, name="和平小区", city="武汉")
        for community, username, role in (
            (com, "pman", "property_manager"), (com, "cmte", "committee"),
            (other, "cmte", "committee"), (other, "pman2", "property_manager"),
        ):
            communities.grant_role(db, actor=op, community=community, username=username, role=role)
        pm = db.merge(manager)
        gate = communities.add_gate(db, actor=pm, community=com, name="东门")
        communities.assign_guard(db, actor=pm, community=com, gate_id=gate.public_id,
                                 username="guard")
        communities.add_rooms(db, actor=pm, community=com, building="1", unit="1",
                              numbers=["101", "102"])
        communities.add_rooms(db, actor=pm, community=com, building="2", unit="1", numbers=["101"])
        importer.import_residents(db, settings=settings, actor=pm, community=com, data=REGISTER)
        ids = com.public_id, other.public_id
    return World(ids[0], ids[1], operator, manager, committee, other_manager, guard, resident,
                 outsider)


def community(db, public_id: str):
    return access.get_community(db, community_id=public_id)
