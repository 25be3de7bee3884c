"""The demo city's fee bills: room areas, a per-m² 物业费 rule and a fixed 垃圾处理费 rule in
each community with an official pass, bills for the last three months, most older bills paid by
a verified member through a real trade of the property's mini-app (so the ledger carries them
and ties out), the rest outstanding, some overdue; the demo resident's household has a paid
bill, an overdue one (with a reminder in the inbox) and this month's."""

from __future__ import annotations

import random
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.community import communities as community_service
from townsquare.community import health
from townsquare.community.bills import jobs
from townsquare.community.bills import service as bills
from townsquare.community.bills.models import Bill, BillStatus
from townsquare.community.models import Community, Household, Person, Room
from townsquare.core.settings import Settings
from townsquare.messaging.models import MessageTemplate, Subscription
from townsquare.payments import ledger
from townsquare.payments.ledger import accounts
from townsquare.payments.trades import service as trades

RATES = (250, 180)  # 物业费 fen per m² per month, per community in turn
MAX_PAYMENTS = 120  # per community: enough to show, quick to build


def _months(today: date) -> list[str]:
    months = []
    year, month = today.year, today.month
    for _ in range(3):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]  # oldest first


def _pay(db: Session, community: Community, user: User, chosen: list[Bill], key: str) -> None:
    payment = bills.pay(db, actor=user, community=community,
                        bill_ids=[b.public_id for b in chosen], idempotency_key=key)
    ledger.post(db, kind="top_up", reference=f"demo-bills:{payment.public_id}",
                legs={accounts.BANK_CLEARING: -payment.total_fen,
                      accounts.wallet(user.id): payment.total_fen},
                idempotency_key=f"demo-bills:{payment.public_id}")
    trades.pay(db, trade_no=payment.trade_no, payer=user, source=accounts.wallet(user.id),
               fund_channel="ALIPAYACCOUNT", funding_reference="",
               idempotency_key=f"demo-bills:{payment.public_id}")


def seed(db: Session, *, settings: Settings, seed: int = 7) -> int:
    """Bills for every community with an official pass; answers how many were issued."""
    rng = random.Random(seed)
    today = health.local_today(settings)
    months = _months(today)
    issued = 0
    resident = db.scalar(select(User).where(User.username == "resident"))
    found = db.scalars(select(Community).where(Community.pass_miniapp_id.is_not(None))
                       .order_by(Community.id))
    for index, community in enumerate(list(found)):
        if community_service.official_pass(db, community=community) is None:
            continue
        for room in db.scalars(select(Room).where(Room.community_id == community.id)):
            room.area_dm2 = rng.randrange(5500, 14500)
        per_m2 = bills.set_rule(db, actor=None, community=community, item="物业费",
                                kind="per_m2", rate_fen=RATES[index % len(RATES)], due_days=15)
        garbage = bills.set_rule(db, actor=None, community=community, item="垃圾处理费",
                                 kind="fixed", rate_fen=1000, due_days=20)
        for period in months:
            for rule in (per_m2, garbage):
                run = bills.apply_rule(db, actor=None, community=community, rule=rule,
                                       period=period)
                issued += run.created
        payers = db.execute(
            select(Household, User).join(Person, Person.household_id == Household.id)
            .join(User, User.id == Person.user_id)
            .where(Household.community_id == community.id).order_by(Household.id, Person.id)
        ).all()
        done: set[int] = set()
        paid = 0
        for household, user in payers:
            if household.id in done or paid >= MAX_PAYMENTS:
                continue
            done.add(household.id)
            unpaid = list(db.scalars(select(Bill).where(
                Bill.household_id == household.id, Bill.status == BillStatus.UNPAID)
                .order_by(Bill.period, Bill.item)))
            if resident is not None and user.id == resident.id:
                chosen = [b for b in unpaid if b.period == months[0]]  # months[1] stays overdue
            else:
                draw = rng.random()
                cut = months[2] if draw < 0.3 else months[1] if draw < 0.75 else months[0] \
                    if draw < 0.9 else ""
                chosen = [b for b in unpaid if b.period <= cut]
            if chosen:
                _pay(db, community, user, chosen, key=f"demo-{household.public_id}")
                paid += 1
        if resident is not None and index == 0:
            miniapp = community_service.official_pass(db, community=community)
            assert miniapp is not None
            jobs.ensure_template(db, miniapp=miniapp)
            template = next(t for t in _templates(db, miniapp.id) if t[1] == jobs.TEMPLATE_KEY)
            db.add(Subscription(user_id=resident.id, template_id=template[0]))
            db.flush()
    jobs.remind(db, settings=settings)  # the subscribed demo resident hears of the overdue bill
    return issued


def _templates(db: Session, miniapp_id: int) -> list[tuple[int, str]]:
    return [(t.id, t.key) for t in db.scalars(select(MessageTemplate).where(
        MessageTemplate.miniapp_id == miniapp_id))]
