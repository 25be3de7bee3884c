"""Campaigns: the operator's centralised marketing drives that eligible merchants enrol in.

The operator creates a campaign (draft), opens it for enrolment, closes or cancels it. A merchant
enrols a listed mini-app that meets the eligibility rules (growth stage, minimum tier, categories,
read from `traffic_profiles`); each enrolment is a `Promise(kind=campaign,
source="campaign:<cmp id>")` of `impressions_per_miniapp` on the campaign's surfaces, from the
first local day (or the enrolment, if later) to the end of the last local day. Dates are local to
the platform's zone: functions take `timezone=` and default to the settings' zone.

Enrolling twice is idempotent (the same enrolment comes back); withdrawing cancels the promise,
and enrolling again afterwards reactivates it. Cancelling the campaign cancels every promise.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from townsquare.accounts.models import Role, User
from townsquare.accounts.permissions import is_operator, require_role
from townsquare.core import audit
from townsquare.core.clock import clock
from townsquare.core.errors import Conflict, NotFound, ValidationFailed
from townsquare.core.i18n import N_, gettext
from townsquare.core.settings import get_settings
from townsquare.core.text import clean_name, clean_text, well_formed
from townsquare.merchants import service as merchants
from townsquare.merchants.models import Category, Merchant
from townsquare.messaging.notifications import notify
from townsquare.miniapps.models import MiniApp
from townsquare.miniapps.registry import acting_miniapp
from townsquare.scoring import TIERS, standings
from townsquare.traffic import config as traffic_config
from townsquare.traffic import surfaces
from townsquare.traffic.models import (
    Campaign,
    CampaignEnrolment,
    CampaignState,
    Channel,
    Promise,
    PromiseKind,
    PromiseState,
    Stage,
    Topic,
    TrafficProfile,
)
from townsquare.traffic.support import discounts, stages

S = CampaignState
MOVES = {S.DRAFT: {S.OPEN, S.CANCELLED}, S.OPEN: {S.CLOSED, S.CANCELLED},
         S.CLOSED: {S.OPEN, S.CANCELLED}, S.CANCELLED: set()}
STATE_LABELS = {S.DRAFT: N_("Draft"), S.OPEN: N_("Open for enrolment"),
                S.CLOSED: N_("Enrolment closed"), S.CANCELLED: N_("Cancelled")}
MAX_SURFACES = 10
SURFACE_MODELS: dict[str, type[Channel] | type[Topic]] = {"channel": Channel, "topic": Topic}
MAX_DAYS = 366
MAX_AHEAD_DAYS = 730
MAX_IMPRESSIONS = 1_000_000
MAX_ENROLMENTS = 100_000
DESCRIPTION_MESSAGE = N_("A description is at most {n} characters of plain text.")


def _zone(timezone: str | None) -> ZoneInfo:
    return ZoneInfo(timezone or get_settings().timezone)


def today(timezone: str | None = None, now: datetime | None = None) -> date:
    return (now or clock.now()).astimezone(_zone(timezone)).date()


def period(campaign: Campaign, timezone: str | None = None) -> tuple[datetime, datetime]:
    """The campaign's first local midnight and the midnight after its last day."""
    zone = _zone(timezone)
    return (datetime.combine(campaign.starts_on, time(), zone),
            datetime.combine(campaign.ends_on + timedelta(days=1), time(), zone))


def _surfaces(db: Session, values: Iterable[Any]) -> list[str]:
    names: list[str] = []
    for value in values:
        if not isinstance(value, str) or not surfaces.is_surface(value):
            raise ValidationFailed("Unknown surface {surface}.", surface=str(value)[:48],
                                   field="surfaces")
        kind, _, slug = value.partition(".")
        model = SURFACE_MODELS.get(kind)
        if model is not None and db.scalar(select(model.id).where(model.slug == slug)) is None:
            raise ValidationFailed("Unknown surface {surface}.", surface=value, field="surfaces")
        if value not in names:
            names.append(value)
    if not 1 <= len(names) <= MAX_SURFACES:
        raise ValidationFailed("Choose 1 to {n} surfaces.", n=MAX_SURFACES, field="surfaces")
    return names


