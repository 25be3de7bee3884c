"""Holds: a checkout's claim on one slot place and on its SKUs' stock, all or nothing.

Never oversold: every take is one conditional UPDATE (`… SET orders = orders + 1 WHERE orders +
1 <= capacity`, `… SET quantity = quantity - n WHERE quantity >= n`) whose row count says whether
it won. PostgreSQL re-checks the WHERE of an UPDATE that waited for a concurrent one against the
row that one committed, so of N racing checkouts exactly the capacity's number win; SQLite runs
writing transactions one at a time (BEGIN IMMEDIATE). A hold's takes run in one savepoint: the
first refusal undoes the others. Rows are taken in one order (the hold, its slot, then stock by
SKU id), so transactions never deadlock as long as each touches one hold (a checkout, a
payment, a cancellation, one expiry each). Every status change is conditional on the status it
leaves, so confirm, release and expiry each happen at most once, whoever races."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Update, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from townsquare.core.clock import clock
from townsquare.core.database import rows_changed
from townsquare.core.errors import Conflict, TownsquareError, ValidationFailed
from townsquare.ordering.catalog.models import Product, Sku, Stock
from townsquare.ordering.slots import calendar
from townsquare.ordering.slots.models import (
    Hold,
    HoldLine,
    HoldStatus,
    Kind,
    SlotLoad,
    SlotRule,
)
from townsquare.ordering.slots.rules import as_calendar_rule, usable_rule
from townsquare.ordering.stores.models import PickupPoint, Store

MAX_QUANTITY = 999


class SlotNotOffered(TownsquareError):
    code = "slot_not_offered"
    status = 422


class SlotFull(Conflict):
    code = "slot_full"


class OutOfStock(Conflict):
    code = "out_of_stock"


class SoldOut(Conflict):
    code = "sold_out"


class HoldMismatch(Conflict):
    code = "idempotency_mismatch"


class HoldGone(Conflict):
    code = "hold_gone"


def _lines(db: Session, store: Store, quantities: Mapping[int, int],
           slot_local: datetime) -> list[tuple[Sku, int]]:
    if not quantities:
        raise ValidationFailed("The cart is empty.", field="items")
    for quantity in quantities.values():
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not (
                1 <= quantity <= MAX_QUANTITY):
            raise ValidationFailed("A quantity is 1 to {n}.", n=MAX_QUANTITY, field="items")
    skus = {s.id: s for s in db.scalars(select(Sku).where(Sku.id.in_(list(quantities))))}
    minute = slot_local.hour * 60 + slot_local.minute
    found = []
    for sku_id in sorted(quantities):
        sku = skus.get(sku_id)
        if sku is None or sku.merchant_id != store.merchant_id or not sku.product.active:
            raise ValidationFailed("This item is not sold here.", field="items")
        product: Product = sku.product
        if sku.sold_out or product.sold_out:
            raise SoldOut("{name} is sold out.", name=_label(sku))
        start, end = product.available_from, product.available_until
        if start is not None and end is not None and not start <= minute < end:
            raise SoldOut("{name} is not available at this time.", name=_label(sku))
        found.append((sku, quantities[sku_id]))
    return found


def _label(sku: Sku) -> str:
    return f"{sku.product.name} {sku.spec}".strip()


def _same(hold: Hold, rule: SlotRule, slot_start: datetime,
          quantities: Mapping[int, int]) -> bool:
    held = {line.sku_id: line.quantity for line in hold.lines}
    return (hold.rule_id, hold.slot_start, held) == (rule.id, slot_start, dict(quantities))


def _replay(db: Session, hold_key: str, rule: SlotRule, slot_start: datetime,
            quantities: Mapping[int, int]) -> Hold | None:
    found = db.scalar(select(Hold).where(Hold.hold_key == hold_key))
    if found is not None and not _same(found, rule, slot_start, quantities):
        raise HoldMismatch("This request id was already used for a different checkout.")
    return found


def _load_id(db: Session, rule: SlotRule, slot_start: datetime) -> int:
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    db.execute(dialect.insert(SlotLoad).values(
        rule_id=rule.id, slot_start=slot_start, orders=0, prep=0, confirmed=0,
    ).on_conflict_do_nothing(index_elements=["rule_id", "slot_start"]))
    return int(db.scalar(select(SlotLoad.id).where(SlotLoad.rule_id == rule.id,
                                                   SlotLoad.slot_start == slot_start)) or 0)


def _take_place(db: Session, load_id: int, rule: SlotRule, prep: int) -> None:
    stmt = update(SlotLoad).where(SlotLoad.id == load_id)
    if rule.capacity_orders is not None:
        stmt = stmt.where(SlotLoad.orders + 1 <= rule.capacity_orders)
    if rule.capacity_prep is not None:
        stmt = stmt.where(SlotLoad.prep + prep <= rule.capacity_prep)
    taken = db.execute(stmt.values(orders=SlotLoad.orders + 1, prep=SlotLoad.prep + prep)
                       .execution_options(synchronize_session=False))
    if not rows_changed(taken):
        raise SlotFull("This time slot is full. Please choose another.")


def _take_stock(db: Session, store: Store, sku: Sku, quantity: int) -> bool:
    """Take `quantity` of a counted SKU; False when the store does not count its stock."""
    counted = db.scalar(select(Stock.id).where(Stock.sku_id == sku.id,
                                               Stock.store_id == store.id,
                                               Stock.quantity.is_not(None)))
    if counted is None:
        return False
    taken = db.execute(update(Stock).where(Stock.id == counted, Stock.quantity >= quantity)
                       .values(quantity=Stock.quantity - quantity, held=Stock.held + quantity)
                       .execution_options(synchronize_session=False))
    if not rows_changed(taken):
        raise OutOfStock("Only a few of {name} are left; fewer than you asked for.",
                         name=_label(sku))
    return True


def hold(db: Session, *, store: Store, kind: Kind | str, slot_start: datetime,
         sku_quantities: Mapping[int, int], hold_key: str, expires_at: datetime,
         point: PickupPoint | None = None, now: datetime | None = None) -> Hold:
    """Hold one place in the slot and the stock of each SKU (row id → quantity), or refuse it
    whole and change nothing: SlotNotOffered (closed, past, cut off), SlotFull, SoldOut,
    OutOfStock. The same `hold_key` with the same content returns the first hold, whatever its
    status now (a released or expired one is not taken again: the caller checks `status`)."""
    now = now or clock.now()
    rule = usable_rule(db, store=store, kind=Kind(kind), point=point)
    if rule is None:
        raise SlotNotOffered("This store does not offer this kind of order.")
    if not hold_key or len(hold_key) > 160:
        raise ValidationFailed("A checkout needs a request id of 1 to 160 characters.",
                               field="hold_key")
    if (done := _replay(db, hold_key, rule, slot_start, sku_quantities)) is not None:
        return done
    zone = ZoneInfo(store.timezone)
    if not calendar.is_offered(slot_start, hours=store.hours, store_closed=store.closed_days,
                               rule=as_calendar_rule(rule), zone=zone, now=now):
        raise SlotNotOffered("This time slot is closed or past. Please choose another.")
    lines = _lines(db, store, sku_quantities, slot_start.astimezone(zone))
    prep = sum(sku.product.prep_minutes * quantity for sku, quantity in lines)
    load_id = _load_id(db, rule, slot_start)
    try:
        with db.begin_nested():
            held = Hold(hold_key=hold_key, rule_id=rule.id, store_id=store.id,
                        slot_start=slot_start, prep=prep, expires_at=expires_at)
            db.add(held)
            db.flush()
            _take_place(db, load_id, rule, prep)
            for sku, quantity in lines:
                counted = _take_stock(db, store, sku, quantity)
                db.add(HoldLine(hold_id=held.id, sku_id=sku.id, quantity=quantity,
                                counted=counted))
            db.flush()
    except IntegrityError:
        # the same key committed first by a concurrent checkout
        if (done := _replay(db, hold_key, rule, slot_start, sku_quantities)) is not None:
            return done
        raise
    db.refresh(held, ["lines"])
    return held


def _move(db: Session, hold: Hold, to: HoldStatus, *, from_: HoldStatus,
          now: datetime) -> bool:
    values: dict[str, object] = {"status": to}
    values["confirmed_at" if to is HoldStatus.CONFIRMED else "released_at"] = now
    moved = db.execute(update(Hold).where(Hold.id == hold.id, Hold.status == from_)
                       .values(**values).execution_options(synchronize_session=False))
    return bool(rows_changed(moved))


def _load(hold: Hold) -> Update:
    return update(SlotLoad).where(SlotLoad.rule_id == hold.rule_id,
                                  SlotLoad.slot_start == hold.slot_start)


def _stock(hold: Hold, line: HoldLine) -> Update:
    return update(Stock).where(Stock.sku_id == line.sku_id, Stock.store_id == hold.store_id)


def _here(db: Session, hold: Hold) -> Hold:
    """The hold as this session knows it (a checkout may hand one over from an earlier one)."""
    return hold if hold in db else db.get_one(Hold, hold.id)


def confirm(db: Session, hold: Hold, *, now: datetime | None = None) -> Hold:
    """The checkout is paid: the place and stock are the order's. Idempotent; HoldGone if the
    hold was released or expired first (the payment must then be refunded)."""
    now, hold = now or clock.now(), _here(db, hold)
    if _move(db, hold, HoldStatus.CONFIRMED, from_=HoldStatus.HELD, now=now):
        db.execute(_load(hold).values(confirmed=SlotLoad.confirmed + 1))
        for line in hold.lines:
            if line.counted:
                db.execute(_stock(hold, line).values(held=Stock.held - line.quantity))
    db.refresh(hold)
    if hold.status is not HoldStatus.CONFIRMED:
        raise HoldGone("This checkout has expired. Please order again.")
    return hold


def get_hold(db: Session, hold_key: str) -> Hold | None:
    return db.scalar(select(Hold).where(Hold.hold_key == hold_key))


def release(db: Session, hold: Hold, *, now: datetime | None = None,
            status: HoldStatus = HoldStatus.RELEASED) -> bool:
    """Give the place and stock back (unpaid timeout, close, cancel, even after payment).
    True if this call released it; False if it was already released or expired."""
    now, hold = now or clock.now(), _here(db, hold)
    if _move(db, hold, status, from_=HoldStatus.HELD, now=now):
        was_confirmed = False
    elif status is HoldStatus.RELEASED and _move(db, hold, status, from_=HoldStatus.CONFIRMED,
                                                 now=now):
        was_confirmed = True
    else:
        db.refresh(hold)
        return False
    db.execute(_load(hold).values(orders=SlotLoad.orders - 1, prep=SlotLoad.prep - hold.prep,
                                  confirmed=SlotLoad.confirmed - int(was_confirmed)))
    for line in hold.lines:
        if line.counted:
            db.execute(_stock(hold, line).values(
                quantity=Stock.quantity + line.quantity,
                held=Stock.held - (0 if was_confirmed else line.quantity)))
    db.refresh(hold)
    return True


def due(db: Session, *, now: datetime | None = None, limit: int = 500) -> list[int]:
    """The ids of holds whose time ran out unpaid, oldest first."""
    return list(db.scalars(select(Hold.id).where(Hold.status == HoldStatus.HELD,
                                                 Hold.expires_at <= (now or clock.now()))
                           .order_by(Hold.expires_at, Hold.id).limit(limit)))


def expire(db: Session, hold_id: int, *, now: datetime | None = None) -> bool:
    """Release one hold that ran out unpaid; False if it was paid or released meanwhile."""
    found = db.get(Hold, hold_id)
    if found is None or found.expires_at > (now or clock.now()):
        return False
    return release(db, found, now=now, status=HoldStatus.EXPIRED)


def expire_due(db: Session, *, now: datetime | None = None, limit: int = 500) -> int:
    """Release the due holds in this one transaction (tests, a quiet maintenance run). Beside
    live checkouts use `slots.jobs.expire_holds`, one transaction per hold: a transaction that
    touches several holds takes their slot and stock rows out of order and can deadlock."""
    return sum(expire(db, hold_id, now=now) for hold_id in due(db, now=now, limit=limit))
