"""What the traffic consoles show: the context of the merchant's and the operator's traffic pages,
the labels of traffic states, and the parsing of form values (yuan, dates, lists).

Kept apart from the route module so the page modules stay about requests and answers.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import date, datetime
from typing import Any, Literal, overload

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.models import Role, User
from townsquare.accounts.permissions import require_role
from townsquare.core import i18n, money
from townsquare.core.clock import clock
from townsquare.core.errors import ValidationFailed
from townsquare.core.i18n import N_, gettext
from townsquare.core.settings import Settings
from townsquare.merchants import access, categories
from townsquare.traffic import config, surfaces, topics
from townsquare.traffic.console import charts, reports
from townsquare.traffic.market import bids
from townsquare.traffic.models import (
    BidTarget,
    CampaignState,
    MembershipState,
    PointsEntryKind,
    PromiseKind,
    PromiseState,
    RedemptionState,
    SlotReason,
    TrafficConfigVersion,
)
from townsquare.traffic.support import campaigns, discounts, points, stages

EXPOSURE_DAYS = 28
CAMPAIGNS_SHOWN = 50  # the operator's page lists the newest campaigns
APPLICATIONS_SHOWN = 100  # and the oldest waiting topic applications
SOURCES = [
    (SlotReason.ORGANIC.value, N_("Organic")),
    (SlotReason.GUARANTEED.value, N_("Guaranteed")),
    (SlotReason.COLD_START.value, N_("Cold start")),
    (SlotReason.CAMPAIGN.value, N_("Campaign")),
    (SlotReason.SPONSORED.value, N_("Sponsored")),
    (reports.OTHER_SOURCE, N_("Other")),
]
KIND_LABELS = {
    PromiseKind.TIER_INCENTIVE: N_("Tier incentive"),
    PromiseKind.COLD_START: N_("Cold start"),
    PromiseKind.POINTS: N_("Points package"),
    PromiseKind.CAMPAIGN: N_("Campaign"),
}
PROMISE_STATES = {
    PromiseState.ACTIVE: N_("Active"),
    PromiseState.FULFILLED: N_("Fulfilled"),
    PromiseState.EXPIRED: N_("Expired"),
    PromiseState.CANCELLED: N_("Cancelled"),
}
REDEMPTION_STATES = {
    RedemptionState.ACTIVE: N_("Active"),
    RedemptionState.FULFILLED: N_("Fulfilled"),
    RedemptionState.REFUNDED: N_("Points returned"),
}
CAMPAIGN_STATES = {
    CampaignState.DRAFT: N_("Draft"),
    CampaignState.OPEN: N_("Enrolment open"),
    CampaignState.CLOSED: N_("Enrolment closed"),
    CampaignState.CANCELLED: N_("Cancelled"),
}
# the operator's buttons, one per move `campaigns.MOVES` allows, in this order
CAMPAIGN_ACTIONS = [
    (CampaignState.OPEN, N_("Open for enrolment")),
    (CampaignState.CLOSED, N_("Close enrolment")),
    (CampaignState.CANCELLED, N_("Cancel")),
]
ENTRY_KINDS = {
    PointsEntryKind.EARN: N_("Earned"),
    PointsEntryKind.REDEEM: N_("Redeemed"),
    PointsEntryKind.REFUND: N_("Points returned"),
    PointsEntryKind.ADJUST: N_("Adjusted"),
}
BID_TARGETS = {BidTarget.SURFACE: N_("Surface"), BidTarget.KEYWORD: N_("Search keyword")}
# The earning rules of config.DEFAULT (a rule the operator adds later shows its code).
RULE_LABELS = {
    "store_pickup": N_("Offers store pickup"),
    "on_time_streak": N_("A week of on-time orders"),
    "quick_replies": N_("Quick replies to customers"),
}


def labels() -> dict[str, Any]:
    """Label tables for the templates (msgids; the templates translate them)."""
    return {
        "sources": dict(SOURCES),
        "kinds": {k.value: v for k, v in KIND_LABELS.items()},
        "promise_states": {k.value: v for k, v in PROMISE_STATES.items()},
        "redemption_states": {k.value: v for k, v in REDEMPTION_STATES.items()},
        "campaign_states": {k.value: v for k, v in CAMPAIGN_STATES.items()},
        "membership_states": {k.value: v for k, v in topics.STATE_LABELS.items()},
        "stages": {k.value: v for k, v in stages.LABELS.items()},
        "entry_kinds": {k.value: v for k, v in ENTRY_KINDS.items()},
        "bid_targets": {k.value: v for k, v in BID_TARGETS.items()},
        "rules": RULE_LABELS,
        "any_surface": N_("Any surface"),
    }


# --- form values ------------------------------------------------------------------------------

def yuan_to_fen(value: str, *, field: str) -> int:
    """"1.50" → 150 (core.money.yuan_to_fen: exact, Decimal)."""
    return money.yuan_to_fen(value, field=field)


def yuan_to_fen_or_none(value: str, *, field: str) -> int | None:
    """An optional yuan field: empty is None, anything else exact fen (negative is refused)."""
    return money.yuan_to_fen(value, field=field) if (value or "").strip() else None


def parse_day(value: str, *, field: str) -> date:
    try:
        return date.fromisoformat((value or "").strip())
    except ValueError as exc:
        raise ValidationFailed("Give the date as YYYY-MM-DD.", field=field) from exc


@overload
def parse_int(value: str, *, field: str, required: Literal[True] = True) -> int: ...


@overload
def parse_int(value: str, *, field: str, required: bool) -> int | None: ...


def parse_int(value: str, *, field: str, required: bool = True) -> int | None:
    """A whole number from a form field; empty is None where not required."""
    text = (value or "").strip()
    if not text and not required:
        return None
    if not re.fullmatch(r"-?\d{1,12}", text):
        raise ValidationFailed("Enter a whole number.", field=field)
    return int(text)


def split_list(value: str) -> list[str]:
    """Comma-, 、- or whitespace-separated words, trimmed, empty ones dropped."""
    return [w for w in re.split(r"[,，、\s]+", value or "") if w]


def parse_config(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text or "")
    except ValueError as exc:
        raise ValidationFailed(
            "The configuration is not valid JSON: {reason}", reason=str(exc), field="config"
        ) from exc
    if not isinstance(data, dict):
        raise ValidationFailed("The configuration is a JSON object.", field="config")
    return data


# --- the merchant's page --------------------------------------------------------------------------


def _exposure(db: Session, *, user: User, mer_id: str, settings: Settings, now: datetime
              ) -> dict[str, Any]:
    rows = reports.exposure_by_source(db, actor=user, merchant_public_id=mer_id,
                                      days=EXPOSURE_DAYS, now=now, zone=settings.timezone)
    days = reports.local_days(now, EXPOSURE_DAYS, settings.timezone)
    # reasons outside the known ones (a mini-app may report its own) are shown by their code
    extra = sorted({row.source for row in rows} - {key for key, _name in SOURCES})
    sources = [(key, gettext(name)) for key, name in SOURCES] + [(key, key) for key in extra]
    totals = {key: [0, 0] for key, _name in SOURCES}
    for row in rows:
        totals.setdefault(row.source, [0, 0])
        totals[row.source][0] += row.impressions
        totals[row.source][1] += row.clicks
    return {
        "impressions_chart": charts.stacked_days(
            days, reports.daily_series(rows), sources=sources,
            label=gettext("Impressions by source per day"), y_name=gettext("Impressions"),
            chart_id="impressions-chart",
        ),
        "clicks_chart": charts.stacked_days(
            days, reports.daily_series(rows, measure="clicks"), sources=sources,
            label=gettext("Clicks by source per day"), y_name=gettext("Clicks"),
            chart_id="clicks-chart",
        ),
        "source_totals": totals,
    }


def _promise_chart(statuses: list[reports.PromiseStatus]) -> Any:
    rows = [
        (f"{s.promise.miniapp.name} · {gettext(KIND_LABELS[s.promise.kind])}",
         s.promise.requested, s.promise.planned, s.promise.delivered)
        for s in statuses if s.promise.state == PromiseState.ACTIVE
    ][:12]
    return charts.planned_delivered(
        rows, label=gettext("Planned and delivered impressions per promise"),
        legend=[gettext("Requested"), gettext("Planned"), gettext("Delivered")],
    )


def merchant_context(
    db: Session, *, user: User, mer_id: str, settings: Settings, now: datetime | None = None
) -> dict[str, Any]:
    """Everything the merchant's traffic page shows (its staff, an authorized ISV, operators)."""
    now = now or clock.now()
    active = config.active(db)
    merchant, staged = stages.for_merchant(
        db, actor=user, merchant_public_id=mer_id, config=active, now=now
    )
    profiles = reports.profiles_for_merchant(db, actor=user, merchant_public_id=mer_id)
    apps = []
    for app, stage, detail in staged:
        profile = profiles.get(app.id)
        tier = profile.tier if profile else None
        apps.append({
            "miniapp": app, "stage": stage.value, "rule": stages.explain(stage, detail),
            "tier": tier, "quality": profile.quality if profile else None,
            "incentive": active.tier_impressions.get(tier, 0) if tier else 0,
        })
    statuses = reports.promises_for_merchant(db, actor=user, merchant_public_id=mer_id, now=now)
    choices, names = surfaces_shown(db)
    return {
        "merchant": merchant,
        "can_act": access.can_act_for(db, user, merchant),
        "apps": apps,
        "config": active,
        "balance": points.balance(db, merchant_id=merchant.id),
        "points_history": points.history(db, actor=user, merchant_public_id=mer_id, limit=50),
        "idempotency_key": secrets.token_hex(16),  # one per rendered form: a resend charges once
        "redemptions": points.redemptions(db, actor=user, merchant_public_id=mer_id, limit=50),
        "open_campaigns": campaigns.open_for(db, actor=user, merchant_public_id=mer_id,
                                             timezone=settings.timezone),
        "enrolled": campaigns.enrolled(db, merchant_id=merchant.id),
        "discount_terms": discounts.describe_campaign,
        "enrolments": reports.enrolments_for_merchant(db, actor=user, merchant_public_id=mer_id),
        "topics": topics.list_topics(db),
        "memberships": topics.merchant_applications(db, actor=user, merchant_public_id=mer_id),
        "bids": bids.for_merchant(db, actor=user, merchant_public_id=mer_id, now=now,
                                  timezone=settings.timezone),
        "promises": statuses,
        "promise_chart": _promise_chart(statuses),
        "surface_choices": choices,
        "surface_names": names,
        "labels": labels(),
        "today": now.date(),
        **_exposure(db, user=user, mer_id=mer_id, settings=settings, now=now),
    }