def _choices(values: Iterable[Any], allowed: Iterable[str], *, field: str) -> list[str]:
    allowed = list(allowed)
    chosen: list[str] = []
    for value in values:
        if value not in allowed:
            raise ValidationFailed("{value} is not one of {allowed}.", value=str(value)[:32],
                                   allowed=", ".join(allowed), field=field)
        if value not in chosen:
            chosen.append(value)
    return chosen


def create(
    db: Session, *, actor: User | None, title_zh: str, title_en: str, surfaces: list[str],
    starts_on: date, ends_on: date, description: str = "", eligible_stages: Iterable[str] = (),
    min_tier: str | None = None, category_codes: Iterable[str] = (),
    impressions_per_miniapp: int = 1000, max_enrolments: int | None = None,
    discount_threshold_fen: int | None = None, discount_off_fen: int | None = None,
    discount_percent: int | None = None, discount_cap_fen: int | None = None,
    timezone: str | None = None,
) -> Campaign:
    """Operator: a draft campaign, every field validated; its optional discount (docs/traffic.md,
    "Campaign discounts") is funded by the merchants who enrol."""
    require_role(actor, Role.OPERATOR)
    title_zh = clean_name(title_zh, field="title_zh", max_length=48)
    title_en = clean_name(title_en, field="title_en", max_length=64)
    description = clean_text(description, field="description", message=DESCRIPTION_MESSAGE)
    chosen = _surfaces(db, surfaces)
    if not (isinstance(starts_on, date) and isinstance(ends_on, date)) or starts_on > ends_on:
        raise ValidationFailed("The campaign starts on or before its last day.", field="ends_on")
    local_today = today(timezone)
    if ends_on < local_today or ends_on > local_today + timedelta(days=MAX_AHEAD_DAYS):
        raise ValidationFailed("The last day is from today to {n} days ahead.", n=MAX_AHEAD_DAYS,
                               field="ends_on")
    if (ends_on - starts_on).days + 1 > MAX_DAYS:
        raise ValidationFailed("A campaign lasts at most {n} days.", n=MAX_DAYS, field="ends_on")
    stage_codes = _choices(eligible_stages, [s.value for s in Stage], field="eligible_stages")
    if min_tier is not None and min_tier not in TIERS:
        raise ValidationFailed("Unknown tier {tier}.", tier=str(min_tier)[:8], field="min_tier")
    codes = _choices(category_codes, list(db.scalars(select(Category.code))),
                     field="category_codes")
    if isinstance(impressions_per_miniapp, bool) or not isinstance(
        impressions_per_miniapp, int
    ) or not 1 <= impressions_per_miniapp <= MAX_IMPRESSIONS:
        raise ValidationFailed("Impressions per mini-app are 1 to {n}.", n=MAX_IMPRESSIONS,
                               field="impressions_per_miniapp")
    if max_enrolments is not None and (
        isinstance(max_enrolments, bool) or not isinstance(max_enrolments, int)
        or not 1 <= max_enrolments <= MAX_ENROLMENTS
    ):
        raise ValidationFailed("The enrolment limit is 1 to {n}, or none.", n=MAX_ENROLMENTS,
                               field="max_enrolments")
    terms = discounts.check(threshold_fen=discount_threshold_fen, off_fen=discount_off_fen,
                            percent=discount_percent, cap_fen=discount_cap_fen)
    campaign = Campaign(
        title_zh=title_zh, title_en=title_en, description=description, surfaces=chosen,
        starts_on=starts_on, ends_on=ends_on, eligible_stages=stage_codes, min_tier=min_tier,
        category_codes=codes, impressions_per_miniapp=impressions_per_miniapp,
        max_enrolments=max_enrolments, created_by_id=actor.id if actor else None,
        discount_threshold_fen=terms.threshold_fen, discount_off_fen=terms.off_fen,
        discount_percent=terms.percent, discount_cap_fen=terms.cap_fen,
    )
    db.add(campaign)
    db.flush()
    audit.record(db, actor_id=actor.id if actor else None, action="campaign.create",
                 subject_type="campaign", subject_id=campaign.public_id)
    return campaign


