"""Overdue bill reminders (`townsquare community bills remind`): each verified member of a
household with an unpaid bill past its due date who subscribed to the reminder gets one
message per bill per interval (`REMINDER_INTERVAL_DAYS`), sent through the community's official
pass mini-app like the pass's own reminders (`community/jobs.py`). A `community_bill_reminders`
row (unique per bill, member and round) is written with the message, so a second run, or two
runs at once, send nothing more in the same interval."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.community import communities, health
from townsquare.community.bills.models import Bill, BillReminder, BillStatus
from townsquare.community.models import Community, Person
from townsquare.core.errors import TownsquareError
from townsquare.core.settings import Settings
from townsquare.messaging import service as messaging
from townsquare.miniapps.models import MiniApp

REMINDER_INTERVAL_DAYS = 7
TEMPLATE_KEY = "bill_overdue"
TEMPLATE = ("缴费提醒：账单已逾期",
            "{name}，您家 {room} 的{item}（{period}）¥{amount} 已于 {due} 到期，请尽快缴纳。")


@dataclass
class Sent:
    sent: int = 0
    skipped: int = 0  # no consent left, the daily limit, or already reminded this round


def ensure_template(db: Session, *, miniapp: MiniApp) -> None:
    messaging.ensure_template(db, miniapp=miniapp, key=TEMPLATE_KEY, title=TEMPLATE[0],
                              body=TEMPLATE[1], system=True)


def round_of(bill: Bill, today: date, every_days: int) -> int:
    return (today - bill.due_date).days // every_days


def remind(db: Session, *, settings: Settings,
           every_days: int = REMINDER_INTERVAL_DAYS) -> Sent:
    """Send the overdue reminders due now."""
    counts = Sent()
    today = health.local_today(settings)
    for community in db.scalars(select(Community).where(Community.pass_miniapp_id.is_not(None))
                                .order_by(Community.id)):
        miniapp = communities.official_pass(db, community=community)
        if miniapp is None:
            continue
        ensure_template(db, miniapp=miniapp)
        overdue = db.scalars(select(Bill).where(
            Bill.community_id == community.id, Bill.status == BillStatus.UNPAID,
            Bill.due_date < today).order_by(Bill.due_date, Bill.id))
        for bill in overdue:
            members = db.execute(select(Person, User).join(User, User.id == Person.user_id)
                                 .where(Person.household_id == bill.household_id)
                                 .order_by(Person.id)).all()
            for person, user in members:
                if _send(db, settings, miniapp, bill, person, user,
                         round_of(bill, today, every_days)):
                    counts.sent += 1
                else:
                    counts.skipped += 1
    return counts


def _send(db: Session, settings: Settings, miniapp: MiniApp, bill: Bill, person: Person,
          user: User, round_: int) -> bool:
    done = db.scalar(select(BillReminder.id).where(
        BillReminder.bill_id == bill.id, BillReminder.user_id == user.id,
        BillReminder.round == round_))
    if done is not None:
        return False
    try:
        with db.begin_nested():
            db.add(BillReminder(bill_id=bill.id, user_id=user.id, round=round_))
            db.flush()
            messaging.send(
                db, settings=settings, miniapp=miniapp, user=user, key=TEMPLATE_KEY,
                data={"name": person.real_name, "room": bill.household.room.label,
                      "item": bill.item, "period": bill.period,
                      "amount": f"{bill.amount_fen / 100:.2f}",
                      "due": bill.due_date.isoformat()},
                link=f"/community/{_community_id(db, bill)}/bills")
        return True
    except (TownsquareError, IntegrityError):  # no consent, the day's limit, a concurrent run
        return False


def _community_id(db: Session, bill: Bill) -> str:
    return db.get_one(Community, bill.community_id).public_id
