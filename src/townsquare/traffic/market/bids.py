"""Paid exposure: merchants' cost-per-click bids on surfaces and search keywords, the sponsored
picks of one request, and the spend accounting of every click.

A bid lives per mini-app and target (a surface such as `feed` or `topic.groceries`, or a
normalised search keyword). Serving asks `sponsored` for the winners of one request: bids whose
mini-app serves the city, is at or above the operator's tier floor and whose pacing allows it
now, ranked by `auction.run_auction` (bid × quality, generalised second price). Spend lives in one
`bid_spend` row per bid and local day; a click is charged once per click token, and only through
a guarded UPDATE (`spent + price <= budget`), so concurrent clicks can never push a day's spend
above its budget: the click that would overdraw pays what remains.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypedDict
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core import audit
from townsquare.core.clock import clock
from townsquare.core.database import rows_changed
from townsquare.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from townsquare.core.text import LINE_CONTROL, well_formed
from townsquare.merchants import access
from townsquare.merchants.models import Merchant
from townsquare.merchants.service import get_merchant
from townsquare.miniapps.models import MiniApp
from townsquare.miniapps.registry import acting_miniapp
from townsquare.traffic import surfaces, topics
from townsquare.traffic.config import TrafficConfig
from townsquare.traffic.config import active as active_config
from townsquare.traffic.market import auction, notices, pacing
from townsquare.traffic.models import (
    AdClick,
    Bid,
    BidSpend,
    BidTarget,
    TrafficProfile,
)
from townsquare.traffic.search import service as search

KEYWORD_MAX = 20
TOKEN_MAX = 64
DEFAULT_TIMEZONE = "Asia/Shanghai"
CHARGE_ATTEMPTS = 5
# invalid-click filtering
DEDUP_SECONDS = 3600  # one charged click per visitor per ad per hour
CLIENT_CLICKS_PER_MINUTE = 10  # more sponsored clicks from one address in a minute: filtered
CLIENT_CLICKS_PER_DAY = 60  # the later check: more in a day, and every charged one is refunded


class SpendRow(TypedDict):
    """One `bid_spend` row as an upsert inserts it."""

    bid_id: int
    day: date
    budget_fen: int
    spent_fen: int
    clicks: int
    impressions: int


@dataclass(frozen=True, slots=True)
class SponsoredPick:
    """A won sponsored slot: which bid, for which mini-app, at what price per click (fen)."""

    bid_id: int
    miniapp_id: int
    price_fen: int


def local_day(moment: datetime, timezone: str = DEFAULT_TIMEZONE) -> date:
    """The local calendar day a moment falls on (budgets are per local day)."""
    return moment.astimezone(ZoneInfo(timezone)).date()


def normalise_keyword(text: str) -> str:
    """A search keyword as bids store it: NFKC, lower-case, single spaces, 1 to 20 characters."""
    if not isinstance(text, str):
        raise ValidationFailed("A keyword is 1 to {n} characters.", n=KEYWORD_MAX, field="target")
    folded = unicodedata.normalize("NFKC", text)
    if LINE_CONTROL.search(folded):
        raise ValidationFailed("A keyword is 1 to {n} characters.", n=KEYWORD_MAX, field="target")
    keyword = " ".join(folded.lower().split())
    if not 1 <= len(keyword) <= KEYWORD_MAX:
        raise ValidationFailed("A keyword is 1 to {n} characters.", n=KEYWORD_MAX, field="target")
    return keyword


# -- placing bids ----------------------------------------------------------------------------
def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_money(*, max_cpc_fen: int, daily_budget_fen: int, config: TrafficConfig) -> None:
    low, high = config.reserve_cpc_fen, config.max_cpc_fen
    if not _whole(max_cpc_fen) or not low <= max_cpc_fen <= high:
        raise ValidationFailed(
            "A bid per click is {low} to {high} fen.", low=low, high=high, field="max_cpc_fen"
        )
    cap = config.max_daily_budget_fen
    if not _whole(daily_budget_fen) or not max_cpc_fen <= daily_budget_fen <= cap:
        raise ValidationFailed(
            "A daily budget is at least the bid per click and at most {high} fen.", high=cap,
            field="daily_budget_fen",
        )


def _check_surface(db: Session, target: str) -> str:
    if not isinstance(target, str) or not surfaces.is_surface(target):
        raise ValidationFailed("Unknown surface {surface}.", surface=str(target)[:48],
                               field="target")
    if target == surfaces.SEARCH:
        raise ValidationFailed("Search ads are bids on keywords, not on the search surface.",
                               field="target")
    kind, _, slug = target.partition(".")
    if kind == "channel":
        topics.get_channel(db, slug=slug)
    elif kind == "topic":
        topics.get_topic(db, slug=slug, active_only=True)
    return target


def _check_tier(db: Session, miniapp: MiniApp, config: TrafficConfig) -> None:
    found = db.execute(select(TrafficProfile.tier, TrafficProfile.quality)
                       .where(TrafficProfile.miniapp_id == miniapp.id)).one_or_none()
    tier, score = (found.tier, found.quality) if found is not None else (None, None)
    minimum = config.ads_min_tier
    if tier is not None and auction.tier_at_least(tier, minimum) and (
            score is None or score < config.ads_min_score):
        raise ValidationFailed(
            "Paid exposure needs a service score of at least {least}; this mini-app has "
            "{score}.", least=f"{config.ads_min_score:g}",
            score=f"{score or 0:.0f}", code="score_too_low",
        )
    if tier is None:
        raise ValidationFailed(
            "Paid exposure needs tier {minimum} or better; this mini-app has no tier yet.",
            minimum=minimum, code="tier_too_low",
        )
    if not auction.tier_at_least(tier, minimum):
        raise ValidationFailed(
            "Paid exposure needs tier {minimum} or better; this mini-app is tier {tier}.",
            minimum=minimum, tier=tier, code="tier_too_low",
        )


def place(
    db: Session,
    *,
    actor: User | None,
    miniapp_public_id: str,
    target_kind: BidTarget | str,
    target: str,
    max_cpc_fen: int,
    daily_budget_fen: int,
    merchant_public_id: str | None = None,
    config: TrafficConfig | None = None,
    timezone: str = DEFAULT_TIMEZONE,
) -> Bid:
    """Create or update a mini-app's bid on a target (and run it); every rule is checked first."""
    miniapp = acting_miniapp(db, actor=actor, public_id=miniapp_public_id)
    if merchant_public_id is not None and miniapp.merchant.public_id != merchant_public_id:
        raise NotFound("No such mini-app.")
    config = config or active_config(db)
    try:
        kind = BidTarget(target_kind)
    except ValueError as exc:
        raise ValidationFailed(
            "A bid targets a surface or a keyword.", field="target_kind"
        ) from exc
    surface = kind == BidTarget.SURFACE
    target = _check_surface(db, target) if surface else normalise_keyword(target)
    _check_money(max_cpc_fen=max_cpc_fen, daily_budget_fen=daily_budget_fen, config=config)
    if not miniapp.listed:
        raise Conflict("Only a listed mini-app can buy traffic.")
    _check_tier(db, miniapp, config)
    brand = search.brand_named_in(db, text=target) if kind == BidTarget.KEYWORD else None
    if brand is not None and brand.merchant_id != miniapp.merchant_id:
        raise PermissionDenied(
            "The keyword names the certified brand {brand}; only its merchant may bid on it.",
            brand=brand.name, code="brand_keyword",
        )
    bid = db.scalar(select(Bid).where(
        Bid.miniapp_id == miniapp.id, Bid.target_kind == kind, Bid.target == target
    ))
    created = bid is None
    if bid is None:
        bid = Bid(miniapp_id=miniapp.id, merchant_id=miniapp.merchant_id, target_kind=kind,
                  target=target, max_cpc_fen=max_cpc_fen, daily_budget_fen=daily_budget_fen,
                  created_by_id=actor.id if actor else None)
        try:
            with db.begin_nested():  # the same bid placed twice at once: the second conflicts
                db.add(bid)
                db.flush()
        except IntegrityError as exc:
            raise Conflict("This bid was changed at the same time; please try again.") from exc
    bid.max_cpc_fen, bid.daily_budget_fen, bid.active = max_cpc_fen, daily_budget_fen, True
    # Today's row takes the new budget (the rest of today runs on it); past days keep theirs.
    db.execute(
        update(BidSpend)
        .where(BidSpend.bid_id == bid.id, BidSpend.day == local_day(clock.now(), timezone))
        .values(budget_fen=daily_budget_fen)
        .execution_options(synchronize_session=False)
    )
    db.flush()
    audit.record(
        db, actor_id=actor.id if actor else None, action="bid.create" if created else "bid.update",
        subject_type="bid", subject_id=bid.public_id, miniapp=miniapp.public_id,
        target_kind=kind.value, target=target, max_cpc_fen=max_cpc_fen,
        daily_budget_fen=daily_budget_fen,
    )
    return bid