def _campaign(db: Session, public_id: str, *, actor: User | None, lock: bool = False) -> Campaign:
    campaign = None
    if well_formed(public_id, "cmp"):
        stmt = select(Campaign).where(Campaign.public_id == public_id)
        if lock:  # enrolments of one campaign queue up, so the limit holds under concurrency
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        campaign = db.scalar(stmt)
    if campaign is None or (campaign.state == S.DRAFT and not is_operator(actor)):
        raise NotFound("No such campaign.")
    return campaign


def _promises(db: Session, campaign: Campaign) -> list[Promise]:
    stmt = select(Promise).where(Promise.kind == PromiseKind.CAMPAIGN,
                                 Promise.source == f"campaign:{campaign.public_id}")
    return list(db.scalars(stmt))


def set_state(
    db: Session, *, actor: User | None, campaign_public_id: str, state: CampaignState | str,
    timezone: str | None = None,
) -> Campaign:
    """Operator: open, close, reopen or cancel (cancelling withdraws every promise)."""
    require_role(actor, Role.OPERATOR)
    try:
        target = S(state)
    except ValueError:
        raise ValidationFailed("Unknown campaign state {state}.", state=str(state)[:16],
                               field="state") from None
    campaign = _campaign(db, campaign_public_id, actor=actor, lock=True)
    if campaign.state == target:
        return campaign  # a retried request
    if target not in MOVES[campaign.state]:
        raise Conflict("A campaign that is “{current}” cannot become “{target}”.",
                       current=gettext(STATE_LABELS[campaign.state]),
                       target=gettext(STATE_LABELS[target]))
    if target == S.OPEN and campaign.ends_on < today(timezone):
        raise Conflict("This campaign has ended.")
    if target == S.CANCELLED:
        for promise in _promises(db, campaign):
            if promise.state == PromiseState.ACTIVE:
                promise.state = PromiseState.CANCELLED
                miniapp = db.get(MiniApp, promise.miniapp_id)
                if miniapp is not None:
                    _tell(db, "campaign.cancelled", campaign, miniapp)
    previous, campaign.state = campaign.state, target
    db.flush()
    audit.record(db, actor_id=actor.id if actor else None, action=f"campaign.{target.value}",
                 subject_type="campaign", subject_id=campaign.public_id,
                 from_state=previous.value)
    return campaign


def _facts(db: Session, miniapp: MiniApp) -> tuple[Stage | None, str | None]:
    profile = db.get(TrafficProfile, miniapp.id)
    if profile is not None:
        return Stage(profile.stage), profile.tier
    # not profiled yet (before the first planning run): decide from live figures
    live = stages.compute(db, config=traffic_config.active(db), now=clock.now(),
                          merchant_id=miniapp.merchant_id)
    stage = live[miniapp.id][0] if miniapp.id in live else None
    scores = standings(db, miniapp_ids=[miniapp.id])
    standing = scores.by_miniapp.get(miniapp.id) if scores is not None else None
    return stage, standing.tier if standing is not None else None


def eligibility(
    db: Session, *, campaign: Campaign, miniapp: MiniApp,
    facts: tuple[Stage | None, str | None] | None = None,
) -> list[str]:
    """Why the mini-app may not enrol (translated sentences); empty when it is eligible.

    `facts` (stage, tier) saves the lookup when the caller checks many campaigns.
    """
    reasons: list[str] = []
    if not miniapp.listed:
        return [gettext(N_("The mini-app is not listed."))]
    stage, tier = facts or _facts(db, miniapp)
    if campaign.eligible_stages and (stage is None or stage.value not in campaign.eligible_stages):
        reasons.append(gettext(N_("Its growth stage is {stage}; this campaign is for {stages}."))
                       .format(stage=stages.label(stage) if stage else "—",
                               stages=", ".join(stages.label(s) for s in campaign.eligible_stages)))
    if campaign.min_tier:
        if tier not in TIERS:
            reasons.append(gettext(N_("It has no service tier yet; this campaign needs tier "
                                      "{tier} or better.")).format(tier=campaign.min_tier))
        elif TIERS.index(tier) > TIERS.index(campaign.min_tier):
            reasons.append(gettext(N_("Its tier is {tier}; this campaign needs tier {min_tier} "
                                      "or better.")).format(tier=tier, min_tier=campaign.min_tier))
    if campaign.category_codes and miniapp.category.code not in campaign.category_codes:
        reasons.append(gettext(N_("Its category is not part of this campaign.")))
    return reasons


