"""The points ledger: merchants earn points for good digital operation and redeem them for exposure.

`points_entries` is append-only (an entry is never updated or deleted); `points_accounts` holds
the balance, changed only by one guarded statement, `balance = balance + d WHERE balance + d >= 0`,
next to the entry that records it (with `balance_after`). Two concurrent redemptions therefore
cannot both spend the same points: the second UPDATE waits for the first's row lock and then
re-checks the guard (PostgreSQL) or waits for the write lock (SQLite, BEGIN IMMEDIATE).

Each earning has a reference `earn:<rule>:<ma id>:<ISO week | once>`, unique per merchant, so a
rule pays once per period however often `award` runs; and a rule pays one merchant at most its
`weekly_cap` points in a local week however many mini-apps it lists (the merchant's account row
is locked while the week's earnings are read, so racing awards cannot pass the cap).

A redemption is idempotent by its key (unique per merchant): a retry returns the first
redemption and charges nothing. `settle` refunds the undelivered share of an ended package once
(`refund:<rdm id>`).

Earning rules (config `points_rules`, by code; a rule with another code earns nothing):
- complete_profile: a listed mini-app with an icon, a description of 20+ characters and tags;
- store_pickup: the published version's config offers store pickup (`store_pickup: true`, the
  storefront runtime's field, which the storefront page shows as a badge);
- on_time_streak: in the past local week (Monday to Sunday), 10+ fulfilled orders and no order
  cancelled by the merchant;
- quick_replies: in the past local week, 5+ message responses with a median under 10 minutes.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from townsquare.accounts.models import Role, User
from townsquare.accounts.permissions import require_role
from townsquare.core import audit
from townsquare.core.clock import clock
from townsquare.core.database import rows_changed
from townsquare.core.errors import Conflict, NotFound, ValidationFailed
from townsquare.core.i18n import N_
from townsquare.core.ids import new_id
from townsquare.core.settings import get_settings
from townsquare.core.text import clean_text, well_formed
from townsquare.merchants import service as merchants
from townsquare.merchants.models import Merchant
from townsquare.messaging.notifications import notify
from townsquare.miniapps.models import MiniApp
from townsquare.traffic import config as traffic_config
from townsquare.traffic.config import PointsRule, TrafficConfig
from townsquare.traffic.models import (
    PointsAccount,
    PointsEntry,
    PointsEntryKind,
    Promise,
    PromiseKind,
    PromiseState,
    Redemption,
    RedemptionState,
)
from townsquare.traffic.support import earning

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_ADJUST = 10_000_000
REASON_MESSAGE = N_("A reason is 1 to {n} characters.")


def balance(db: Session, *, merchant_id: int) -> int:
    """The merchant's points balance (0 before its first entry)."""
    value = db.scalar(select(PointsAccount.balance).where(PointsAccount.merchant_id == merchant_id))
    return int(value or 0)


def _ensure_account(db: Session, merchant_id: int) -> None:
    if db.scalar(select(PointsAccount.merchant_id).where(PointsAccount.merchant_id == merchant_id)):
        return
    try:  # another transaction may create it at the same moment: the primary key decides
        with db.begin_nested():
            db.execute(insert(PointsAccount).values(merchant_id=merchant_id, balance=0))
    except IntegrityError:
        pass


def _post(
    db: Session, *, merchant_id: int, kind: PointsEntryKind, delta: int, reference: str,
    rule: str = "", miniapp_id: int | None = None, note: str = "", actor_id: int | None = None,
) -> PointsEntry:
    """Move the balance by `delta` (guarded: never below zero) and append its ledger entry."""
    if delta > 0:
        _ensure_account(db, merchant_id)
    stmt = (
        update(PointsAccount)
        .where(PointsAccount.merchant_id == merchant_id, PointsAccount.balance + delta >= 0)
        .values(balance=PointsAccount.balance + delta)
        .returning(PointsAccount.balance)
        .execution_options(synchronize_session=False)
    )
    after = db.execute(stmt).scalar_one_or_none()
    if after is None:
        raise Conflict(
            "Not enough points: the balance is {balance}, this needs {needed}.",
            code="insufficient_points", balance=balance(db, merchant_id=merchant_id),
            needed=-delta,
        )
    entry = PointsEntry(merchant_id=merchant_id, kind=kind, delta=delta, balance_after=after,
                        rule=rule, reference=reference, miniapp_id=miniapp_id, note=note,
                        actor_id=actor_id)
    db.add(entry)
    db.flush()
    return entry


@dataclass(frozen=True)
class Cap:
    """At most `points` earned from one rule by one merchant within [start, end)."""

    points: int
    start: datetime
    end: datetime


