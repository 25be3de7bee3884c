"""Fee bills: issue (idempotent per household, item and period), per-room rules, what a
household sees, paying one or several bills in one trade, and the property's figures.

Who may do what: the community's property manager issues bills, sets rules and room areas and
sees the figures; any verified member of a household sees and pays its bills; `actor=None` is
the system (CLI, jobs, the demo)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.community import access
from townsquare.community import property as property_seller
from townsquare.community.bills.models import (
    Bill,
    BillPayment,
    BillPaymentItem,
    BillRule,
    BillStatus,
    PaymentStatus,
    RuleKind,
)
from townsquare.community.models import Community, Household, Room
from townsquare.core import audit
from townsquare.core.errors import Conflict, NotFound, ValidationFailed
from townsquare.core.ids import new_id
from townsquare.core.text import clean_name, well_formed
from townsquare.gateway import apps as gateway_apps
from townsquare.payments.trades import service as trades

OUT_TRADE_PREFIX = "bil_"  # the payments' public ids: their trades' out_trade_no
ITEMS = ("物业费", "水费", "电费", "停车费", "燃气费", "垃圾处理费")  # offered; any name goes
MAX_BILL_FEN = 10_000_000  # ¥100,000 per bill
MAX_PAY_BILLS = 50
PAY_TIMEOUT_MINUTES = 30
_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class BillPaid(Conflict):
    code = "bill_paid"


class BillsChanged(Conflict):
    code = "bills_changed"


class BillWrittenOff(Conflict):
    code = "bill_written_off"


# --- checks ------------------------------------------------------------------------------

def clean_item(text: str) -> str:
    return clean_name(text, field="item", max_length=16,
                      message="A fee item is 1 to {n} characters.")


def clean_period(text: str) -> str:
    text = (text or "").strip().replace("/", "-")
    if len(text) == 6 and text.isdigit():  # 202612
        text = f"{text[:4]}-{text[4:]}"
    elif re.fullmatch(r"\d{4}-\d", text):  # 2026-3
        text = f"{text[:5]}0{text[5]}"
    if not _PERIOD.fullmatch(text) or not 2000 <= int(text[:4]) <= 2100:
        raise ValidationFailed("A period is a month written YYYY-MM, such as 2026-12.",
                               field="period")
    return text


def clean_amount(fen: int) -> int:
    if not 0 < fen <= MAX_BILL_FEN:
        raise ValidationFailed("A bill is ¥0.01 to ¥100,000.", field="amount")
    return fen


def clean_area(text: str) -> int:
    """"89.37" (m²) → 8937 dm²."""
    value = (text or "").strip().replace("㎡", "").replace("m²", "").replace("m2", "").strip()
    if not re.fullmatch(r"\d{1,5}(\.\d{1,2})?", value) or not 0 < Decimal(value) <= 10_000:
        raise ValidationFailed("An area is 0.01 to 10,000 m² with at most two decimals.",
                               field="area")
    return int(Decimal(value) * 100)


def area_text(dm2: int | None) -> str:
    return "" if dm2 is None else str((Decimal(dm2) / 100).quantize(Decimal("0.01")))


def period_start(period: str) -> date:
    return date(int(period[:4]), int(period[5:7]), 1)


# --- issuing -----------------------------------------------------------------------------

def require_property(db: Session, *, actor: User | None, community: Community) -> None:
    access.require(db, actor=actor, community=community, roles=[access.PM])


def issue(db: Session, *, actor: User | None, community: Community, household: Household,
          item: str, period: str, amount_fen: int, due_date: date, detail: str = "",
          source: str = "import") -> tuple[Bill, str]:
    """Issue a bill, or find the one already issued for this household, item and period:
    answers it and "created", "updated" (an unpaid bill with another amount or due date) or
    "unchanged". A paid bill cannot be changed (BillPaid)."""
    require_property(db, actor=actor, community=community)
    if household.community_id != community.id:
        raise NotFound("No such household in this community.")
    item, period, amount_fen = clean_item(item), clean_period(period), clean_amount(amount_fen)
    found = db.scalar(select(Bill).where(Bill.household_id == household.id, Bill.item == item,
                                         Bill.period == period))
    if found is not None:
        if (found.amount_fen, found.due_date) == (amount_fen, due_date):
            return found, "unchanged"
        if found.status is BillStatus.PAID:
            raise BillPaid("The {item} bill for {period} is already paid and cannot change.",
                           item=item, period=period)
        if found.status is BillStatus.WRITTEN_OFF:
            raise BillWrittenOff("The {item} bill for {period} was written off and cannot "
                                 "change.", item=item, period=period)
        found.amount_fen, found.due_date, found.detail = amount_fen, due_date, detail[:100]
        db.flush()
        return found, "updated"
    bill = Bill(community_id=community.id, household_id=household.id, item=item, period=period,
                amount_fen=amount_fen, due_date=due_date, detail=detail[:100], source=source,
                issued_by_id=actor.id if actor else None)
    db.add(bill)
    db.flush()
    return bill, "created"


def set_area(db: Session, *, actor: User | None, community: Community, room: Room,
             area_dm2: int | None) -> Room:
    require_property(db, actor=actor, community=community)
    if room.community_id != community.id:
        raise NotFound("No such room in this community.")
    room.area_dm2 = area_dm2
    db.flush()
    return room


def set_rule(db: Session, *, actor: User | None, community: Community, item: str, kind: str,
             rate_fen: int, building: str = "", due_days: int = 15) -> BillRule:
    """Create or change the rule for an item (in one building, or in all of them)."""
    require_property(db, actor=actor, community=community)
    item = clean_item(item)
    try:
        rule_kind = RuleKind(kind)
    except ValueError:
        raise ValidationFailed("Choose per m² or a fixed amount per room.", field="kind") from None
    if not 0 < rate_fen <= 1_000_000:
        raise ValidationFailed("A rate is ¥0.01 to ¥10,000.", field="rate")
    if not 1 <= due_days <= 90:
        raise ValidationFailed("A bill falls due 1 to {n} days into its month.", n=90,
                               field="due_days")
    building = (building or "").strip()[:16]
    rule = db.scalar(select(BillRule).where(BillRule.community_id == community.id,
                                            BillRule.item == item, BillRule.building == building))
    if rule is None:
        rule = BillRule(community_id=community.id, item=item, building=building, kind=rule_kind,
                        rate_fen=rate_fen, due_days=due_days)
        db.add(rule)
    else:
        rule.kind, rule.rate_fen, rule.due_days = rule_kind, rate_fen, due_days
    db.flush()
    audit.record(db, actor_id=actor.id if actor else None, action="community.bills.rule",
                 subject_type="community", subject_id=community.public_id, item=item,
                 kind=rule_kind.value, rate_fen=rate_fen, building=building)
    return rule


def rules_of(db: Session, *, actor: User | None, community: Community) -> list[BillRule]:
    require_property(db, actor=actor, community=community)
    return list(db.scalars(select(BillRule).where(BillRule.community_id == community.id)
                           .order_by(BillRule.item, BillRule.building)))


def get_rule(db: Session, *, community: Community, rule_id: str) -> BillRule:
    found = None
    if well_formed(rule_id, "brl"):
        found = db.scalar(select(BillRule).where(BillRule.public_id == rule_id,
                                                 BillRule.community_id == community.id))
    if found is None:
        raise NotFound("No such fee rule.")
    return found


def rule_amount(rule: BillRule, room: Room) -> tuple[int, str] | None:
    """What the rule charges the room for one month and how (None: its area is unknown)."""
    rate = (Decimal(rule.rate_fen) / 100).quantize(Decimal("0.01"))
    if rule.kind is RuleKind.FIXED:
        return rule.rate_fen, f"¥{rate}"
    if room.area_dm2 is None:
        return None
    fen = (Decimal(room.area_dm2) * rule.rate_fen / 100).quantize(Decimal(1), ROUND_HALF_UP)
    return int(fen), f"{area_text(room.area_dm2)} m² × ¥{rate}"


@dataclass
class RuleRun:
    created: int = 0
    unchanged: int = 0
    updated: int = 0
    no_area: list[str] | None = None  # rooms skipped for want of an area
    paid_differs: list[str] | None = None  # rooms whose paid bill differs from the rule


def apply_rule(db: Session, *, actor: User | None, community: Community, rule: BillRule,
               period: str) -> RuleRun:
    """Issue the rule's bills for a month to every household it covers (idempotent)."""
    require_property(db, actor=actor, community=community)
    period = clean_period(period)
    due = period_start(period) + timedelta(days=rule.due_days - 1)
    run = RuleRun(no_area=[], paid_differs=[])
    stmt = (select(Household).join(Room, Room.id == Household.room_id)
            .where(Household.community_id == community.id))
    if rule.building:
        stmt = stmt.where(Room.building == rule.building)
    for household in db.scalars(stmt.order_by(Room.building, Room.unit, Room.number)):
        charged = rule_amount(rule, household.room)
        if charged is None:
            run.no_area.append(household.room.label)  # type: ignore[union-attr]
            continue
        try:
            _, outcome = issue(db, actor=actor, community=community, household=household,
                               item=rule.item, period=period, amount_fen=charged[0],
                               due_date=due, detail=charged[1], source="rule")
        except BillPaid:
            run.paid_differs.append(household.room.label)  # type: ignore[union-attr]
            continue
        setattr(run, outcome, getattr(run, outcome) + 1)
    audit.record(db, actor_id=actor.id if actor else None, action="community.bills.rule_run",
                 subject_type="community", subject_id=community.public_id, item=rule.item,
                 period=period, created=run.created, updated=run.updated)
    return run


