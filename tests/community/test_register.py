"""Setting up a community and importing its register: all or nothing, re-import updates,
and the roles that may do it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.community.world import CHILD_ID, HEAD_ID, REGISTER, build, community, make_id
from townsquare.community import communities, importer
from townsquare.community.models import Household, Person, Relation
from townsquare.core.errors import PermissionDenied, ValidationFailed


def _persons(db, com) -> int:
    return db.scalar(select(func.count()).select_from(Person).where(
        Person.community_id == com.id))


def test_import_creates_people_and_households_without_storing_id_numbers(
        database, settings, make_user):
    w = build(database, settings, make_user)
    with database.unit_of_work() as db:
        com = community(db, w.com)
        people = db.scalars(select(Person).where(Person.community_id == com.id)).all()
        assert len(people) == 4
        head = next(p for p in people if p.real_name == "张三")
        assert head.relation == Relation.HEAD and head.id_masked == "420***********" + HEAD_ID[-4:]
        assert HEAD_ID not in head.id_digest and head.phone_masked == "138****0001"
        assert head.household.head.id == head.id
        assert {p.real_name for p in head.household.members} == {"张三", "李四", "张小三"}
        child = next(p for p in people if p.real_name == "张小三")
        assert child.birth_date.year == 2015 and CHILD_ID[-4:] in child.id_masked


def test_a_file_with_bad_rows_imports_nothing_and_reports_every_row(
        database, settings, make_user):
    w = build(database, settings, make_user)
    bad_id = HEAD_ID[:-1] + ("0" if HEAD_ID[-1] != "0" else "1")
    new_id = make_id("42010619910606006")
    csv = (
        "姓名,身份证号,手机号,房号,与户主关系\n"
        f"赵六,{new_id},13800000009,1-1-102,户主\n"  # fine on its own
        f"坏号,{bad_id},13800000010,1-1-102,配偶\n"  # checksum
        f"错电话,{make_id('42010619920707007')},1234,1-1-102,子女\n"  # phone
        f"没房,{make_id('42010619930808008')},,9-9-999,子女\n"  # unknown room
        f"重复,{new_id},,1-1-102,子女\n"  # same ID as line 2
        f"怪关系,{make_id('42010619940909009')},,1-1-102,邻居\n"  # relation
    )
    with database.unit_of_work() as db:
        com = community(db, w.com)
        with pytest.raises(ValidationFailed) as caught:
            importer.import_residents(db, settings=settings, actor=db.merge(w.manager),
                                      community=com, data=csv)
        problems = {(d["line"], d["field"]) for d in caught.value.details}
        assert problems == {(3, "id_number"), (4, "phone"), (5, "room"), (6, "id_number"),
                            (7, "relation")}
        assert caught.value.params["n"] == 5
        assert _persons(db, com) == 4  # the good row was not imported either


def test_two_heads_in_one_household_are_refused(database, settings, make_user):
    w = build(database, settings, make_user)
    number = make_id("42010619950101011")
    csv = f"name,id_number,phone,room,relation\n新户主,{number},,1-1-101,head\n"
    with database.unit_of_work() as db:
        with pytest.raises(ValidationFailed) as caught:
            importer.import_residents(db, settings=settings, actor=db.merge(w.manager),
                                      community=community(db, w.com), data=csv)
        assert caught.value.details[0]["field"] == "relation"


def test_reimport_updates_instead_of_duplicating(database, settings, make_user):
    w = build(database, settings, make_user)
    moved = REGISTER.replace("李四,", "李四四,").replace(
        f"{CHILD_ID},,1-1-101,child", f"{CHILD_ID},,1-1-102,head")
    with database.unit_of_work() as db:
        com = community(db, w.com)
        report = importer.import_residents(db, settings=settings, actor=db.merge(w.manager),
                                           community=com, data=moved.encode("gb18030"))
        assert (report.created, report.updated, report.unchanged) == (0, 2, 2)
        assert _persons(db, com) == 4
        child = db.scalar(select(Person).where(Person.real_name == "张小三"))
        assert child.household.room.label == "1-1-102"
        assert db.scalar(select(func.count()).select_from(Household).where(
            Household.community_id == com.id)) == 3


def test_only_the_communitys_property_manager_imports_and_sets_up(
        database, settings, make_user):
    w = build(database, settings, make_user)
    with database.unit_of_work() as db:
        com = community(db, w.com)
        for user in (w.committee, w.other_manager, w.guard, w.outsider, w.operator):
            with pytest.raises(PermissionDenied):
                importer.import_residents(db, settings=settings, actor=db.merge(user),
                                          community=com, data=REGISTER)
            with pytest.raises(PermissionDenied):
                communities.add_gate(db, actor=db.merge(user), community=com, name="西门")
        with pytest.raises(PermissionDenied):  # only operators assign property managers
            communities.grant_role(db, actor=db.merge(w.manager), community=com,
                                   username="outsider", role="property_manager")


def test_households_are_visible_to_the_communitys_staff_only(database, settings, make_user):
    w = build(database, settings, make_user)
    with database.unit_of_work() as db:
        com = community(db, w.com)
        assert len(communities.households_of(db, actor=db.merge(w.committee), community=com)) == 3
        for user in (w.other_manager, w.guard, w.outsider):
            with pytest.raises(PermissionDenied):
                communities.households_of(db, actor=db.merge(user), community=com)