def get_bid(db: Session, *, actor: User | None, bid_public_id: str) -> Bid:
    """A bid the actor may act for (its merchant's staff or an authorized ISV), else NotFound."""
    bid = None
    if well_formed(bid_public_id, "bid"):
        bid = db.scalar(select(Bid).where(Bid.public_id == bid_public_id))
    if bid is None or not access.can_act_for(db, actor, bid.miniapp.merchant):
        raise NotFound("No such bid.")
    return bid


def set_active(db: Session, *, actor: User | None, bid_public_id: str, active: bool) -> Bid:
    """Pause or resume a bid (serving re-checks listing, tier and budget on every request)."""
    bid = get_bid(db, actor=actor, bid_public_id=bid_public_id)
    bid.active = bool(active)
    db.flush()
    audit.record(
        db, actor_id=actor.id if actor else None, action="bid.resume" if active else "bid.pause",
        subject_type="bid", subject_id=bid.public_id,
    )
    return bid


def for_merchant(
    db: Session,
    *,
    actor: User | None,
    merchant_public_id: str,
    now: datetime | None = None,
    timezone: str = DEFAULT_TIMEZONE,
) -> list[tuple[Bid, BidSpend | None]]:
    """A merchant's bids with today's spend row (None before the first impression today)."""
    merchant: Merchant = get_merchant(db, actor=actor, public_id=merchant_public_id)
    day = local_day(now or clock.now(), timezone)
    stmt = (
        select(Bid, BidSpend)
        .outerjoin(BidSpend, and_(BidSpend.bid_id == Bid.id, BidSpend.day == day))
        .where(Bid.merchant_id == merchant.id)
        .order_by(Bid.id)
        .execution_options(populate_existing=True)
    )
    return [(bid, spend) for bid, spend in db.execute(stmt).tuples()]