def surfaces_shown(db: Session) -> tuple[list[str], dict[str, str]]:
    """The surfaces a bid or a campaign may name (feed, search, each channel and active topic)
    and the readable name of every surface (the codes stay visible in forms that take them),
    from one read of the channels and topics."""
    locale = i18n.current_locale.get()
    channels = topics.channels(db)
    every_topic = topics.list_topics(db, active_only=False)
    choices = [
        surfaces.FEED, surfaces.SEARCH,
        *(surfaces.channel(c.slug) for c in channels),
        *(surfaces.topic(t.slug) for t in every_topic if t.active),
    ]
    names = {surfaces.FEED: gettext("Home feed"), surfaces.SEARCH: gettext("Search")}
    names.update({surfaces.channel(c.slug): c.title(locale) for c in channels})
    names.update({surfaces.topic(t.slug): t.title(locale) for t in every_topic})
    return choices, names


def surface_names(db: Session) -> dict[str, str]:
    """Readable names of the surfaces."""
    return surfaces_shown(db)[1]


def surface_choices(db: Session) -> list[str]:
    """Surfaces a bid or a campaign may name: feed, search, each channel and active topic."""
    return surfaces_shown(db)[0]


# --- the operator's page ----------------------------------------------------------------------


def operator_context(db: Session, *, user: User, now: datetime | None = None) -> dict[str, Any]:
    """Everything the operator's traffic page shows."""
    require_role(user, Role.OPERATOR)
    overview = reports.operator_overview(db, actor=user, now=now)
    choices, names = surfaces_shown(db)
    every_category = categories.list_categories(db)
    return {
        "overview": overview,
        "lorenz_chart": charts.lorenz(
            overview.lorenz, gini=overview.gini,
            label=gettext("Share of impressions against share of mini-apps (Lorenz curve)"),
        ),
        "at_risk": overview.at_risk,
        "kinds": [k.value for k in PromiseKind],
        "topics": topics.list_topics(db, active_only=False),
        "applications": topics.applications(db, actor=user, state=MembershipState.APPLIED,
                                            limit=APPLICATIONS_SHOWN),
        "campaigns": campaigns.list_all(db, actor=user, limit=CAMPAIGNS_SHOWN),
        "discount_terms": discounts.describe_campaign,
        "campaign_actions": {
            state.value: [(to.value, name) for to, name in CAMPAIGN_ACTIONS
                          if to in campaigns.MOVES[state]]
            for state in CampaignState
        },
        "channels": topics.channels(db),
        "categories": every_category,
        "category_names": {c.code: c.name(i18n.current_locale.get()) for c in every_category},
        "surface_choices": choices,
        "surface_names": names,
        "stage_choices": [(k.value, v) for k, v in stages.LABELS.items()],
        "labels": labels(),
        "config_version": config_version(db),
    }


def config_version(db: Session) -> int:
    """The active configuration's version number (0: the defaults)."""
    stmt = select(TrafficConfigVersion.version).where(TrafficConfigVersion.active.is_(True))
    return db.scalar(stmt) or 0


def config_text(db: Session) -> str:
    return json.dumps(config.active(db).model_dump(mode="json"), ensure_ascii=False, indent=2)
