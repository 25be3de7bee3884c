"""The facts the anomaly detectors read, gathered from the platform's own records over a window:
behaviour events (orders, cancellations, refunds, complaints, ratings, replies), the trades and
refunds payments recorded, the buyers behind them (issued subs → users), the merchants' staff,
and what ties buyers together (address-book and order addresses, bound payment cards, phones).

The platform records no device identifier for residents, so "repeated devices" cannot be read;
addresses, cards and phones stand in (docs/scoring.md, "Anti-fraud signals")."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.models import Address, Identity, User
from townsquare.events.models import PLATFORM_PREFIX, BehaviourEvent, EventType
from townsquare.merchants.models import MerchantStaff
from townsquare.miniapps.models import IssuedSub, MiniApp
from townsquare.ordering.orders.models import Order
from townsquare.payments.trades.models import Refund, Trade
from townsquare.payments.wallet.models import WalletCard
from townsquare.scoring.integrity.detectors import (
    FAST_REPLY_SECONDS,
    AppFacts,
    Buyer,
    Shared,
)

WINDOW_DAYS = 28
HISTORY_WEEKS = 8  # weekly series for sudden jumps (the window's four and four before)
READ = (EventType.ORDER_PLACED, EventType.ORDER_CANCELLED, EventType.REFUND,
        EventType.COMPLAINT, EventType.RATING, EventType.MESSAGE_RESPONSE)
CHUNK = 500


def _end(as_of: date) -> datetime:
    return datetime.combine(as_of + timedelta(days=1), time(), tzinfo=UTC)


def _chunks(values: Iterable[Any]) -> Iterable[list[Any]]:
    items = list(values)
    for i in range(0, len(items), CHUNK):
        yield items[i:i + CHUNK]


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@dataclass
class _App:
    """Running tallies of one mini-app while the events stream past."""

    facts: AppFacts
    platform_orders: int = 0
    own_orders: int = 0
    platform_refund_events: int = 0
    own_refunds: int = 0
    buyer_subs: set[str] = field(default_factory=set)
    ratings: list[tuple[str, str]] = field(default_factory=list)  # (sub, order) in the window
    orders_by_sub: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    refunded_orders: set[str] = field(default_factory=set)
    weeks: list[dict[str, float]] = field(
        default_factory=lambda: [defaultdict(float) for _ in range(HISTORY_WEEKS)])


def gather(db: Session, *, as_of: date, excluded: Iterable[str] = (),
           window_days: int = WINDOW_DAYS) -> list[AppFacts]:
    """The facts of every mini-app with activity in the window ending `as_of`."""
    end = _end(as_of)
    start = end - timedelta(days=window_days)
    history_start = end - timedelta(weeks=HISTORY_WEEKS)
    skip = set(excluded)
    apps: dict[int, _App] = {}
    stmt = (
        select(BehaviourEvent.miniapp_id, BehaviourEvent.type, BehaviourEvent.occurred_at,
               BehaviourEvent.user_sub, BehaviourEvent.order_id, BehaviourEvent.rating,
               BehaviourEvent.response_seconds, BehaviourEvent.event_id,
               BehaviourEvent.category_code)
        .where(BehaviourEvent.type.in_(READ), BehaviourEvent.occurred_at >= history_start,
               BehaviourEvent.occurred_at < end)
        .execution_options(yield_per=5000)
    )
    for app_id, kind, at, sub, order, stars, reply, event_id, category in db.execute(stmt):
        if event_id in skip:
            continue
        app = apps.get(app_id)
        if app is None:
            app = apps[app_id] = _App(AppFacts(miniapp_id=app_id, category=category))
        week = HISTORY_WEEKS - 1 - int((end - _aware(at)).total_seconds() // (7 * 86400))
        _tally(app, kind, sub or "", order or "", stars, reply,
               event_id.startswith(PLATFORM_PREFIX), _aware(at) >= start, app.weeks[week])
    if not apps:
        return []
    _trades(db, apps, start, end)
    for app in apps.values():
        _finish(app)
    _buyers(db, apps, start, end)
    return [a.facts for a in apps.values()]


def _tally(app: _App, kind: str, sub: str, order: str, stars: int | None, reply: int | None,
           platform: bool, in_window: bool, week: dict[str, float]) -> None:
    f = app.facts
    if kind == EventType.ORDER_PLACED:
        if sub:
            app.buyer_subs.add(sub)
        week["orders_platform" if platform else "orders_own"] += 1
        if not in_window:
            return
        if platform:
            app.platform_orders += 1
        else:
            app.own_orders += 1
            if sub:
                app.orders_by_sub[sub].append(order)
    elif kind == EventType.RATING and stars:
        week["ratings"] += 1
        week["stars"] += stars
        week["five"] += stars == 5
        if in_window:
            counts = list(f.stars)
            counts[max(1, min(stars, 5)) - 1] += 1
            f.stars = (counts[0], counts[1], counts[2], counts[3], counts[4])
            app.ratings.append((sub, order))
    elif kind == EventType.MESSAGE_RESPONSE and reply is not None:
        week["responses"] += 1
        week["fast"] += reply < FAST_REPLY_SECONDS
        if in_window:
            f.responses += 1
            f.fast_responses += reply < FAST_REPLY_SECONDS
    elif not in_window:
        return
    elif kind == EventType.ORDER_CANCELLED:
        f.cancellations += 1
    elif kind == EventType.COMPLAINT:
        f.complaints += 1
    elif kind == EventType.REFUND:
        if platform:
            app.platform_refund_events += 1
        else:
            app.own_refunds += 1
            app.refunded_orders.add(order)


def _trades(db: Session, apps: dict[int, _App], start: datetime, end: datetime) -> None:
    """Refunds the platform made on each mini-app's trades paid in the window."""
    stmt = (
        select(Trade.miniapp_id, Trade.trade_no)
        .join(Refund, Refund.trade_id == Trade.id)
        .where(Trade.paid_at >= start, Trade.paid_at < end)
        .distinct()
    )
    for chunk in _chunks(apps):
        for app_id, trade_no in db.execute(stmt.where(Trade.miniapp_id.in_(chunk))):
            apps[app_id].facts.platform_refunds.append(trade_no)