def _enrolment(db: Session, campaign: Campaign, miniapp: MiniApp) -> CampaignEnrolment | None:
    stmt = select(CampaignEnrolment).where(CampaignEnrolment.campaign_id == campaign.id,
                                           CampaignEnrolment.miniapp_id == miniapp.id)
    return db.scalar(stmt.execution_options(populate_existing=True))


def enrol_once(
    db: Session, *, actor: User | None, campaign_public_id: str, miniapp_public_id: str,
    timezone: str | None = None,
) -> tuple[CampaignEnrolment, bool]:
    """`enrol`, also telling whether this call enrolled (False: it was enrolled already)."""
    campaign = _campaign(db, campaign_public_id, actor=actor, lock=True)
    miniapp = acting_miniapp(db, actor=actor, public_id=miniapp_public_id)
    now = clock.now()
    if campaign.state != S.OPEN:
        raise Conflict("This campaign is not open for enrolment.")
    if campaign.ends_on < today(timezone, now):
        raise Conflict("This campaign has ended.")
    existing = _enrolment(db, campaign, miniapp)
    if existing is not None and existing.withdrawn_at is None:
        return existing, False
    reasons = eligibility(db, campaign=campaign, miniapp=miniapp)
    if reasons:
        raise Conflict("This mini-app is not eligible: {reasons}", code="not_eligible",
                       details=reasons, reasons=" ".join(reasons))
    if campaign.max_enrolments is not None:
        taken = db.execute(select(func.count()).where(
            CampaignEnrolment.campaign_id == campaign.id, CampaignEnrolment.withdrawn_at.is_(None)
        )).scalar_one()
        if taken >= campaign.max_enrolments:
            raise Conflict("This campaign is full.", code="campaign_full")
    starts_at, ends_at = period(campaign, timezone)
    starts_at = max(starts_at, now)
    actor_id = actor.id if actor else None
    source = f"campaign:{campaign.public_id}"
    try:
        with db.begin_nested():
            if existing is None:
                existing = CampaignEnrolment(campaign_id=campaign.id, miniapp_id=miniapp.id,
                                             merchant_id=miniapp.merchant_id,
                                             enrolled_by_id=actor_id, enrolled_at=now)
                db.add(existing)
            else:  # enrolling again after a withdrawal
                existing.withdrawn_at, existing.enrolled_at = None, now
                existing.enrolled_by_id = actor_id
            promise = db.scalar(select(Promise).where(
                Promise.kind == PromiseKind.CAMPAIGN, Promise.source == source,
                Promise.miniapp_id == miniapp.id))
            if promise is None:
                db.add(Promise(kind=PromiseKind.CAMPAIGN, source=source, miniapp_id=miniapp.id,
                               merchant_id=miniapp.merchant_id, surfaces=list(campaign.surfaces),
                               requested=campaign.impressions_per_miniapp, starts_at=starts_at,
                               ends_at=ends_at, detail={"campaign": campaign.public_id}))
            else:
                promise.state, promise.starts_at = PromiseState.ACTIVE, starts_at
            db.flush()
    except IntegrityError:
        found = _enrolment(db, campaign, miniapp)
        if found is None:
            raise
        return found, False
    audit.record(db, actor_id=actor_id, action="campaign.enrol", subject_type="campaign",
                 subject_id=campaign.public_id, miniapp=miniapp.public_id)
    _tell(db, "campaign.enrolled", campaign, miniapp)
    return existing, True