def earned(db: Session, *, merchant_id: int, rule_code: str, start: datetime,
           end: datetime) -> int:
    """Points the merchant earned from a rule within [start, end)."""
    stmt = select(func.coalesce(func.sum(PointsEntry.delta), 0)).where(
        PointsEntry.merchant_id == merchant_id, PointsEntry.kind == PointsEntryKind.EARN,
        PointsEntry.rule == rule_code, PointsEntry.created_at >= start,
        PointsEntry.created_at < end,
    )
    return int(db.scalar(stmt) or 0)


def earn(
    db: Session, *, merchant_id: int, rule_code: str, points: int, reference: str,
    miniapp_id: int | None = None, cap: Cap | None = None,
) -> PointsEntry | None:
    """Credit points once per reference; None when this reference was already paid, or when
    `cap` has no room left for them (the reference stays unpaid: a later period may pay it)."""
    if points <= 0 or not reference or len(reference) > 128:
        raise ValidationFailed("Points earned are a positive number with a reference.")
    if cap is not None:
        # one merchant's capped awards take turns on its account row, so two racing awards
        # cannot both see room for their points (SQLite: the write lock of BEGIN IMMEDIATE)
        _ensure_account(db, merchant_id)
        db.execute(select(PointsAccount.merchant_id)
                   .where(PointsAccount.merchant_id == merchant_id).with_for_update())
    stmt = select(PointsEntry.id).where(
        PointsEntry.merchant_id == merchant_id, PointsEntry.reference == reference
    )
    if db.scalar(stmt) is not None:
        return None
    if cap is not None and earned(db, merchant_id=merchant_id, rule_code=rule_code,
                                  start=cap.start, end=cap.end) + points > cap.points:
        return None
    try:  # a concurrent award of the same reference: the unique constraint keeps one
        with db.begin_nested():
            entry = _post(db, merchant_id=merchant_id, kind=PointsEntryKind.EARN, delta=points,
                          reference=reference, rule=rule_code, miniapp_id=miniapp_id)
    except IntegrityError:
        return None
    _tell(db, entry, "points.earned", points=points)
    return entry


def _tell(db: Session, entry: PointsEntry, kind: str, **params: object) -> None:
    """The merchant's staff hear of every move of their balance (same transaction)."""
    miniapp = db.get(MiniApp, entry.miniapp_id) if entry.miniapp_id else None
    merchant = db.get(Merchant, entry.merchant_id)
    assert merchant is not None  # the ledger entry's foreign key
    notify(db, kind=kind, merchant_id=entry.merchant_id, miniapp=miniapp,
           params={"miniapp": miniapp.name if miniapp else merchant.name,
                   "balance": entry.balance_after, **params},
           link=f"/console/merchant/{merchant.public_id}/traffic#points")


def award(
    db: Session, *, config: TrafficConfig, now: datetime, timezone: str | None = None
) -> int:
    """Evaluate every earning rule for every listed mini-app; returns the entries created.

    `timezone` (default: the settings' zone) decides the local week weekly rules look at.
    """
    tz = timezone or get_settings().timezone
    week = earning.past_week(now, tz)
    this_week = earning.week_of(now, tz)  # the caps' period
    qualified = earning.qualifying(db, codes=[r.code for r in config.points_rules], week=week)
    apps = {
        ma_id: (public_id, merchant_id)
        for ma_id, public_id, merchant_id in db.execute(
            select(MiniApp.id, MiniApp.public_id, MiniApp.merchant_id).where(MiniApp.listed)
        )
    }
    wanted: dict[tuple[int, str], tuple[PointsRule, int]] = {}
    for rule in config.points_rules:
        period = week.label if rule.period == "week" else "once"
        for ma_id in sorted(qualified.get(rule.code, set()) & apps.keys()):
            public_id, merchant_id = apps[ma_id]
            reference = f"earn:{rule.code}:{public_id}:{period}"
            wanted[(merchant_id, reference)] = (rule, ma_id)
    paid = _existing(db, [ref for _, ref in wanted])
    created = 0
    for (merchant_id, reference), (rule, ma_id) in sorted(wanted.items()):
        if (merchant_id, reference) in paid:
            continue
        entry = earn(db, merchant_id=merchant_id, rule_code=rule.code, points=rule.points,
                     reference=reference, miniapp_id=ma_id,
                     cap=Cap(rule.cap, this_week.start, this_week.end))
        created += entry is not None
    return created


def _existing(db: Session, references: list[str]) -> set[tuple[int, str]]:
    found: set[tuple[int, str]] = set()
    for i in range(0, len(references), 500):
        chunk = references[i:i + 500]
        stmt = select(PointsEntry.merchant_id, PointsEntry.reference).where(
            PointsEntry.reference.in_(chunk)
        )
        found.update((m, r) for m, r in db.execute(stmt))
    return found