# -- serving and accounting ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BidRow:
    """What the auction needs of one active bid on a target, with its spend row of the day."""

    bid_id: int
    miniapp_id: int
    public_id: str  # the mini-app's public id (the auction's key)
    max_cpc_fen: int
    daily_budget_fen: int
    cities: tuple[str, ...]
    tier: str | None
    quality: float | None
    budget_fen: int | None  # today's spend row, if there is one yet
    spent_fen: int
    merchant_id: int = 0  # whose share of the target's sponsored impressions it counts in
    impressions: int = 0  # today's sponsored impressions of this bid


def target_of(*, surface: str, keyword: str | None) -> tuple[BidTarget, str] | None:
    """The bid target a request competes for: its search keyword, else its surface."""
    if keyword is None:
        return BidTarget.SURFACE, surface
    try:
        return BidTarget.KEYWORD, normalise_keyword(keyword)
    except ValidationFailed:
        return None  # no bid can match a keyword that could not be bid on


_ROWS = (  # built once: statement construction costs more than running it
    select(Bid.id, Bid.miniapp_id, MiniApp.public_id, Bid.max_cpc_fen, Bid.daily_budget_fen,
           MiniApp.cities, TrafficProfile.tier, TrafficProfile.quality, BidSpend.budget_fen,
           BidSpend.spent_fen, MiniApp.merchant_id, BidSpend.impressions)
    .join(MiniApp, MiniApp.id == Bid.miniapp_id)
    .join(TrafficProfile, TrafficProfile.miniapp_id == Bid.miniapp_id)
    .outerjoin(BidSpend, and_(BidSpend.bid_id == Bid.id, BidSpend.day == bindparam("day")))
    .where(Bid.target_kind == bindparam("kind"), Bid.target == bindparam("target"),
           Bid.active.is_(True), MiniApp.listed.is_(True))
    .order_by(Bid.id)
)