# --- the household's side ----------------------------------------------------------------

def my_household(db: Session, *, actor: User, community: Community) -> Household:
    return access.require_resident(db, actor=actor, community=community).household


def household_bills(db: Session, *, actor: User, community: Community) -> list[Bill]:
    """The actor's household's bills: unpaid first (oldest due first), then paid, newest."""
    household = my_household(db, actor=actor, community=community)
    return list(db.scalars(select(Bill).where(Bill.household_id == household.id).order_by(
        case((Bill.status == BillStatus.UNPAID, 0), else_=1), Bill.due_date, Bill.period.desc(),
        Bill.item)))


def pay(db: Session, *, actor: User, community: Community, bill_ids: list[str],
        idempotency_key: str) -> BillPayment:
    """One trade under the property's mini-app for the chosen unpaid bills of the actor's
    household, to be paid in the cashier. The same key answers the same payment."""
    household = my_household(db, actor=actor, community=community)
    key = (idempotency_key or "").strip()[:64]
    if not key:
        raise ValidationFailed("The form is missing its request id; reload the page.")
    again = db.scalar(select(BillPayment).where(BillPayment.user_id == actor.id,
                                                BillPayment.idempotency_key == key))
    if again is not None:
        return again
    wanted = list(dict.fromkeys(b for b in bill_ids if well_formed(b, "fee")))
    if not 1 <= len(wanted) <= MAX_PAY_BILLS:
        raise ValidationFailed("Choose 1 to {n} bills to pay.", n=MAX_PAY_BILLS, field="bills")
    bills = list(db.scalars(select(Bill).where(Bill.public_id.in_(wanted),
                                               Bill.household_id == household.id)
                            .order_by(Bill.id)))
    if len(bills) != len(wanted):
        raise NotFound("No such bill for your household.")
    if any(b.status is BillStatus.PAID for b in bills):
        raise BillPaid("A bill you chose has already been paid (perhaps by another member).")
    if any(b.status is BillStatus.WRITTEN_OFF for b in bills):
        raise BillWrittenOff("A bill you chose was written off by the property: nothing to pay.")
    miniapp = property_seller.property_miniapp(db, community)
    app = gateway_apps.app_for_miniapp(db, actor=None, miniapp=miniapp)
    total = sum(b.amount_fen for b in bills)
    subject = (f"{community.name} {household.room.label} "
               + "、".join(dict.fromkeys(f"{b.item}{b.period}" for b in bills)))[:120]
    public_id = new_id("bil")
    trade = trades.create(
        db, app=app, merchant_id=miniapp.merchant_id, miniapp_id=miniapp.id,
        out_trade_no=public_id, total_fen=total, subject=subject,
        product_code="JSAPI_PAY", timeout_minutes=PAY_TIMEOUT_MINUTES, notify_url="",
        return_url=f"/community/{community.public_id}/bills?paid={public_id}",
        buyer_user_id=actor.id, content_digest=trades.digest(total_fen=total, subject=subject))
    payment = BillPayment(public_id=public_id, community_id=community.id,
                          household_id=household.id, user_id=actor.id, idempotency_key=key,
                          trade_no=trade.trade_no, total_fen=total)
    try:
        with db.begin_nested():
            db.add(payment)
            db.flush()
    except IntegrityError:  # the same form sent twice at once: the first one's payment
        again = db.scalar(select(BillPayment).where(BillPayment.user_id == actor.id,
                                                    BillPayment.idempotency_key == key))
        if again is None:
            raise
        return again  # (this request's trade is never paid and closes at its timeout)
    db.add_all(BillPaymentItem(payment_id=payment.id, bill_id=b.id, amount_fen=b.amount_fen)
               for b in bills)
    db.flush()
    return payment