# -- redemptions ----------------------------------------------------------------------------
def _by_key(db: Session, merchant_id: int, key: str) -> Redemption | None:
    stmt = select(Redemption).where(
        Redemption.merchant_id == merchant_id, Redemption.idempotency_key == key
    )
    return db.scalar(stmt.execution_options(populate_existing=True))


def _replay(found: Redemption, *, package_code: str, miniapp_public_id: str) -> Redemption:
    if found.package_code != package_code or found.miniapp.public_id != miniapp_public_id:
        raise Conflict("This idempotency key was already used for a different redemption.",
                       code="idempotency_key_reused")
    return found


def redeem_once(
    db: Session, *, actor: User | None, merchant_public_id: str, miniapp_public_id: str,
    package_code: str, idempotency_key: str, config: TrafficConfig | None = None,
    now: datetime | None = None,
) -> tuple[Redemption, bool]:
    """`redeem`, also telling whether this call created the redemption (False: a replay)."""
    if not isinstance(idempotency_key, str) or not IDEMPOTENCY_KEY.fullmatch(idempotency_key):
        raise ValidationFailed(
            "An idempotency key is 1 to 64 letters, digits, '-' or '_'.", field="idempotency_key"
        )
    merchant = merchants.merchant_for_actor(db, actor=actor, public_id=merchant_public_id)
    found = _by_key(db, merchant.id, idempotency_key)
    if found is not None:
        return _replay(found, package_code=package_code,
                       miniapp_public_id=miniapp_public_id), False
    config = config or traffic_config.active(db)
    package = config.package(package_code) if isinstance(package_code, str) else None
    if package is None:
        raise ValidationFailed("Unknown exposure package {package}.",
                               package=str(package_code)[:32], field="package_code")
    miniapp = None
    if well_formed(miniapp_public_id, "ma"):
        miniapp = db.scalar(select(MiniApp).where(MiniApp.public_id == miniapp_public_id))
    if miniapp is None or miniapp.merchant_id != merchant.id:
        raise NotFound("No such mini-app.")
    if not miniapp.listed:
        raise Conflict("Only a listed mini-app can be promoted.")
    now = now or clock.now()
    redemption = Redemption(
        public_id=new_id("rdm"), merchant_id=merchant.id, miniapp_id=miniapp.id,
        idempotency_key=idempotency_key, package_code=package.code, surface=package.surface,
        impressions=package.impressions, points=package.points, starts_at=now,
        ends_at=now + timedelta(days=package.days), created_by_id=actor.id if actor else None,
    )
    try:
        with db.begin_nested():
            db.add(redemption)
            db.flush()  # the (merchant, key) constraint answers a concurrent twin here
            spent = _post(db, merchant_id=merchant.id, kind=PointsEntryKind.REDEEM,
                          delta=-package.points, reference=f"redeem:{redemption.public_id}",
                          rule=package.code, miniapp_id=miniapp.id,
                          actor_id=actor.id if actor else None)
            db.add(Promise(
                kind=PromiseKind.POINTS, source=f"redemption:{redemption.public_id}",
                miniapp_id=miniapp.id, merchant_id=merchant.id, surfaces=[package.surface],
                requested=package.impressions, starts_at=now, ends_at=redemption.ends_at,
                detail={"package": package.code, "redemption": redemption.public_id},
            ))
            db.flush()
    except IntegrityError:
        found = _by_key(db, merchant.id, idempotency_key)
        if found is None:
            raise
        return _replay(found, package_code=package_code,
                       miniapp_public_id=miniapp_public_id), False
    audit.record(db, actor_id=actor.id if actor else None, action="points.redeem",
                 subject_type="redemption", subject_id=redemption.public_id,
                 package=package.code, points=package.points)
    _tell(db, spent, "points.spent", points=package.points, impressions=package.impressions)
    return redemption, True


def redeem(
    db: Session, *, actor: User | None, merchant_public_id: str, miniapp_public_id: str,
    package_code: str, idempotency_key: str, config: TrafficConfig | None = None,
    now: datetime | None = None,
) -> Redemption:
    """Exchange points for an exposure package (idempotent by key; nothing changes on error)."""
    return redeem_once(db, actor=actor, merchant_public_id=merchant_public_id,
                       miniapp_public_id=miniapp_public_id, package_code=package_code,
                       idempotency_key=idempotency_key, config=config, now=now)[0]


def promise_of(db: Session, redemption: Redemption) -> Promise | None:
    stmt = select(Promise).where(
        Promise.kind == PromiseKind.POINTS,
        Promise.source == f"redemption:{redemption.public_id}",
        Promise.miniapp_id == redemption.miniapp_id,
    )
    return db.scalar(stmt)