def bid_rows(db: Session, *, kind: BidTarget, target: str, day: date) -> list[BidRow]:
    """The active bids of listed, profiled mini-apps on a target, with `day`'s spend."""
    return [
        BidRow(r.id, r.miniapp_id, r.public_id, r.max_cpc_fen, r.daily_budget_fen,
               tuple(c for c in (r.cities or []) if isinstance(c, str)), r.tier, r.quality,
               r.budget_fen, r.spent_fen or 0, r.merchant_id, r.impressions or 0)
        for r in db.execute(_ROWS, {"kind": kind, "target": target, "day": day})
    ]


def pick(
    rows: Iterable[BidRow],
    *,
    city: str,
    seconds: float,
    exclude: Iterable[int] = (),
    slots: int,
    config: TrafficConfig,
    curve: pacing.TrafficCurve | None = None,
) -> list[SponsoredPick]:
    """The auction over `rows` (pure): serving city, quality floors (tier and score), each
    merchant's share of the target's sponsored impressions today and pacing checked; ranked by
    bid × quality^k (`auction_config`), GSP priced."""
    if slots <= 0:
        return []
    curve = curve or pacing.TrafficCurve.uniform()
    excluded = set(exclude)
    rows = list(rows)
    total = sum(r.impressions for r in rows)
    by_merchant: Counter[int] = Counter()
    for r in rows:
        by_merchant[r.merchant_id] += r.impressions
    entries: list[auction.Bid] = []
    by_public: dict[str, tuple[int, int]] = {}
    for row in rows:
        if row.miniapp_id in excluded or row.public_id in by_public:
            continue
        if row.cities and city not in row.cities:
            continue
        if not auction.tier_at_least(row.tier, config.ads_min_tier):
            continue  # the floor is re-checked: a tier can fall after the bid was placed
        if float(row.quality or 0.0) < config.ads_min_score:
            continue  # so is the absolute score floor
        if not auction.within_share(own=by_merchant[row.merchant_id], total=total,
                                    cap=config.ads_max_merchant_share,
                                    allowance=config.ads_share_allowance):
            continue  # this merchant had its share of the target's sponsored slots today
        budget = row.budget_fen if row.budget_fen is not None else row.daily_budget_fen
        decision = pacing.decide(
            daily_budget_fen=budget, spent_fen=row.spent_fen, seconds=seconds, curve=curve,
            bid_fen=row.max_cpc_fen, reserve_fen=config.reserve_cpc_fen,
        )
        if not decision.participate:
            continue
        score = min(100.0, max(0.0, float(row.quality or 0.0)))
        entries.append(auction.Bid(row.public_id, decision.max_bid_fen, score, row.tier))
        by_public[row.public_id] = (row.bid_id, row.miniapp_id)
    if not entries:
        return []
    result = auction.run_auction(bids=entries, config=auction_config(config, slots=slots))
    return [
        SponsoredPick(*by_public[p.miniapp_id], price_fen=p.price_fen) for p in result.placements
    ]


def auction_config(config: TrafficConfig, *, slots: int) -> auction.AuctionConfig:
    """The auction's knobs from the operator's configuration (the simulator uses it too)."""
    return auction.AuctionConfig(
        slots=min(slots, 100), reserve_fen=config.reserve_cpc_fen, min_tier=config.ads_min_tier,
        quality_exponent=config.ads_quality_exponent, min_score=config.ads_min_score,
    )


def sponsored(
    db: Session,
    *,
    surface: str,
    keyword: str | None = None,
    city: str,
    now: datetime,
    exclude: Iterable[int] = (),
    slots: int,
    config: TrafficConfig,
    timezone: str = DEFAULT_TIMEZONE,
    curve: pacing.TrafficCurve | None = None,
) -> list[SponsoredPick]:
    """Up to `slots` sponsored picks for a surface (or a search keyword), best first, priced.

    Reads the bids now; serving goes through `serving.cache.bid_book` (cached ≤ the refresh
    interval) and `pick` instead."""
    target = target_of(surface=surface, keyword=keyword)
    if slots <= 0 or target is None:
        return []
    local = now.astimezone(ZoneInfo(timezone))
    rows = bid_rows(db, kind=target[0], target=target[1], day=local.date())
    return pick(rows, city=city, seconds=pacing.seconds_of_day(local), exclude=exclude,
                slots=slots, config=config, curve=curve)


