"""The demo city's two communities: rooms, households and residents (the demo `resident` is a
verified household head in the first), staff logins `property`, `committee` and `guard`,
quarantines and other flags, a week of declarations, notices, and the community pass listed in
the hub's 社区服务 section, and a week of passages at the gates (`gate/demo.py`)."""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.identity import id_check_char, mask_id_number, mask_phone
from townsquare.accounts.models import Role, RoleGrant, User
from townsquare.community import jobs
from townsquare.community.gate import demo as gate_demo
from townsquare.community.health import local_today
from townsquare.community.importer import id_digest
from townsquare.community.models import (
    Community,
    CommunityRole,
    CommunityRoleKind,
    FlagKind,
    Gate,
    GuardPost,
    HealthDeclaration,
    HealthFlag,
    Household,
    Notice,
    Person,
    Relation,
    RiskRegion,
    Room,
)
from townsquare.core.clock import clock
from townsquare.core.settings import Settings
from townsquare.messaging import service as messaging
from townsquare.messaging.models import Subscription
from townsquare.miniapps.models import (
    HubEntry,
    HubSection,
    MiniApp,
    MiniAppKind,
    MiniAppVersion,
    Template,
    TemplateStatus,
    VersionState,
)

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华红"
REGIONS = ("上海市浦东新区", "广州市荔湾区", "西安市雁塔区")
NOTICES = (
    ("核酸检测安排", "周三 8:00-11:00 在东门广场全员核酸检测，请携带身份证，保持一米间距。"),
    ("出入管理规定", "每户每天限一人凭家庭通行码外出采购，不超过 4 小时，返回时请扫码。"),
    ("居家健康提示", "请每日测量体温并在通行证中完成健康申报，如有发热、咳嗽请立即联系物业。"),
)
# (name, buildings, units per building, floors, rooms per floor, gates)
LAYOUT = (("幸福里小区", 3, 2, 6, 2, ("东门", "西门")), ("和平花园", 2, 1, 5, 2, ("南门",)))


def _person_id(rng: random.Random, born: date) -> str:
    first17 = f"420106{born:%Y%m%d}{rng.randrange(1000):03d}"
    return first17 + id_check_char(first17)


