"""Traffic console pages for merchants: exposure by source, stages and tier incentives, points and
redemptions, campaigns, topics, bids, and each promise's planned against delivered impressions.
The operators' traffic console is in `operator_pages`.

Every form posts with the CSRF token; a refused form is shown again with the message and changes
nothing (`web.forms.rejected`); a successful one redirects back (303).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from townsquare.accounts.deps import CurrentUser, FormUser
from townsquare.accounts.models import User
from townsquare.core.errors import NotFound
from townsquare.core.i18n import N_
from townsquare.core.settings import Settings
from townsquare.traffic import topics as topic_service
from townsquare.traffic.console import reports, views
from townsquare.traffic.market import bids
from townsquare.traffic.support import campaigns, points
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.forms import attempt, flashes
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)
Short = Annotated[str, Form(max_length=100)]
Text = Annotated[str, Form(max_length=4000)]
PAGE = "traffic/merchant_traffic.html"

DONE = {
    "redeemed": N_("Points redeemed: the exposure package is on its way."),
    "enrolled": N_("Enrolled in the campaign."),
    "withdrawn": N_("Withdrawn from the campaign."),
    "applied": N_("Application sent; an operator will decide."),
    "bid": N_("Bid saved."),
    "paused": N_("Bid paused."),
    "resumed": N_("Bid resumed."),
}


@router.get("/console/merchant/{mer_id}/traffic", response_class=HTMLResponse)
def merchant_traffic(
    request: Request, mer_id: str, user: CurrentUser, db: DbSession, settings: AppSettings
) -> HTMLResponse:
    context = views.merchant_context(db, user=user, mer_id=mer_id, settings=settings)
    return render(request, PAGE, flashes=flashes(request, DONE), form={}, **context)


def _merchant_form(
    request: Request, db: Session, user: User, settings: Settings, mer_id: str, *,
    failed: str, action: Callable[[], object], done: str, form: dict[str, Any],
) -> Response:
    reports.merchant_of(db, actor=user, merchant_public_id=mer_id)  # outsiders: the error page
    return attempt(
        request, db, action, template=PAGE, failed=failed, form=form,
        context=lambda: views.merchant_context(db, user=user, mer_id=mer_id,
                                                       settings=settings),
        done_url=f"/console/merchant/{mer_id}/traffic?ok={done}#{failed}",
    )


@router.post("/console/merchant/{mer_id}/traffic/redeem")
def redeem(
    request: Request, mer_id: str, user: FormUser, db: DbSession, settings: AppSettings,
    package: Short = "", miniapp: Short = "", idempotency_key: Short = "",
) -> Response:
    return _merchant_form(
        request, db, user, settings, mer_id, failed="points", done="redeemed",
        action=lambda: points.redeem(
            db, actor=user, merchant_public_id=mer_id, miniapp_public_id=miniapp,
            package_code=package, idempotency_key=idempotency_key,
        ),
        form={"package": package, "miniapp": miniapp},
    )


@router.post("/console/merchant/{mer_id}/traffic/campaigns/{cmp_id}/enrol")
def enrol(
    request: Request, mer_id: str, cmp_id: str, user: FormUser, db: DbSession,
    settings: AppSettings, miniapp: Short = "",
) -> Response:
    return _merchant_form(
        request, db, user, settings, mer_id, failed="campaigns", done="enrolled",
        action=lambda: campaigns.enrol(
            db, actor=user, campaign_public_id=cmp_id, miniapp_public_id=miniapp,
            timezone=settings.timezone,
        ),
        form={"campaign": cmp_id, "miniapp": miniapp},
    )


@router.post("/console/merchant/{mer_id}/traffic/campaigns/{cmp_id}/withdraw")
def withdraw(
    request: Request, mer_id: str, cmp_id: str, user: FormUser, db: DbSession,
    settings: AppSettings, miniapp: Short = "",
) -> Response:
    return _merchant_form(
        request, db, user, settings, mer_id, failed="campaigns", done="withdrawn",
        action=lambda: campaigns.withdraw(
            db, actor=user, campaign_public_id=cmp_id, miniapp_public_id=miniapp
        ),
        form={"campaign": cmp_id, "miniapp": miniapp},
    )


@router.post("/console/merchant/{mer_id}/traffic/topics")
def apply_to_topic(
    request: Request, mer_id: str, user: FormUser, db: DbSession, settings: AppSettings,
    topic: Short = "", miniapp: Short = "", note: Text = "",
) -> Response:
    return _merchant_form(
        request, db, user, settings, mer_id, failed="topics", done="applied",
        action=lambda: topic_service.apply(
            db, actor=user, topic_slug=topic, miniapp_public_id=miniapp, note=note
        ),
        form={"topic": topic, "miniapp": miniapp, "note": note},
    )


@router.post("/console/merchant/{mer_id}/traffic/bids")
def place_bid(
    request: Request, mer_id: str, user: FormUser, db: DbSession, settings: AppSettings,
    miniapp: Short = "", target_kind: Short = "", target: Short = "",
    max_cpc: Short = "", daily_budget: Short = "",
) -> Response:
    def action() -> object:
        return bids.place(
            db, actor=user, merchant_public_id=mer_id, miniapp_public_id=miniapp,
            target_kind=target_kind, target=target,
            max_cpc_fen=views.yuan_to_fen(max_cpc, field="max_cpc"),
            daily_budget_fen=views.yuan_to_fen(daily_budget, field="daily_budget"),
            timezone=settings.timezone,
        )

    return _merchant_form(
        request, db, user, settings, mer_id, failed="bids", done="bid", action=action,
        form={"miniapp": miniapp, "target_kind": target_kind, "target": target,
              "max_cpc": max_cpc, "daily_budget": daily_budget},
    )


@router.post("/console/merchant/{mer_id}/traffic/bids/{bid_id}/active")
def pause_or_resume_bid(
    request: Request, mer_id: str, bid_id: str, user: FormUser, db: DbSession,
    settings: AppSettings, active: Short = "",
) -> Response:
    resume = active == "1"

    def action() -> object:
        merchant = reports.merchant_of(db, actor=user, merchant_public_id=mer_id)
        if bids.get_bid(db, actor=user, bid_public_id=bid_id).merchant_id != merchant.id:
            raise NotFound("No such bid.")
        return bids.set_active(db, actor=user, bid_public_id=bid_id, active=resume)

    return _merchant_form(
        request, db, user, settings, mer_id, failed="bids", done="resumed" if resume else "paused",
        action=action, form={},
    )