def _ensure_days(db: Session, *, budgets: dict[int, int], day: date) -> None:
    """Create missing spend rows for `day` (budget = the bid's current daily budget)."""
    if not budgets:
        return
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    rows: list[SpendRow] = [
        {"bid_id": b, "day": day, "budget_fen": budget, "spent_fen": 0, "clicks": 0,
         "impressions": 0}
        for b, budget in sorted(budgets.items())
    ]
    db.execute(insert(BidSpend).values(rows).on_conflict_do_nothing(
        index_elements=["bid_id", "day"]
    ))


def _budgets(db: Session, bid_ids: Iterable[int]) -> dict[int, int]:
    ids = sorted(set(bid_ids))
    stmt = select(Bid.id, Bid.daily_budget_fen).where(Bid.id.in_(ids or [0]))
    return {bid_id: budget for bid_id, budget in db.execute(stmt)}


def add_impressions(db: Session, counts: Mapping[tuple[int, date], int]) -> int:
    """Add impressions per (bid id, local day) in one upsert (a missing day row is created with
    the bid's current daily budget); unknown bids are skipped. Returns the impressions counted."""
    budgets = _budgets(db, (bid_id for bid_id, _day in counts))
    rows: list[SpendRow] = [
        {"bid_id": bid_id, "day": day, "budget_fen": budgets[bid_id], "spent_fen": 0,
         "clicks": 0, "impressions": n}
        for (bid_id, day), n in sorted(counts.items())  # one lock order for every writer
        if bid_id in budgets and n > 0
    ]
    if not rows:
        return 0
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(BidSpend).values(rows)
    db.execute(stmt.on_conflict_do_update(
        index_elements=["bid_id", "day"],
        set_={"impressions": BidSpend.impressions + stmt.excluded.impressions},
    ))
    return sum(row["impressions"] for row in rows)


def count_impressions(
    db: Session, *, bid_ids: Iterable[int], now: datetime, timezone: str = DEFAULT_TIMEZONE
) -> int:
    """Count one impression per listed bid id (repeats count again) on today's spend rows."""
    day = local_day(now, timezone)
    return add_impressions(db, {(bid_id, day): n for bid_id, n in Counter(bid_ids).items()})


def _add_click(db: Session, *, bid_id: int, day: date, amount: int, guarded: bool = True) -> bool:
    stmt = update(BidSpend).where(BidSpend.bid_id == bid_id, BidSpend.day == day)
    if guarded:
        # the guard is evaluated on the row as it is when the row lock is held: never overdraws
        stmt = stmt.where(BidSpend.spent_fen + amount <= BidSpend.budget_fen)
    stmt = stmt.values(spent_fen=BidSpend.spent_fen + amount, clicks=BidSpend.clicks + 1)
    return rows_changed(db.execute(stmt.execution_options(synchronize_session=False))) == 1