def settle(db: Session, *, now: datetime) -> int:
    """Close ended packages: fulfilled, or refund ceil(points × undelivered share) once."""
    due = db.scalars(
        select(Redemption)
        .where(Redemption.state == RedemptionState.ACTIVE, Redemption.ends_at <= now)
        .order_by(Redemption.id)
    ).all()
    settled = 0
    for redemption in due:
        promise = promise_of(db, redemption)
        delivered = promise.delivered if promise else 0
        shortfall = max(0, redemption.impressions - delivered)
        refund = math.ceil(redemption.points * shortfall / redemption.impressions)
        state = RedemptionState.REFUNDED if refund else RedemptionState.FULFILLED
        claimed = rows_changed(db.execute(  # a concurrent settle claims each redemption once
            update(Redemption)
            .where(Redemption.id == redemption.id, Redemption.state == RedemptionState.ACTIVE)
            .values(state=state, refunded_points=refund)
            .execution_options(synchronize_session=False)
        ))
        if not claimed:
            continue
        if refund:
            try:
                with db.begin_nested():
                    entry = _post(
                        db, merchant_id=redemption.merchant_id, kind=PointsEntryKind.REFUND,
                        delta=refund, reference=f"refund:{redemption.public_id}",
                        rule=redemption.package_code, miniapp_id=redemption.miniapp_id,
                        note=f"delivered {delivered} of {redemption.impressions}")
                _tell(db, entry, "points.refunded", points=refund, delivered=delivered,
                      impressions=redemption.impressions)
            except IntegrityError:
                pass  # already refunded
        if promise is not None and promise.state != PromiseState.CANCELLED:
            promise.state = PromiseState.EXPIRED if refund else PromiseState.FULFILLED
        db.expire(redemption)
        settled += 1
    db.flush()
    return settled


# -- reading and operator corrections -------------------------------------------------------
def history(
    db: Session, *, actor: User | None, merchant_public_id: str, limit: int = 100
) -> list[PointsEntry]:
    """The merchant's ledger, newest first (its staff, authorized providers, operators)."""
    merchant = merchants.get_merchant(db, actor=actor, public_id=merchant_public_id)
    stmt = (
        select(PointsEntry)
        .where(PointsEntry.merchant_id == merchant.id)
        .order_by(PointsEntry.created_at.desc(), PointsEntry.id.desc())
        .limit(max(1, min(limit, 1000)))
    )
    return list(db.scalars(stmt))


def redemptions(
    db: Session, *, actor: User | None, merchant_public_id: str, limit: int = 100
) -> list[tuple[Redemption, Promise | None]]:
    """The merchant's redemptions, newest first, each with its promise (planned, delivered)."""
    merchant = merchants.get_merchant(db, actor=actor, public_id=merchant_public_id)
    rows = db.scalars(
        select(Redemption)
        .where(Redemption.merchant_id == merchant.id)
        .order_by(Redemption.created_at.desc(), Redemption.id.desc())
        .limit(max(1, min(limit, 1000)))
    ).all()
    sources = [f"redemption:{r.public_id}" for r in rows]
    promises = {
        p.source: p for p in db.scalars(
            select(Promise).where(Promise.kind == PromiseKind.POINTS, Promise.source.in_(sources))
        )
    } if sources else {}
    return [(r, promises.get(f"redemption:{r.public_id}")) for r in rows]


def miniapp_public_ids(db: Session, ids: list[int | None]) -> dict[int, str]:
    """Public ids of the mini-apps named by ledger entries (for showing them)."""
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    stmt = select(MiniApp.id, MiniApp.public_id).where(MiniApp.id.in_(wanted))
    return {ma_id: public_id for ma_id, public_id in db.execute(stmt)}


def adjust(
    db: Session, *, actor: User | None, merchant_public_id: str, delta: int, reason: str
) -> PointsEntry:
    """Operator: correct a balance by `delta` with a reason (never below zero)."""
    require_role(actor, Role.OPERATOR)
    if isinstance(delta, bool) or not isinstance(delta, int) or not (
        0 < abs(delta) <= MAX_ADJUST
    ):
        raise ValidationFailed("An adjustment is a non-zero number of points up to {n} either way.",
                               n=MAX_ADJUST, field="delta")
    reason = clean_text(reason, field="reason", message=REASON_MESSAGE, max_length=500,
                        required=True)
    merchant = merchants.get_merchant(db, actor=actor, public_id=merchant_public_id)
    entry = _post(db, merchant_id=merchant.id, kind=PointsEntryKind.ADJUST, delta=delta,
                  reference=f"adjust:{new_id('adj')}", note=reason,
                  actor_id=actor.id if actor else None)
    audit.record(db, actor_id=actor.id if actor else None, action="points.adjust",
                 subject_type="merchant", subject_id=merchant.public_id, delta=delta,
                 reason=reason)
    _tell(db, entry, "points.adjusted", delta=f"{delta:+d}", reason=reason)
    return entry
