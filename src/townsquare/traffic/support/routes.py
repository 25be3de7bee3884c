"""JSON API of the four kinds of support a merchant sees: growth stages, points (balance, history,
redemptions) and campaigns (operators create and open them; merchants enrol).

A merchant's figures answer only to its staff, its authorized providers and operators.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from townsquare.accounts.deps import CurrentUser
from townsquare.core.clock import clock
from townsquare.core.errors import ValidationFailed
from townsquare.merchants import service as merchants
from townsquare.traffic import config as traffic_config
from townsquare.traffic.support import campaigns, points, stages
from townsquare.traffic.support.schemas import (
    AdjustIn,
    CampaignIn,
    CampaignOut,
    CampaignStateIn,
    CandidateOut,
    EnrolIn,
    EnrolmentOut,
    EntryOut,
    OpenCampaignOut,
    PackageOut,
    PointsOut,
    RedemptionIn,
    RedemptionOut,
    StagesOut,
    stage_out,
)
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.openapi import MerchantId, PublicId, errors

router = APIRouter(prefix="/api", tags=["traffic support"])
Limit = Annotated[int, Query(ge=1, le=500)]


@router.get("/merchants/{mer_id}/points", response_model=PointsOut, responses=errors(401, 403))
def points_overview(
    mer_id: MerchantId, user: CurrentUser, db: DbSession, limit: Limit = 100
) -> PointsOut:
    """The merchant's points balance and ledger, newest first."""
    merchant = merchants.get_merchant(db, actor=user, public_id=mer_id)
    entries = points.history(db, actor=user, merchant_public_id=mer_id, limit=limit)
    names = points.miniapp_public_ids(db, [e.miniapp_id for e in entries])
    return PointsOut(merchant_id=mer_id, balance=points.balance(db, merchant_id=merchant.id),
                     entries=[EntryOut.of(e, names) for e in entries])


@router.post(
    "/merchants/{mer_id}/points/adjustments",
    response_model=EntryOut,
    status_code=201,
    responses=errors(401, 403, 404, 409, 422),
)
def adjust_points(mer_id: MerchantId, body: AdjustIn, user: CurrentUser, db: DbSession) -> EntryOut:
    """Correct a merchant's balance with a reason (operators)."""
    entry = points.adjust(db, actor=user, merchant_public_id=mer_id, delta=body.delta,
                          reason=body.reason)
    return EntryOut.of(entry, {})


@router.get("/traffic/packages", response_model=list[PackageOut], responses=errors(401))
def packages(user: CurrentUser, db: DbSession) -> list[PackageOut]:
    """The exposure packages points can buy."""
    return [PackageOut.of(p) for p in traffic_config.active(db).packages]


@router.post(
    "/merchants/{mer_id}/redemptions",
    response_model=RedemptionOut,
    status_code=201,
    responses={200: {"description": "A retry: the redemption made with this key before"},
               **errors(401, 403, 404, 409, 422)},
)
def redeem(
    mer_id: MerchantId,
    body: RedemptionIn,
    user: CurrentUser,
    db: DbSession,
    response: Response,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=64)] = None,
) -> RedemptionOut:
    """Redeem points for an exposure package; the same key again charges nothing."""
    key = body.idempotency_key or idempotency_key
    if body.idempotency_key and idempotency_key and body.idempotency_key != idempotency_key:
        raise ValidationFailed("The Idempotency-Key header and the body's key differ.",
                               field="idempotency_key")
    if not key:
        raise ValidationFailed("Send an idempotency key (the Idempotency-Key header).",
                               field="idempotency_key")
    redemption, created = points.redeem_once(
        db, actor=user, merchant_public_id=mer_id, miniapp_public_id=body.miniapp_id,
        package_code=body.package_code, idempotency_key=key,
    )
    if not created:
        response.status_code = 200
    return RedemptionOut.of(redemption, points.promise_of(db, redemption))


@router.get(
    "/merchants/{mer_id}/redemptions",
    response_model=list[RedemptionOut],
    responses=errors(401, 403),
)
def list_redemptions(
    mer_id: MerchantId, user: CurrentUser, db: DbSession, limit: Limit = 100
) -> list[RedemptionOut]:
    """The merchant's redemptions, newest first, with planned and delivered impressions."""
    rows = points.redemptions(db, actor=user, merchant_public_id=mer_id, limit=limit)
    return [RedemptionOut.of(r, p) for r, p in rows]


