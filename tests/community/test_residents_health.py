"""Resident verification, membership requests, health declarations, flags and colours, the
audited health record, notices and the retention job."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from tests.community.world import HEAD_ID, SPOUSE_ID, TENANT_ID, build, community
from townsquare.community import health, notices, residents
from townsquare.community.models import (
    CommunityRoleKind,
    HealthDeclaration,
    HealthRecordView,
    Person,
    Relation,
)
from townsquare.community.status import Colour, Status, status_colour, worst
from townsquare.core.clock import clock
from townsquare.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

TODAY = date(2026, 3, 10)


class F:  # a flag without a database
    def __init__(self, kind, start, end=None, lifted_at=None):
        self.kind, self.start, self.end, self.lifted_at = kind, start, end, lifted_at


class D:  # a declaration without a database
    def __init__(self, day, temperature_c=36.5, symptoms=(), risk_travel=False,
                 case_contact=False):
        self.day, self.temperature_c, self.symptoms = day, temperature_c, list(symptoms)
        self.risk_travel, self.case_contact = risk_travel, case_contact


def test_status_colours_follow_the_rules():
    d = TODAY
    assert status_colour([], [D(d)], d).colour is Colour.GREEN
    quarantine = F("quarantine", d - timedelta(days=3), d + timedelta(days=4))
    assert status_colour([quarantine], [], d).colour is Colour.RED
    assert status_colour([quarantine], [], d + timedelta(days=5)).colour is Colour.GREEN
    assert status_colour([F("quarantine", d, d, lifted_at=1)], [], d).colour is Colour.GREEN
    region = F("risk_region", d - timedelta(days=6))
    assert status_colour([region], [], d).colour is Colour.YELLOW  # yellow for 7 days …
    assert status_colour([region], [], d + timedelta(days=1)).colour is Colour.GREEN  # … then not
    rules = {"yellow_days": 10}
    assert status_colour([region], [], d + timedelta(days=1), rules).colour is Colour.YELLOW
    contact = D(d - timedelta(days=13), case_contact=True)
    assert status_colour([], [contact], d).colour is Colour.RED  # red for 14 days
    assert status_colour([], [contact], d + timedelta(days=1)).colour is Colour.GREEN
    hot = status_colour([], [D(d, temperature_c=37.8)], d)
    assert hot.colour is Colour.YELLOW and hot.reasons == ("Declared a raised temperature",)
    both = status_colour([region], [contact], d)
    assert both.colour is Colour.RED and len(both.reasons) == 2
    assert worst([Status(Colour.GREEN), both, hot]).colour is Colour.RED


def test_verification_links_only_on_a_name_and_id_match(database, settings, make_user):
    w = build(database, settings, make_user)
    with database.unit_of_work() as db:
        com, me = community(db, w.com), db.merge(w.resident)
        for name, number in (("张三三", HEAD_ID), ("张三", SPOUSE_ID), ("张三", TENANT_ID)):
            with pytest.raises(ValidationFailed):
                residents.verify(db, settings=settings, actor=me, community=com,
                                 real_name=name, id_number=number)
        clock.advance(residents.VERIFY_BASE_DELAY)  # three failures: the next try waits a bit
        person = residents.verify(db, settings=settings, actor=me, community=com,
                                  real_name="张三", id_number=HEAD_ID.lower())
        assert person.user_id == me.id and person.verified_at is not None
        from townsquare.community import access
        assert CommunityRoleKind.HOUSEHOLD_HEAD in access.roles_in(db, actor=me, community=com)
        with pytest.raises(Conflict):  # the same register entry for another account
            residents.verify(db, settings=settings, actor=db.merge(w.outsider), community=com,
                             real_name="张三", id_number=HEAD_ID)


def test_a_tenant_joins_when_the_head_approves(database, settings, make_user):
    w = build(database, settings, make_user)
    with database.unit_of_work() as db:
        com, head, tenant = community(db, w.com), db.merge(w.resident), db.merge(w.outsider)
        with pytest.raises(ValidationFailed):  # the head has not verified yet
            residents.request_membership(db, settings=settings, actor=tenant, community=com,
                                         room="1-1-101", real_name="租客", id_number=TENANT_ID,
                                         relation="tenant")
        residents.verify(db, settings=settings, actor=head, community=com, real_name="张三",
                         id_number=HEAD_ID)
        request = residents.request_membership(
            db, settings=settings, actor=tenant, community=com, room="1-1-101",
            real_name="租客", id_number=TENANT_ID, relation="tenant")
        with pytest.raises(NotFound):  # another community's manager cannot decide it
            residents.decide_request(db, actor=db.merge(w.other_manager), community=com,
                                     request_id=request.public_id, approve=True)
        assert [r.public_id for r in residents.requests_for_head(
            db, actor=head, community=com)] == [request.public_id]
        residents.decide_request(db, actor=head, community=com, request_id=request.public_id,
                                 approve=True)
        person, household = residents.my_household(db, actor=tenant, community=com)
        assert person.relation == Relation.TENANT and household.head.user_id == head.id
        with pytest.raises(Conflict):
            residents.decide_request(db, actor=head, community=com,
                                     request_id=request.public_id, approve=True)


def test_declaration_flags_and_the_audited_health_record(database, settings, make_user):
    w = build(database, settings, make_user)
    with database.unit_of_work() as db:
        com, me = community(db, w.com), db.merge(w.resident)
        person = residents.verify(db, settings=settings, actor=me, community=com,
                                  real_name="张三", id_number=HEAD_ID)
        today = health.local_today(settings)
        health.declare(db, settings=settings, actor=me, community=com, person=person,
                       temperature_c=36.6, symptoms=[], risk_travel=False, case_contact=False)
        health.declare(db, settings=settings, actor=me, community=com, person=person,
                       temperature_c=38.2, symptoms=["cough"], risk_travel=False,
                       case_contact=False)  # declaring again the same day updates
        assert db.scalar(select(func.count()).select_from(HealthDeclaration)) == 1
        with pytest.raises(ValidationFailed):
            health.declare(db, settings=settings, actor=me, community=com, person=person,
                           temperature_c=50, symptoms=[], risk_travel=False, case_contact=False)
        assert health.person_status(db, community=com, person=person,
                                    today=today).colour is Colour.YELLOW
        for outsider in (w.guard, w.other_manager, me):
            with pytest.raises(PermissionDenied):
                health.set_flag(db, actor=db.merge(outsider), community=com,
                                person_id=person.public_id, kind="quarantine", start=today,
                                end=today + timedelta(days=14))
        health.set_flag(db, actor=db.merge(w.committee), community=com,
                        person_id=person.public_id, kind="quarantine", start=today,
                        end=today + timedelta(days=14), note="密接")
        household = person.household
        assert health.household_status(db, community=com, household=household,
                                       today=today).colour is Colour.RED
        for outsider in (w.guard, w.other_manager, me, w.operator):
            with pytest.raises(PermissionDenied):
                health.health_record(db, settings=settings, actor=db.merge(outsider),
                                     community=com, person_id=person.public_id)
        record = health.health_record(db, settings=settings, actor=db.merge(w.manager),
                                      community=com, person_id=person.public_id)
        assert record.status.colour is Colour.RED and len(record.declarations) == 1
        views = db.scalars(select(HealthRecordView)).all()
        assert [(v.viewer_id, v.person_id) for v in views] == [(w.manager.id, person.id)]
        other_com = community(db, w.other_com)
        with pytest.raises(NotFound):  # a person id of another community leaks nothing
            health.health_record(db, settings=settings, actor=db.merge(w.other_manager),
                                 community=other_com, person_id=person.public_id)


def test_retention_job_deletes_old_declarations_only(database, settings, make_user):
    w = build(database, settings, make_user)
    with database.unit_of_work() as db:
        com = community(db, w.com)
        person = db.scalar(select(Person).where(Person.real_name == "张三"))
        for age in (0, 30, 31, 45):
            db.add(HealthDeclaration(person_id=person.id, community_id=com.id,
                                     day=TODAY - timedelta(days=age), temperature_c=36.5))
        db.flush()
        assert health.purge_declarations(db, settings=settings, today=TODAY) == 2
        left = sorted((TODAY - d).days for d in db.scalars(select(HealthDeclaration.day)))
        assert left == [0, 30]


def test_notices_reach_the_communitys_residents_only(database, settings, make_user):
    w = build(database, settings, make_user)
    with database.unit_of_work() as db:
        com, me = community(db, w.com), db.merge(w.resident)
        with pytest.raises(PermissionDenied):
            notices.publish(db, actor=me, community=com, title="x", body="y")
        notices.publish(db, actor=db.merge(w.committee), community=com, title="核酸检测",
                        body="明天 8 点在东门。")
        with pytest.raises(PermissionDenied):  # not verified yet
            notices.notices_for(db, actor=me, community=com)
        residents.verify(db, settings=settings, actor=me, community=com, real_name="张三",
                         id_number=HEAD_ID)
        assert [n.title for n in notices.notices_for(db, actor=me, community=com)] == ["核酸检测"]
        with pytest.raises(PermissionDenied):
            notices.notices_for(db, actor=db.merge(w.other_manager), community=com)