def _name(rng: random.Random, surname: str | None = None) -> str:
    return (surname or rng.choice(SURNAMES)) + "".join(
        rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def build(db: Session, *, settings: Settings, rng: random.Random, password_hash: str,
          operator: User, provider_id: int) -> list[Community]:
    """Create both communities with everything in them (seed data, written directly)."""
    today = local_today(settings)
    staff = {
        name: _user(db, name, display, password_hash, role)
        for name, display, role in (
            ("property", "物业经理老陈", Role.PROPERTY_MANAGER),
            ("property2", "物业经理小孙", Role.PROPERTY_MANAGER),
            ("committee", "居委会刘主任", Role.COMMITTEE),
            ("guard", "门岗保安老王", Role.GUARD),
            ("guard2", "门岗保安小李", Role.GUARD),
        )
    }
    resident = db.scalar(select(User).where(User.username == "resident"))
    others = list(db.scalars(select(User).where(User.username.like("r0%")).order_by(User.id)
                             .limit(400)))
    for region in REGIONS:
        db.add(RiskRegion(community_id=None, name=region))
    communities = []
    for index, (name, buildings, units, floors, per_floor, gate_names) in enumerate(LAYOUT):
        community = Community(name=name, city="武汉", address=f"武汉市江汉区{name}")
        db.add(community)
        db.flush()
        communities.append(community)
        manager = staff["property" if index == 0 else "property2"]
        for user, role in ((manager, CommunityRoleKind.PROPERTY_MANAGER),
                           (staff["committee"], CommunityRoleKind.COMMITTEE),
                           (staff["guard" if index == 0 else "guard2"], CommunityRoleKind.GUARD)):
            db.add(CommunityRole(user_id=user.id, community_id=community.id, role=role))
        gates = [Gate(community_id=community.id, name=g) for g in gate_names]
        db.add_all(gates)
        db.flush()
        guard = staff["guard" if index == 0 else "guard2"]
        db.add_all([GuardPost(user_id=guard.id, gate_id=g.id) for g in gates])
        persons = _residents(db, settings, rng, community, buildings, units, floors, per_floor,
                             resident if index == 0 else None, others, today)
        # The demo resident's household stays healthy, so the demo gate lets them out.
        demo_household = next((p.household_id for p in persons if resident and
                               p.user_id == resident.id), None)
        _health(db, rng, community, persons, staff["committee"], today,
                keep_well=demo_household)
        for title, body in NOTICES:
            db.add(Notice(community_id=community.id, title=title, body=body,
                          published_by_id=manager.id,
                          published_at=clock.now() - timedelta(hours=rng.uniform(2, 120))))
    _miniapps(db, settings, communities, provider_id, resident)
    gate_demo.add_week(db, settings, rng, communities)
    return communities


def _user(db: Session, username: str, display: str, password_hash: str, role: Role) -> User:
    user = User(username=username, display_name=display, password_hash=password_hash,
                roles=[RoleGrant(role=role), RoleGrant(role=Role.RESIDENT)])
    db.add(user)
    db.flush()
    return user


def _residents(db: Session, settings: Settings, rng: random.Random, community: Community,
               buildings: int, units: int, floors: int, per_floor: int, resident: User | None,
               others: list[User], today: date) -> list[Person]:
    persons: list[Person] = []
    for b in range(1, buildings + 1):
        for u in range(1, units + 1):
            for floor in range(1, floors + 1):
                for r in range(1, per_floor + 1):
                    room = Room(community_id=community.id, building=str(b), unit=str(u),
                                number=f"{floor}{r:02d}")
                    db.add(room)
                    db.flush()
                    household = Household(community_id=community.id, room_id=room.id)
                    db.add(household)
                    db.flush()
                    if rng.random() < 0.1:
                        continue  # an empty flat
                    persons += _household(db, settings, rng, community, household, resident
                                          if resident and not persons else None, others, today)
    return persons


def _household(db: Session, settings: Settings, rng: random.Random, community: Community,
               household: Household, resident: User | None, others: list[User], today: date
               ) -> list[Person]:
    surname = rng.choice(SURNAMES)
    members: list[tuple[Relation, int, str | None]] = [
        (Relation.HEAD, 30 + rng.randrange(40), surname)
    ]
    if rng.random() < 0.8:
        members.append((Relation.SPOUSE, 28 + rng.randrange(40), None))
    for _ in range(rng.choice((0, 1, 1, 2))):
        members.append((Relation.CHILD, 3 + rng.randrange(15), surname))
    if rng.random() < 0.2:
        members.append((Relation.PARENT, 60 + rng.randrange(25), surname))
    created = []
    for position, (relation, age, family) in enumerate(members):
        born = today.replace(year=today.year - age) - timedelta(days=rng.randrange(300))
        number = _person_id(rng, born)
        person = Person(
            community_id=community.id, household_id=household.id, real_name=_name(rng, family),
            id_digest=id_digest(settings, number), id_masked=mask_id_number(number),
            birth_date=born, phone_masked=mask_phone(f"13{rng.randrange(10**9):09d}"),
            relation=relation,
        )
        if resident is not None and position == 0:
            # The demo resident: their platform identity is the register entry of this head.
            identity = resident.identity
            person.real_name = resident.display_name
            if identity is not None:
                person.id_digest, person.id_masked = identity.id_digest, identity.id_masked
            person.user_id, person.verified_at = resident.id, clock.now() - timedelta(days=20)
            db.add(CommunityRole(user_id=resident.id, community_id=community.id,
                                 role=CommunityRoleKind.HOUSEHOLD_HEAD))
        elif others and age >= 18 and rng.random() < 0.6:
            user = others.pop()
            person.user_id, person.verified_at = user.id, clock.now() - timedelta(
                days=rng.uniform(1, 30))
            if relation == Relation.HEAD:
                db.add(CommunityRole(user_id=user.id, community_id=community.id,
                                     role=CommunityRoleKind.HOUSEHOLD_HEAD))
        db.add(person)
        created.append(person)
    db.flush()
    return created


def _health(db: Session, rng: random.Random, community: Community, persons: list[Person],
            committee: User, today: date, keep_well: int | None = None) -> None:
    verified = [p for p in persons if p.user_id]
    for person in verified:
        for age in range(7):
            if rng.random() < (0.55 if age == 0 else 0.85):
                hot = rng.random() < 0.02 and person.household_id != keep_well
                db.add(HealthDeclaration(
                    person_id=person.id, community_id=community.id,
                    day=today - timedelta(days=age),
                    temperature_c=round(rng.uniform(37.4, 38.6) if hot else
                                        rng.uniform(36.0, 37.1), 1),
                    symptoms=["fever"] if hot else [], declared_by_id=person.user_id))
    candidates = [p for p in persons if (p.user_id is None or rng.random() < 0.5)
                  and p.household_id != keep_well]
    rng.shuffle(candidates)
    for i, person in enumerate(candidates[:12]):
        if i < 6:  # home quarantine, two of them ending tomorrow
            start = today - timedelta(days=13 if i < 2 else rng.randrange(1, 12))
            kind, end, region = FlagKind.QUARANTINE, start + timedelta(days=14), ""
            if i < 2:
                end = today + timedelta(days=1)
        elif i < 10:
            kind, start, end = FlagKind.RISK_REGION, today - timedelta(days=rng.randrange(6)), None
            region = rng.choice(REGIONS)
        else:
            kind, start, end, region = FlagKind.FEVER, today, None, ""
        db.add(HealthFlag(person_id=person.id, community_id=community.id, kind=kind,
                          start=start, end=end, region=region, set_by_id=committee.id,
                          note="入户排查" if kind == FlagKind.QUARANTINE else ""))


def _miniapps(db: Session, settings: Settings, communities: list[Community], provider_id: int,
              resident: User | None) -> None:
    """The 社区通行证 hub entry becomes the first community's pass; the second gets its own."""
    template = Template(provider_id=provider_id, runtime=jobs.RUNTIME, name="社区通行证模板",
                        description="社区通行证：居民核验、健康申报、家庭通行码、门岗扫码。",
                        fields=[], status=TemplateStatus.PUBLISHED)
    db.add(template)
    db.flush()
    first = db.scalar(select(MiniApp).where(MiniApp.name == "社区通行证"))
    section = db.scalar(select(HubSection).where(HubSection.title_zh == "社区服务"))
    apps = []
    for index, community in enumerate(communities):
        app = first if index == 0 else None
        if app is None:
            base = first or db.scalar(select(MiniApp).order_by(MiniApp.id))
            if base is None:
                raise RuntimeError("The community demo copies a mini-app; seed one first.")
            app = MiniApp(merchant_id=base.merchant_id, category_id=base.category_id,
                          kind=MiniAppKind.TEMPLATE, client_secret_digest=base.client_secret_digest,
                          name=f"{community.name}通行证", icon="🪪", listed=True,
                          description=f"{community.name}居民通行证", cities=["武汉"],
                          tags=["community"])
            db.add(app)
            db.flush()
            db.add(MiniAppVersion(miniapp_id=app.id, number=1, label="1.0.0", name=app.name,
                                  icon=app.icon, description=app.description, cities=app.cities,
                                  tags=app.tags, state=VersionState.PUBLISHED, config={}))
            if section is not None:
                db.add(HubEntry(section_id=section.id, miniapp_id=app.id, position=90 + index))
        # the relationship, not only the key: a hub app still in memory would keep its old
        # template loaded (whether it is depends on when the garbage collector ran)
        app.kind, app.template = MiniAppKind.TEMPLATE, template
        app.description = f"{community.name}居民通行证：健康申报、家庭通行码、社区公告。"
        db.flush()
        for version in db.scalars(select(MiniAppVersion).where(
                MiniAppVersion.miniapp_id == app.id)):
            version.config = {"community": community.public_id,
                              "welcome": f"欢迎使用{community.name}通行证"}
            version.description = app.description
        community.pass_miniapp_id = app.id  # the demo's property manager chose it
        jobs.ensure_templates(db, miniapp=app)
        apps.append(app)
    if resident is not None and apps:
        templates = {t.key: t for t in messaging.templates_of(db, miniapp=apps[0])}
        for key in ("declare_today", "quarantine_ends"):
            db.add(Subscription(user_id=resident.id, template_id=templates[key].id))
        db.flush()
        messaging.send(db, settings=settings, miniapp=apps[0], user=resident,
                       key="declare_today",
                       data={"name": resident.display_name, "day": local_today(settings)
                             .isoformat(), "community": communities[0].name},
                       link=f"/community/{communities[0].public_id}/declare")