def _finish(app: _App) -> None:
    """Counts by the trust rule of the metrics: the platform's trades where it saw any."""
    f = app.facts
    platform = app.platform_orders > 0
    f.orders = app.platform_orders if platform else app.own_orders
    f.refunds = app.platform_refund_events if platform else app.own_refunds
    f.reported_refunds = app.own_refunds
    f.platform_refunds.sort()
    f.unbacked_ratings = [f"{sub or '?'} · {order or '–'}" for sub, order in app.ratings
                          if not sub or sub not in app.buyer_subs]
    series: dict[str, list[float]] = defaultdict(list)
    first = next((i for i, w in enumerate(app.weeks) if w), len(app.weeks))
    for w in app.weeks[first:]:
        series["orders"].append(w["orders_platform"] or w["orders_own"])
        series["ratings"].append(w["ratings"])
        if w["ratings"] >= 5:
            series["mean_rating"].append(w["stars"] / w["ratings"])
            series["five_star_share"].append(w["five"] / w["ratings"])
        if w["responses"] >= 5:
            series["fast_reply_share"].append(w["fast"] / w["responses"])
    f.weekly = dict(series)


# -- buyers, staff and what ties them ----------------------------------------------------------
@dataclass
class _Person:
    public_id: str
    merchants: set[int] = field(default_factory=set)
    ids: set[tuple[str, str]] = field(default_factory=set)  # (kind, value)
    masked: dict[tuple[str, str], str] = field(default_factory=dict)


def _address_key(text: str, detail: str) -> str:
    return "".join(f"{text}{detail}".split()).lower()


