"""Periodic work of the community pass: reminders through the messaging capability and the
deletion of expired health declarations (`townsquare community remind` / `purge`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.community import communities, health
from townsquare.community.gate.models import Direction, Passage
from townsquare.community.models import Community, FlagKind, HealthDeclaration, HealthFlag, Person
from townsquare.core.clock import clock
from townsquare.core.errors import TownsquareError
from townsquare.core.settings import Settings
from townsquare.messaging import service as messaging
from townsquare.messaging.models import Message
from townsquare.miniapps.models import MiniApp

RUNTIME = communities.PASS_RUNTIME
# The community pass's message templates (created on the mini-app when first needed).
TEMPLATES = {
    "declare_today": (
        "请完成今日健康申报", "{name}，您今天（{day}）还没有在{community}完成健康申报。"
    ),
    "quarantine_ends": (
        "居家隔离明日结束", "{name}，您的居家隔离将于 {day} 结束，请留意物业通知。"
    ),
    "overdue_back": (
        "外出已超时", "{name}，您家 {at} 从{gate}外出，已超过 {hours} 小时，请尽快返回。"
    ),
}


@dataclass
class Reminders:
    declare_today: int = 0
    quarantine_ends: int = 0
    overdue_back: int = 0
    skipped: int = 0  # no consent left, or the daily limit reached


def pass_miniapps(db: Session) -> dict[str, MiniApp]:
    """The official pass mini-app of each community that has one, by community public id."""
    found: dict[str, MiniApp] = {}
    for community in db.scalars(select(Community).where(Community.pass_miniapp_id.is_not(None))):
        miniapp = communities.official_pass(db, community=community)
        if miniapp is not None:
            found[community.public_id] = miniapp
    return found


def ensure_templates(db: Session, *, miniapp: MiniApp) -> None:
    """The reminder templates on the official mini-app, always with the platform's own text."""
    for key, (title, body) in TEMPLATES.items():
        messaging.ensure_template(db, miniapp=miniapp, key=key, title=title, body=body,
                                  system=True)


def _try_send(db: Session, settings: Settings, miniapp: MiniApp, user: User, key: str,
              data: dict, link: str) -> bool:
    """Send if the user still has a consent (a missing consent is normal, not an error)."""
    try:
        with db.begin_nested():
            messaging.send(db, settings=settings, miniapp=miniapp, user=user, key=key,
                           data=data, link=link)
        return True
    except TownsquareError:
        return False


def remind(db: Session, *, settings: Settings) -> Reminders:
    """Send today's reminders to residents who subscribed to them."""
    counts = Reminders()
    today = health.local_today(settings)
    tomorrow = today + timedelta(days=1)
    apps = pass_miniapps(db)
    for community in db.scalars(select(Community).order_by(Community.id)):
        miniapp = apps.get(community.public_id)
        if miniapp is None:
            continue
        ensure_templates(db, miniapp=miniapp)
        home = f"/community/{community.public_id}"
        declared = select(HealthDeclaration.person_id).where(
            HealthDeclaration.community_id == community.id, HealthDeclaration.day == today)
        rows = db.execute(
            select(Person, User).join(User, User.id == Person.user_id).where(
                Person.community_id == community.id, Person.id.not_in(declared))
        )
        for person, user in rows:
            ok = _try_send(db, settings, miniapp, user, "declare_today",
                           {"name": person.real_name, "day": today.isoformat(),
                            "community": community.name}, home + "/declare")
            counts.declare_today += ok
            counts.skipped += not ok
        ending = db.execute(
            select(HealthFlag, User).join(Person, Person.id == HealthFlag.person_id)
            .join(User, User.id == Person.user_id)
            .where(HealthFlag.community_id == community.id,
                   HealthFlag.kind == FlagKind.QUARANTINE, HealthFlag.lifted_at.is_(None),
                   HealthFlag.end == tomorrow)
        )
        for flag, user in ending:  # every flag here ends tomorrow
            ok = _try_send(db, settings, miniapp, user, "quarantine_ends",
                           {"name": flag.person.real_name, "day": tomorrow.isoformat()}, home)
            counts.quarantine_ends += ok
            counts.skipped += not ok
        counts.overdue_back += _overdue(db, settings, community, miniapp, counts)
    return counts


def _overdue(db: Session, settings: Settings, community: Community, miniapp: MiniApp,
             counts: Reminders) -> int:
    """Exits not yet back after the policy's longest time outside: tell the household head."""
    now = clock.now()
    cutoff = now - timedelta(hours=community.max_hours_outside)
    stmt = select(Passage).where(
        Passage.community_id == community.id, Passage.direction == Direction.EXIT,
        Passage.allowed.is_(True), Passage.returned_at.is_(None), Passage.at < cutoff,
        Passage.at > now - timedelta(days=2), Passage.household_id.is_not(None),
        Passage.invitation_id.is_(None),  # a visitor leaving is no resident out (issue 18)
    )
    sent = 0
    for passage in db.scalars(stmt):
        head = passage.household.head if passage.household else None
        if head is None or not head.user_id:
            continue
        user = db.get(User, head.user_id)
        if user is None:
            continue
        already = db.scalar(select(Message.id).where(
            Message.user_id == user.id, Message.miniapp_id == miniapp.id,
            Message.sent_at > passage.at, Message.title == TEMPLATES["overdue_back"][0]))
        if already:
            continue
        local = passage.at.astimezone(ZoneInfo(settings.timezone))
        ok = _try_send(db, settings, miniapp, user, "overdue_back",
                       {"name": head.real_name, "at": local.strftime("%H:%M"),
                        "gate": passage.gate.name, "hours": community.max_hours_outside},
                       f"/community/{community.public_id}")
        sent += ok
        counts.skipped += not ok
    return sent


def purge(db: Session, *, settings: Settings) -> int:
    """Delete health declarations past the retention period."""
    return health.purge_declarations(db, settings=settings)