@router.get("/merchants/{mer_id}/stages", response_model=StagesOut, responses=errors(401, 403))
def merchant_stages(mer_id: MerchantId, user: CurrentUser, db: DbSession) -> StagesOut:
    """The growth stage of the merchant and of each listed mini-app, with the rule that fired."""
    merchant, rows = stages.for_merchant(db, actor=user, merchant_public_id=mer_id,
                                         config=traffic_config.active(db), now=clock.now())
    overall = stages.most_advanced([stage for _, stage, _ in rows])
    return StagesOut(merchant_id=merchant.public_id, stage=overall.value if overall else None,
                     label=stages.label(overall) if overall else None,
                     miniapps=[stage_out(app, stage, detail) for app, stage, detail in rows])


# -- campaigns ------------------------------------------------------------------------------
@router.post(
    "/traffic/campaigns",
    response_model=CampaignOut,
    status_code=201,
    responses=errors(401, 403, 422),
)
def create_campaign(
    body: CampaignIn, user: CurrentUser, db: DbSession, settings: AppSettings
) -> CampaignOut:
    """Create a draft campaign (operators)."""
    campaign = campaigns.create(db, actor=user, timezone=settings.timezone, **body.model_dump())
    return CampaignOut.of(campaign, 0)


@router.get("/traffic/campaigns", response_model=list[CampaignOut], responses=errors(401, 403))
def list_campaigns(user: CurrentUser, db: DbSession) -> list[CampaignOut]:
    """Every campaign with its current enrolments, newest first (operators)."""
    found = campaigns.list_all(db, actor=user)
    counts = campaigns.enrolment_counts(db, campaign_ids=[c.id for c in found])
    return [CampaignOut.of(c, counts.get(c.id, 0)) for c in found]


@router.post(
    "/traffic/campaigns/{cmp_id}/state",
    response_model=CampaignOut,
    responses=errors(401, 403, 404, 409, 422),
)
def campaign_state(
    cmp_id: PublicId, body: CampaignStateIn, user: CurrentUser, db: DbSession,
    settings: AppSettings,
) -> CampaignOut:
    """Open, close, reopen or cancel a campaign (operators; cancelling withdraws its slots)."""
    campaign = campaigns.set_state(db, actor=user, campaign_public_id=cmp_id, state=body.state,
                                   timezone=settings.timezone)
    counts = campaigns.enrolment_counts(db, campaign_ids=[campaign.id])
    return CampaignOut.of(campaign, counts.get(campaign.id, 0))


@router.get(
    "/merchants/{mer_id}/campaigns",
    response_model=list[OpenCampaignOut],
    responses=errors(401, 403),
)
def open_campaigns(
    mer_id: MerchantId, user: CurrentUser, db: DbSession, settings: AppSettings
) -> list[OpenCampaignOut]:
    """Open campaigns with, per listed mini-app of the merchant, eligibility and enrolment."""
    found = campaigns.open_for(db, actor=user, merchant_public_id=mer_id,
                               timezone=settings.timezone)
    merchant = merchants.get_merchant(db, actor=user, public_id=mer_id)
    taken = campaigns.enrolled(db, merchant_id=merchant.id)
    return [
        OpenCampaignOut(
            campaign=CampaignOut.of(campaign),
            miniapps=[
                CandidateOut(miniapp_id=app.public_id, name=app.name, eligible=not reasons,
                             reasons=reasons, enrolled=(campaign.id, app.id) in taken)
                for app, reasons in apps
            ],
        )
        for campaign, apps in found
    ]


@router.post(
    "/traffic/campaigns/{cmp_id}/enrolments",
    response_model=EnrolmentOut,
    status_code=201,
    responses={200: {"description": "Already enrolled: the same enrolment"},
               **errors(401, 404, 409)},
)
def enrol(
    cmp_id: PublicId, body: EnrolIn, user: CurrentUser, db: DbSession, response: Response,
    settings: AppSettings,
) -> EnrolmentOut:
    """Enrol one of your listed mini-apps in an open campaign (idempotent)."""
    enrolment, created = campaigns.enrol_once(
        db, actor=user, campaign_public_id=cmp_id, miniapp_public_id=body.miniapp_id,
        timezone=settings.timezone,
    )
    if not created:
        response.status_code = 200
    return EnrolmentOut.of(enrolment)


@router.delete(
    "/traffic/campaigns/{cmp_id}/enrolments/{ma_id}",
    response_model=EnrolmentOut,
    responses=errors(401, 404),
)
def withdraw(cmp_id: PublicId, ma_id: PublicId, user: CurrentUser, db: DbSession) -> EnrolmentOut:
    """Withdraw a mini-app from a campaign; its campaign slots are cancelled."""
    return EnrolmentOut.of(campaigns.withdraw(db, actor=user, campaign_public_id=cmp_id,
                                              miniapp_public_id=ma_id))