def _mask_phone(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 7 else "****"


def _mask_address(text: str) -> str:
    return f"{text[:6]}…" if text else "…"


def _buyers(db: Session, apps: dict[int, _App], start: datetime, end: datetime) -> None:
    merchant_of = dict(db.execute(select(MiniApp.id, MiniApp.merchant_id)
                                  .where(MiniApp.id.in_(list(apps)))).tuples().all())
    # orders per buyer user and mini-app: the platform's trades, else issued subs' order events
    orders: dict[tuple[int, int], list[str]] = defaultdict(list)
    refunded: dict[tuple[int, int], list[str]] = defaultdict(list)
    trade_apps: set[int] = set()
    tstmt = select(Trade.miniapp_id, Trade.buyer_user_id, Trade.trade_no, Trade.refunded_fen,
                   Trade.merchant_id).where(Trade.paid_at >= start, Trade.paid_at < end,
                                            Trade.buyer_user_id.is_not(None))
    elsewhere: dict[int, set[int]] = defaultdict(set)  # user → merchants bought from
    for app_id, user_id, trade_no, refunded_fen, merchant_id in db.execute(tstmt):
        if user_id is None:
            continue
        elsewhere[user_id].add(merchant_id)
        if app_id in apps:
            trade_apps.add(app_id)
            orders[(app_id, user_id)].append(trade_no)
            if refunded_fen:
                refunded[(app_id, user_id)].append(trade_no)
    subs: dict[tuple[int, str], int] = {}
    for app_id in apps:
        if app_id in trade_apps or not apps[app_id].orders_by_sub:
            continue
        for chunk in _chunks(apps[app_id].orders_by_sub):
            stmt = select(IssuedSub.sub, IssuedSub.user_id).where(
                IssuedSub.miniapp_id == app_id, IssuedSub.sub.in_(chunk))
            for sub, user_id in db.execute(stmt):
                subs[(app_id, sub)] = user_id
    for (app_id, sub), user_id in subs.items():
        app = apps[app_id]
        elsewhere[user_id].add(merchant_of.get(app_id, 0))
        orders[(app_id, user_id)].extend(app.orders_by_sub[sub])
        refunded[(app_id, user_id)].extend(o for o in app.orders_by_sub[sub]
                                           if o in app.refunded_orders)
    staff: dict[int, set[int]] = defaultdict(set)
    for chunk in _chunks(set(merchant_of.values())):
        for merchant_id, user_id in db.execute(select(MerchantStaff.merchant_id,
                                                      MerchantStaff.user_id)
                                               .where(MerchantStaff.merchant_id.in_(chunk))):
            staff[merchant_id].add(user_id)
    users = {u for _, u in orders} | {u for s in staff.values() for u in s}
    people = _people(db, users, start, end)
    for (app_id, user_id), refs in orders.items():
        app = apps[app_id]
        merchant = merchant_of.get(app_id, 0)
        person = people.get(user_id)
        if person is None:
            continue
        link = ""
        if user_id in staff[merchant]:
            link = "staff"
        else:
            mine = person.ids
            for other in staff[merchant]:
                common = mine & people[other].ids if other in people else set()
                if common:
                    link = sorted(common)[0][0]
                    break
        app.facts.buyers.append(Buyer(
            key=person.public_id, orders=sorted(refs), refunded=sorted(refunded[(app_id, user_id)]),
            staff_link=link, other_merchants=len(elsewhere[user_id] - {merchant})))
    for app_id, app in apps.items():
        holders: dict[tuple[str, str], set[str]] = defaultdict(set)
        masks: dict[tuple[str, str], str] = {}
        for (a, user_id) in orders:
            if a != app_id or user_id not in people:
                continue
            for ident in people[user_id].ids:
                holders[ident].add(people[user_id].public_id)
                masks[ident] = people[user_id].masked[ident]
        app.facts.buyers.sort(key=lambda b: b.key)
        app.facts.shared = [Shared(kind=k[0], masked=masks[k], buyers=sorted(b))
                            for k, b in sorted(holders.items()) if len(b) >= 2]


def _people(db: Session, users: set[int], start: datetime, end: datetime) -> dict[int, _Person]:
    """Each user's public id and identifiers: addresses (book and orders), cards, phones."""
    people: dict[int, _Person] = {}
    for chunk in _chunks(users):
        for user_id, public_id in db.execute(select(User.id, User.public_id)
                                             .where(User.id.in_(chunk))):
            people[user_id] = _Person(public_id)

        def add(user_id: int, kind: str, value: str, masked: str) -> None:
            if value and user_id in people:
                people[user_id].ids.add((kind, value))
                people[user_id].masked[(kind, value)] = masked

        for uid, text, detail, phone in db.execute(
                select(Address.user_id, Address.text, Address.detail, Address.phone)
                .where(Address.user_id.in_(chunk))):
            add(uid, "address", _address_key(text, detail), _mask_address(text))
            add(uid, "phone", phone, _mask_phone(phone))
        for uid, address in db.execute(select(Order.user_id, Order.address).where(
                Order.user_id.in_(chunk), Order.created_at >= start, Order.created_at < end)):
            if address and address.get("text"):
                add(uid, "address", _address_key(address.get("text", ""),
                                                 address.get("detail", "")),
                    _mask_address(address.get("text", "")))
                add(uid, "phone", str(address.get("phone", "")),
                    _mask_phone(str(address.get("phone", ""))))
        for uid, token, masked in db.execute(
                select(WalletCard.user_id, WalletCard.funding_token, WalletCard.number_masked)
                .where(WalletCard.user_id.in_(chunk))):
            add(uid, "card", token, masked)
        for uid, phone in db.execute(select(Identity.user_id, Identity.phone)
                                     .where(Identity.user_id.in_(chunk))):
            add(uid, "phone", phone, _mask_phone(phone))
    return people