def charge_click(
    db: Session,
    *,
    bid_id: int,
    token_digest: str,
    price_fen: int,
    now: datetime,
    timezone: str = DEFAULT_TIMEZONE,
    visitor: str = "",
    client: str = "",
    invalid: str = "",
) -> int:
    """Charge one sponsored click (fen charged): once per token, never above the day's budget,
    and only a valid click (invalid-click filtering, as ad platforms do):

    - `invalid`: the click layer already found it invalid (no matching recent exposure to this
      visitor);
    - more than CLIENT_CLICKS_PER_MINUTE clicks from one client (address) in a minute;
    - a second click by the same visitor on the same ad within DEDUP_SECONDS (held by a unique
      key, so concurrent copies cannot both be charged).

    A filtered click is stored (status "filtered", with its reason) and counted apart, so the
    merchant sees charged and filtered clicks separately."""
    if not isinstance(token_digest, str) or not 1 <= len(token_digest) <= TOKEN_MAX:
        raise ValidationFailed("A click token digest is 1 to {n} characters.", n=TOKEN_MAX)
    if not _whole(price_fen) or price_fen < 0:
        raise ValidationFailed("A price is a whole, non-negative number of fen.")
    budgets = _budgets(db, [bid_id])
    if not budgets:
        return 0
    day = local_day(now, timezone)
    _ensure_days(db, budgets=budgets, day=day)
    reason = invalid
    if not reason and client and _recent_clicks(db, client=client, now=now) >= \
            CLIENT_CLICKS_PER_MINUTE:
        reason = "rate_limited"
    if not reason and not visitor:
        reason = "no_visitor"
    window = int(now.timestamp()) // DEDUP_SECONDS
    key = None if reason else hashlib.sha256(f"{bid_id}|{visitor}|{window}".encode()).hexdigest()
    click = AdClick(token_digest=token_digest, bid_id=bid_id, price_fen=0, clicked_at=now,
                    visitor=visitor[:32], client=client[:32], charge_key=key,
                    status="filtered" if reason else "charged", reason=reason)
    try:
        with db.begin_nested():  # a replayed token (even at the same instant) loses here
            db.add(click)
            db.flush()
    except IntegrityError:
        if key is None or db.scalar(select(AdClick.id).where(
                AdClick.token_digest == token_digest)) is not None:
            return 0  # the same token again: nothing new
        reason = "duplicate"  # this visitor's click on this ad is already charged
        click = AdClick(token_digest=token_digest, bid_id=bid_id, price_fen=0, clicked_at=now,
                        visitor=visitor[:32], client=client[:32], status="filtered",
                        reason=reason)
        try:
            with db.begin_nested():
                db.add(click)
                db.flush()
        except IntegrityError:
            return 0
    if reason:
        db.execute(update(BidSpend).where(BidSpend.bid_id == bid_id, BidSpend.day == day)
                   .values(filtered=BidSpend.filtered + 1)
                   .execution_options(synchronize_session=False))
        return 0
    amount = price_fen
    for _ in range(CHARGE_ATTEMPTS):
        if _add_click(db, bid_id=bid_id, day=day, amount=amount):
            break
        # Not enough left for the full price: charge what remains, again behind the guard.
        spent, budget = db.execute(
            select(BidSpend.spent_fen, BidSpend.budget_fen)
            .where(BidSpend.bid_id == bid_id, BidSpend.day == day)
        ).one()
        amount = pacing.charge(daily_budget_fen=budget, spent_fen=spent, price_fen=price_fen)
    else:
        amount = 0  # the budget moved under us every time: count the click, charge nothing
        _add_click(db, bid_id=bid_id, day=day, amount=0, guarded=False)
    click.price_fen = amount
    db.flush()
    if amount > 0:
        notices.tell_if_spent(db, bid_id=bid_id, day=day)
    return amount


def _recent_clicks(db: Session, *, client: str, now: datetime) -> int:
    return db.scalar(select(func.count(AdClick.id)).where(
        AdClick.client == client[:32], AdClick.clicked_at > now - timedelta(minutes=1),
        AdClick.clicked_at <= now)) or 0


def refund_invalid(
    db: Session, *, now: datetime, timezone: str = DEFAULT_TIMEZONE,
    per_client_day: int | None = None,
) -> int:
    """The later check: a client (address) with more than `per_client_day` sponsored clicks in
    the last day is not a resident browsing; refund every click still charged to it (spend
    back on its day's row, the click counted as filtered). Answers how many were refunded."""
    limit = CLIENT_CLICKS_PER_DAY if per_client_day is None else per_client_day
    since = now - timedelta(days=1)
    heavy = (
        select(AdClick.client)
        .where(AdClick.client != "", AdClick.clicked_at >= since, AdClick.clicked_at <= now)
        .group_by(AdClick.client).having(func.count(AdClick.id) > limit)
    )
    refunded = 0
    charged = db.scalars(
        select(AdClick).where(AdClick.client.in_(heavy), AdClick.status == "charged",
                              AdClick.clicked_at >= since)
        .order_by(AdClick.id).with_for_update()
    ).all()
    for click in charged:
        day = local_day(click.clicked_at, timezone)
        db.execute(
            update(BidSpend).where(BidSpend.bid_id == click.bid_id, BidSpend.day == day,
                                   BidSpend.spent_fen >= click.price_fen)
            .values(spent_fen=BidSpend.spent_fen - click.price_fen,
                    clicks=BidSpend.clicks - 1, filtered=BidSpend.filtered + 1)
            .execution_options(synchronize_session=False))
        click.status, click.reason, click.charge_key = "refunded", "client_volume", None
        refunded += 1
    db.flush()
    return refunded