# --- the property's figures --------------------------------------------------------------

@dataclass(frozen=True)
class Figure:
    period: str
    item: str
    bills: int
    paid_bills: int
    collected_fen: int
    outstanding_fen: int
    overdue_bills: int
    overdue_fen: int
    written_off_bills: int = 0  # neither collected nor outstanding
    written_off_fen: int = 0


def figures(db: Session, *, actor: User | None, community: Community, today: date,
            period: str = "") -> list[Figure]:
    """Collected and outstanding per period and item, newest period first (a written-off bill
    is neither: it is counted apart)."""
    require_property(db, actor=actor, community=community)
    paid = Bill.status == BillStatus.PAID
    unpaid = Bill.status == BillStatus.UNPAID
    gone = Bill.status == BillStatus.WRITTEN_OFF
    overdue = unpaid & (Bill.due_date < today)
    stmt = (
        select(Bill.period, Bill.item, func.count(),
               func.sum(case((paid, 1), else_=0)),
               func.sum(case((paid, Bill.amount_fen), else_=0)),
               func.sum(case((unpaid, Bill.amount_fen), else_=0)),
               func.sum(case((overdue, 1), else_=0)),
               func.sum(case((overdue, Bill.amount_fen), else_=0)),
               func.sum(case((gone, 1), else_=0)),
               func.sum(case((gone, Bill.amount_fen), else_=0)))
        .where(Bill.community_id == community.id)
        .group_by(Bill.period, Bill.item).order_by(Bill.period.desc(), Bill.item)
    )
    if period:
        stmt = stmt.where(Bill.period == clean_period(period))
    return [Figure(p, i, int(n), int(pn or 0), int(c or 0), int(o or 0), int(dn or 0),
                   int(df or 0), int(wn or 0), int(wf or 0))
            for p, i, n, pn, c, o, dn, df, wn, wf in db.execute(stmt)]


def bills_of(db: Session, *, actor: User | None, community: Community, period: str = "",
             item: str = "", status: str = "", limit: int = 500) -> list[Bill]:
    require_property(db, actor=actor, community=community)
    stmt = select(Bill).join(Household, Household.id == Bill.household_id).join(
        Room, Room.id == Household.room_id).where(Bill.community_id == community.id)
    if period:
        stmt = stmt.where(Bill.period == clean_period(period))
    if item:
        stmt = stmt.where(Bill.item == item[:16])
    if status in {s.value for s in BillStatus}:
        stmt = stmt.where(Bill.status == BillStatus(status))
    return list(db.scalars(stmt.order_by(Bill.period.desc(), Room.building, Room.unit,
                                         Room.number, Bill.item).limit(limit)))


def payment_status(db: Session, *, payment_id: str) -> PaymentStatus | None:
    return db.scalar(select(BillPayment.status).where(BillPayment.public_id == payment_id[:24]))