def _tell(db: Session, kind: str, campaign: Campaign, miniapp: MiniApp) -> None:
    """The merchant (and the ISV building the mini-app) hear of it in this transaction."""
    merchant_public_id = db.scalar(select(Merchant.public_id)
                                   .where(Merchant.id == miniapp.merchant_id))
    notify(db, kind=kind, merchant_id=miniapp.merchant_id, miniapp=miniapp,
           params={"campaign": {"zh": campaign.title_zh, "en": campaign.title_en},
                   "impressions": campaign.impressions_per_miniapp},
           link=f"/console/merchant/{merchant_public_id}/traffic#campaigns")


def enrol(
    db: Session, *, actor: User | None, campaign_public_id: str, miniapp_public_id: str,
    timezone: str | None = None,
) -> CampaignEnrolment:
    """Enrol an eligible listed mini-app in an open campaign (idempotent)."""
    return enrol_once(db, actor=actor, campaign_public_id=campaign_public_id,
                      miniapp_public_id=miniapp_public_id, timezone=timezone)[0]


def withdraw(
    db: Session, *, actor: User | None, campaign_public_id: str, miniapp_public_id: str
) -> CampaignEnrolment:
    """Take a mini-app out of a campaign: its promise is cancelled (idempotent)."""
    campaign = _campaign(db, campaign_public_id, actor=actor)
    miniapp = acting_miniapp(db, actor=actor, public_id=miniapp_public_id)
    enrolment = _enrolment(db, campaign, miniapp)
    if enrolment is None:
        raise NotFound("This mini-app is not enrolled in the campaign.")
    if enrolment.withdrawn_at is not None:
        return enrolment
    enrolment.withdrawn_at = clock.now()
    for promise in _promises(db, campaign):
        if promise.miniapp_id == miniapp.id and promise.state == PromiseState.ACTIVE:
            promise.state = PromiseState.CANCELLED
    db.flush()
    audit.record(db, actor_id=actor.id if actor else None, action="campaign.withdraw",
                 subject_type="campaign", subject_id=campaign.public_id,
                 miniapp=miniapp.public_id)
    return enrolment


def open_for(
    db: Session, *, actor: User | None, merchant_public_id: str, timezone: str | None = None
) -> list[tuple[Campaign, list[tuple[MiniApp, list[str]]]]]:
    """Open campaigns not yet ended, each with the merchant's listed mini-apps and reasons."""
    merchant = merchants.get_merchant(db, actor=actor, public_id=merchant_public_id)
    apps = list(db.scalars(select(MiniApp).where(
        MiniApp.merchant_id == merchant.id, MiniApp.listed.is_(True)).order_by(MiniApp.name)))
    found = db.scalars(select(Campaign).where(
        Campaign.state == S.OPEN, Campaign.ends_on >= today(timezone)
    ).order_by(Campaign.starts_on, Campaign.id))
    facts = {app.id: _facts(db, app) for app in apps}
    return [
        (c, [(app, eligibility(db, campaign=c, miniapp=app, facts=facts[app.id])) for app in apps])
        for c in found
    ]


def enrolled(db: Session, *, merchant_id: int) -> set[tuple[int, int]]:
    """(campaign id, mini-app id) of the merchant's current enrolments."""
    stmt = select(CampaignEnrolment.campaign_id, CampaignEnrolment.miniapp_id).where(
        CampaignEnrolment.merchant_id == merchant_id, CampaignEnrolment.withdrawn_at.is_(None))
    return {(c, m) for c, m in db.execute(stmt)}


def enrolment_counts(db: Session, *, campaign_ids: list[int]) -> dict[int, int]:
    """Current (not withdrawn) enrolments per campaign."""
    if not campaign_ids:
        return {}
    stmt = (select(CampaignEnrolment.campaign_id, func.count())
            .where(CampaignEnrolment.campaign_id.in_(campaign_ids),
                   CampaignEnrolment.withdrawn_at.is_(None))
            .group_by(CampaignEnrolment.campaign_id))
    return {c: int(n) for c, n in db.execute(stmt)}


def list_all(db: Session, *, actor: User | None, limit: int | None = None) -> list[Campaign]:
    """Operator: every campaign (or the newest `limit`), newest first."""
    require_role(actor, Role.OPERATOR)
    stmt = select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id.desc())
    return list(db.scalars(stmt if limit is None else stmt.limit(limit)))
