"""The operators' traffic console: supply against demand, promises at risk, exposure
concentration, the planner button, topics and their application queue, campaigns, channels, and
the traffic configuration (JSON, validated on save). Included by `merchant_pages`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from townsquare.accounts.deps import CurrentUser, FormUser
from townsquare.accounts.models import Role, User
from townsquare.accounts.permissions import require_role
from townsquare.core.errors import TownsquareError
from townsquare.core.i18n import N_
from townsquare.traffic import config, topics
from townsquare.traffic.console import views
from townsquare.traffic.planning import service as planning
from townsquare.traffic.support import campaigns
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.forms import attempt, flashes, rejected, see_other
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)
Short = Annotated[str, Form(max_length=100)]
Text = Annotated[str, Form(max_length=4000)]
Many = Annotated[list[str], Form(max_length=20)]
PAGE = "traffic/operator_traffic.html"
CONFIG_PAGE = "traffic/operator_config.html"
HOME = "/console/operator/traffic"

DONE = {
    "planned": N_("The planner ran; the new plan serves from now on."),
    "topic": N_("Topic created."),
    "decided": N_("Application decided."),
    "campaign": N_("Campaign created (as a draft: open it for enrolment)."),
    "state": N_("Campaign updated."),
    "config": N_("New traffic configuration saved; the next planning run uses it."),
}


@router.get("/console/operator/traffic", response_class=HTMLResponse)
def operator_traffic(request: Request, user: CurrentUser, db: DbSession) -> HTMLResponse:
    context = views.operator_context(db, user=user)
    return render(request, PAGE, flashes=flashes(request, DONE), form={}, **context)


def _operator_form(
    request: Request, db: Session, user: User, *, failed: str, action: Callable[[], object],
    done: str, form: dict[str, Any],
) -> Response:
    require_role(user, Role.OPERATOR)
    return attempt(
        request, db, action, template=PAGE, failed=failed, form=form,
        context=lambda: views.operator_context(db, user=user),
        done_url=f"{HOME}?ok={done}#{failed}",
    )


@router.post("/console/operator/traffic/plan")
def run_planner(
    request: Request, user: FormUser, db: DbSession, settings: AppSettings
) -> Response:
    return _operator_form(
        request, db, user, failed="plan", done="planned", form={},
        action=lambda: planning.run(db, actor=user, timezone=settings.timezone),
    )


@router.post("/console/operator/traffic/topics")
def create_topic(
    request: Request, user: FormUser, db: DbSession,
    slug: Short = "", title_zh: Short = "", title_en: Short = "",
    description_zh: Text = "", description_en: Text = "",
    category_codes: Many = [],  # noqa: B006 (FastAPI copies form defaults)
    tags: Short = "",
) -> Response:
    form = {"slug": slug, "title_zh": title_zh, "title_en": title_en, "tags": tags,
            "description_zh": description_zh, "description_en": description_en,
            "category_codes": category_codes}
    return _operator_form(
        request, db, user, failed="topics", done="topic", form=form,
        action=lambda: topics.create_topic(
            db, actor=user, slug=slug, title_zh=title_zh, title_en=title_en,
            description_zh=description_zh, description_en=description_en,
            category_codes=category_codes, tags=views.split_list(tags),
        ),
    )


@router.post("/console/operator/traffic/applications/{tpm_id}/decide")
def decide_application(
    request: Request, tpm_id: str, user: FormUser, db: DbSession,
    decision: Short = "", reason: Text = "",
) -> Response:
    return _operator_form(
        request, db, user, failed="applications", done="decided",
        form={"member": tpm_id, "reason": reason},
        action=lambda: topics.decide(
            db, actor=user, member_public_id=tpm_id, approve=decision == "approve", reason=reason
        ),
    )


@router.post("/console/operator/traffic/campaigns")
def create_campaign(
    request: Request, user: FormUser, db: DbSession, settings: AppSettings,
    title_zh: Short = "", title_en: Short = "", description: Text = "", surfaces: Short = "",
    starts_on: Short = "", ends_on: Short = "",
    eligible_stages: Many = [],  # noqa: B006
    min_tier: Short = "", category_codes: Many = [],  # noqa: B006
    impressions_per_miniapp: Short = "", max_enrolments: Short = "",
    discount_threshold: Short = "", discount_off: Short = "", discount_percent: Short = "",
    discount_cap: Short = "",
) -> Response:
    form = {"title_zh": title_zh, "title_en": title_en, "description": description,
            "surfaces": surfaces, "starts_on": starts_on, "ends_on": ends_on,
            "eligible_stages": eligible_stages, "min_tier": min_tier,
            "category_codes": category_codes, "impressions_per_miniapp": impressions_per_miniapp,
            "max_enrolments": max_enrolments, "discount_threshold": discount_threshold,
            "discount_off": discount_off, "discount_percent": discount_percent,
            "discount_cap": discount_cap}

    def action() -> object:
        return campaigns.create(
            db, actor=user, title_zh=title_zh, title_en=title_en, description=description,
            surfaces=views.split_list(surfaces),
            starts_on=views.parse_day(starts_on, field="starts_on"),
            ends_on=views.parse_day(ends_on, field="ends_on"),
            eligible_stages=eligible_stages, min_tier=min_tier.strip() or None,
            category_codes=category_codes,
            impressions_per_miniapp=views.parse_int(
                impressions_per_miniapp, field="impressions_per_miniapp"
            ),
            max_enrolments=views.parse_int(
                max_enrolments, field="max_enrolments", required=False
            ),
            discount_threshold_fen=views.yuan_to_fen_or_none(
                discount_threshold, field="discount_threshold"),
            discount_off_fen=views.yuan_to_fen_or_none(discount_off, field="discount_off"),
            discount_percent=views.parse_int(
                discount_percent, field="discount_percent", required=False),
            discount_cap_fen=views.yuan_to_fen_or_none(discount_cap, field="discount_cap"),
            timezone=settings.timezone,
        )

    return _operator_form(
        request, db, user, failed="campaigns", done="campaign", form=form, action=action
    )


@router.post("/console/operator/traffic/campaigns/{cmp_id}/state")
def set_campaign_state(
    request: Request, cmp_id: str, user: FormUser, db: DbSession, settings: AppSettings,
    state: Short = "",
) -> Response:
    return _operator_form(
        request, db, user, failed="campaigns", done="state", form={"campaign": cmp_id},
        action=lambda: campaigns.set_state(
            db, actor=user, campaign_public_id=cmp_id, state=state, timezone=settings.timezone
        ),
    )


# --- the configuration as JSON ------------------------------------------------------------------


@router.get("/console/operator/traffic/config", response_class=HTMLResponse)
def config_page(request: Request, user: CurrentUser, db: DbSession) -> HTMLResponse:
    require_role(user, Role.OPERATOR)
    return render(
        request, CONFIG_PAGE, flashes=flashes(request, DONE), text=views.config_text(db),
        version=views.config_version(db), note="",
    )


@router.post("/console/operator/traffic/config")
def save_config(
    request: Request, user: FormUser, db: DbSession,
    text: Annotated[str, Form(max_length=100_000)] = "", note: Short = "",
) -> Response:
    require_role(user, Role.OPERATOR)
    try:
        config.save(db, actor=user, data=views.parse_config(text), note=note)
    except TownsquareError as exc:
        db.rollback()
        return rejected(request, db, CONFIG_PAGE, exc, text=text, note=note,
                        version=views.config_version(db))
    return see_other(f"{HOME}/config?ok=config")
