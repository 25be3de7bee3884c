"""Slot rules: a store's settings per fulfilment kind, and the slots it offers right now with
the room left in each (full slots are not offered)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.core.errors import NotFound, ValidationFailed
from townsquare.ordering.slots import calendar
from townsquare.ordering.slots.models import Kind, SlotLoad, SlotRule
from townsquare.ordering.stores import service as stores
from townsquare.ordering.stores.hours import parse_closed_days
from townsquare.ordering.stores.models import PickupPoint, Store


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime
    places_left: int | None  # None: not limited by count
    prep_left: int | None  # None: not limited by kitchen minutes


def rule_for(db: Session, *, store: Store, kind: Kind,
             point: PickupPoint | None = None) -> SlotRule | None:
    if (kind is Kind.COMMUNITY) != (point is not None):
        return None  # community slots are per pickup point, the others per store
    found = select(SlotRule).where(SlotRule.store_id == store.id, SlotRule.kind == kind)
    found = found.where(SlotRule.point_id == point.id if point else SlotRule.point_id.is_(None))
    return db.scalar(found)


def usable_rule(db: Session, *, store: Store, kind: Kind,
                point: PickupPoint | None = None) -> SlotRule | None:
    """The rule to offer and hold slots by: enabled, the store taking orders, and its pickup
    or delivery switch on for those kinds (a paused pickup point offers nothing)."""
    rule = rule_for(db, store=store, kind=kind, point=point)
    switched_off = ((kind is Kind.PICKUP and not store.pickup)
                    or (kind is Kind.DELIVERY and not store.delivery)
                    or (point is not None and not point.active))
    if rule is None or not rule.enabled or not store.active or switched_off:
        return None
    return rule


def rules_of(db: Session, *, store: Store) -> list[SlotRule]:
    return list(db.scalars(select(SlotRule).where(SlotRule.store_id == store.id)
                           .order_by(SlotRule.kind, SlotRule.id)))


def as_calendar_rule(rule: SlotRule) -> calendar.Rule:
    return calendar.Rule(
        slot_minutes=rule.slot_minutes, lead_minutes=rule.lead_minutes,
        cutoff_time=rule.cutoff_time, cutoff_days=rule.cutoff_days, days_ahead=rule.days_ahead,
        window_start=rule.window_start, window_end=rule.window_end,
        closed_days=frozenset(rule.closed_days),
    )


def _bounded(value: int | None, low: int, high: int, field: str) -> int | None:
    if value is not None and not low <= value <= high:
        raise ValidationFailed("Enter a number from {low} to {high}.", low=low, high=high,
                               field=field)
    return value


def set_rule(db: Session, *, actor: User | None, store_id: str, kind: str,
             point_id: str | None = None, enabled: bool = True, slot_minutes: int = 15,
             capacity_orders: int | None = None, capacity_prep: int | None = None,
             lead_minutes: int = 30, cutoff_time: int | None = None, cutoff_days: int = 0,
             days_ahead: int = 2, window_start: int | None = None,
             window_end: int | None = None, closed_days: str = "") -> SlotRule:
    """Create or change the store's rule for one kind (and pickup point, for community)."""
    store = stores.get_store(db, actor=actor, store_id=store_id)
    if kind not in Kind.__members__.values():
        raise ValidationFailed("Choose a kind of order.", field="kind")
    point = next((p for p in store.points if p.public_id == point_id), None)
    if (Kind(kind) is Kind.COMMUNITY) != (point is not None):
        raise ValidationFailed("Community pickup slots belong to one pickup point.",
                               field="point")
    _bounded(slot_minutes, 5, 1440, "slot_minutes")
    _bounded(capacity_orders, 0, 100_000, "capacity_orders")
    _bounded(capacity_prep, 0, 100_000, "capacity_prep")
    _bounded(lead_minutes, 0, 14 * 1440, "lead_minutes")
    _bounded(cutoff_time, 0, 1440, "cutoff_time")
    _bounded(cutoff_days, 0, 14, "cutoff_days")
    _bounded(days_ahead, 0, 30, "days_ahead")
    _bounded(window_start, 0, 1440, "window_start")
    _bounded(window_end, 0, 1440, "window_end")
    if window_start is not None and window_end is not None and window_end <= window_start:
        raise ValidationFailed("A closing time comes after its opening time.", field="window")
    rule = rule_for(db, store=store, kind=Kind(kind), point=point)
    if rule is None:
        rule = SlotRule(store_id=store.id, kind=Kind(kind), point_id=point.id if point else None)
        db.add(rule)
    rule.enabled, rule.slot_minutes = enabled, slot_minutes
    rule.capacity_orders, rule.capacity_prep = capacity_orders, capacity_prep
    rule.lead_minutes, rule.cutoff_time, rule.cutoff_days = lead_minutes, cutoff_time, cutoff_days
    rule.days_ahead, rule.window_start, rule.window_end = days_ahead, window_start, window_end
    rule.closed_days = parse_closed_days(closed_days)
    db.flush()
    return rule


def offered(db: Session, *, store: Store, kind: Kind | str, point: PickupPoint | None = None,
            prep: int = 0, now: datetime | None = None) -> list[Slot]:
    """The slots a resident may choose now, with room for one more order needing `prep`
    kitchen minutes; full, closed, past and cut-off slots are left out."""
    now = now or clock.now()
    rule = usable_rule(db, store=store, kind=Kind(kind), point=point)
    if rule is None:
        return []
    starts = calendar.offered(hours=store.hours, store_closed=store.closed_days,
                              rule=as_calendar_rule(rule), zone=ZoneInfo(store.timezone),
                              now=now)
    if not starts:
        return []
    loads = {start: (orders, used) for start, orders, used in db.execute(
        select(SlotLoad.slot_start, SlotLoad.orders, SlotLoad.prep)
        .where(SlotLoad.rule_id == rule.id, SlotLoad.slot_start >= starts[0],
               SlotLoad.slot_start <= starts[-1]))}
    found = []
    for start in starts:
        orders, used = loads.get(start, (0, 0))
        places = None if rule.capacity_orders is None else rule.capacity_orders - orders
        minutes = None if rule.capacity_prep is None else rule.capacity_prep - used
        if (places is not None and places < 1) or (minutes is not None and minutes < prep):
            continue
        found.append(Slot(start, start + timedelta(minutes=rule.slot_minutes), places, minutes))
    return found


def get_rule(db: Session, *, actor: User | None, store_id: str, rule_id: str) -> SlotRule:
    store = stores.get_store(db, actor=actor, store_id=store_id)
    rule = next((r for r in rules_of(db, store=store) if r.public_id == rule_id), None)
    if rule is None:
        raise NotFound("No such slot rule.")
    return rule
