"""Periodic work of repairs (`townsquare community repairs-tick`): tickets done for longer than
their community's `auto_confirm_days` are confirmed for the resident; tickets past their response
or completion target get one reminder of each kind (a `RepairReminder` row, unique per ticket
and kind, so a reminder is never sent twice): the property company's staff through the work
notifications of its mini-app's merchant, the assigned technician through the official pass
mini-app's subscribed message when they subscribed to it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.community import property as property_seller
from townsquare.community.models import Community
from townsquare.community.repairs import service
from townsquare.community.repairs.models import RepairReminder, RepairTicket, Status
from townsquare.core.clock import clock
from townsquare.core.errors import TownsquareError
from townsquare.core.settings import Settings
from townsquare.messaging import notifications
from townsquare.messaging import service as messaging
from townsquare.miniapps.models import MiniApp

S = Status
TEMPLATE = ("repair_late", "报修超时提醒",
            "{location} 的报修已超过目标时间（{target}），请尽快处理。")
NOT_RESPONDED = (S.REPORTED, S.ASSIGNED)
NOT_DONE = (S.REPORTED, S.ASSIGNED, S.ACCEPTED, S.ON_THE_WAY, S.IN_PROGRESS)


@dataclass
class Tick:
    auto_confirmed: int = 0
    late_response: int = 0
    late_completion: int = 0


def auto_confirm(db: Session) -> int:
    """Confirm tickets done longer ago than their community's auto-confirm days."""
    now, count = clock.now(), 0
    for community in db.scalars(select(Community).order_by(Community.id)):
        days = service.targets_of(db, community).auto_confirm_days
        due = db.scalars(select(RepairTicket).where(
            RepairTicket.community_id == community.id, RepairTicket.status == S.DONE,
            RepairTicket.done_at < now - timedelta(days=days)).order_by(RepairTicket.id))
        for ticket in list(due):
            try:
                with db.begin_nested():
                    service.auto_confirm(db, ticket)
                count += 1
            except service.RepairStateError:
                continue  # the resident confirmed meanwhile
    return count


def _claim(db: Session, ticket: RepairTicket, kind: str) -> bool:
    """Record the reminder; False when it was sent already (by this run or another)."""
    if db.scalar(select(RepairReminder.id).where(RepairReminder.ticket_id == ticket.id,
                                                 RepairReminder.kind == kind)):
        return False
    try:
        with db.begin_nested():
            db.add(RepairReminder(ticket_id=ticket.id, kind=kind, sent_at=clock.now()))
            db.flush()
    except IntegrityError:
        return False
    return True


def _tell_technician(db: Session, settings: Settings, miniapp: MiniApp,
                     ticket: RepairTicket, target: str) -> None:
    if ticket.technician_id is None:
        return
    user = db.get(User, ticket.technician_id)
    if user is None:
        return
    key, title, body = TEMPLATE
    try:
        with db.begin_nested():
            messaging.ensure_template(db, miniapp=miniapp, key=key, title=title, body=body,
                                      system=True)
            messaging.send(db, settings=settings, miniapp=miniapp, user=user, key=key,
                           data={"location": ticket.location, "target": target},
                           link=f"/community/repairs/work/{ticket.public_id}")
    except TownsquareError:
        pass  # not subscribed, or today's limit reached: the inbox notification still stands


def remind_late(db: Session, *, settings: Settings) -> Tick:
    """One reminder per late ticket and kind (response, completion)."""
    counts, now = Tick(), clock.now()
    late = db.scalars(select(RepairTicket).where(
        RepairTicket.status.in_(list(NOT_DONE)),
        (RepairTicket.respond_by < now) | (RepairTicket.complete_by < now))
        .order_by(RepairTicket.id))
    for ticket in list(late):
        community = db.get_one(Community, ticket.community_id)
        try:
            miniapp = property_seller.property_miniapp(db, community)
        except property_seller.NoPropertyMerchant:
            continue  # nobody to tell through
        # the targets the ticket was reported under (a later change does not move them)
        respond_target = int((ticket.respond_by - ticket.reported_at).total_seconds() // 60)
        complete_target = int((ticket.complete_by - ticket.reported_at).total_seconds() // 3600)
        age = now - ticket.reported_at
        link = f"/community/{community.public_id}/manage/repairs/{ticket.public_id}"
        if ticket.status in NOT_RESPONDED and ticket.respond_by < now and _claim(
                db, ticket, "respond"):
            minutes = int(age.total_seconds() // 60)
            notifications.notify(
                db, kind="repair.late_response", merchant_id=miniapp.merchant_id,
                miniapp=miniapp, link=link,
                params={"community": community.name, "location": ticket.location,
                        "minutes": minutes, "target": respond_target})
            _tell_technician(db, settings, miniapp, ticket, f"{respond_target} 分钟")
            counts.late_response += 1
        if ticket.complete_by < now and _claim(db, ticket, "complete"):
            hours = int(age.total_seconds() // 3600)
            notifications.notify(
                db, kind="repair.late_completion", merchant_id=miniapp.merchant_id,
                miniapp=miniapp, link=link,
                params={"community": community.name, "location": ticket.location,
                        "hours": hours, "target": complete_target})
            _tell_technician(db, settings, miniapp, ticket, f"{complete_target} 小时")
            counts.late_completion += 1
    return counts


def tick(db: Session, *, settings: Settings) -> Tick:
    counts = remind_late(db, settings=settings)
    counts.auto_confirmed = auto_confirm(db)
    return counts
