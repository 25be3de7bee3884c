"""Scoring pages: a mini-app's score for its owner, and the operators' scoring console (run a
cycle, the distribution, the configuration, disputes to decide)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from townsquare.accounts.deps import CurrentUser, FormUser
from townsquare.accounts.models import Role, User
from townsquare.accounts.permissions import require_role
from townsquare.core import i18n
from townsquare.core.clock import clock
from townsquare.core.errors import TownsquareError, ValidationFailed
from townsquare.core.i18n import N_, gettext
from townsquare.core.settings import Settings
from townsquare.merchants import categories as merchant_categories
from townsquare.miniapps import registry
from townsquare.scoring import (
    TIERS,
    charts,
    config_labels,
    config_versions,
    cycles,
    disputes,
    queries,
    views,
)
from townsquare.scoring.models import DisputeState
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.forms import flashes, rejected, see_other
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=4000)]
Short = Annotated[str, Form(max_length=100)]
MERCHANT_PAGE = "scoring/miniapp_score.html"
OPERATOR_PAGE = "scoring/operator_scoring.html"

# The complaint categories mini-apps report (events.intake: a short code), as consoles show them;
# a code the platform does not know yet is shown as reported.
COMPLAINT_LABELS = {
    "quality": N_("Product quality"), "delivery": N_("Delivery"),
    "service": N_("Service attitude"), "price": N_("Price"), "hygiene": N_("Hygiene"),
}


def complaint_label(code: str) -> str:
    return gettext(COMPLAINT_LABELS[code]) if code in COMPLAINT_LABELS else code

DONE = {
    "disputed": N_("Dispute sent; an operator will decide."),
    "ran": N_("Scoring cycle finished."),
    "config": N_("New configuration version saved; the next cycle uses it."),
    "decided": N_("Dispute decided."),
}


# --- the merchant's page ------------------------------------------------------------------------


def _merchant_context(db: Session, *, user: User, miniapp_id: str) -> dict[str, Any]:
    miniapp = registry.get_miniapp(db, actor=user, public_id=miniapp_id)
    history = queries.score_history(db, actor=user, miniapp_id=miniapp_id)
    locale = i18n.current_locale.get()
    return {
        "miniapp": miniapp,
        "is_owner": registry.is_owner(db, user, miniapp),
        "complaints": disputes.complaints_of(db, actor=user, miniapp_id=miniapp_id),
        "complaint_label": complaint_label,
        **views.merchant_view(db, history, locale),
    }


@router.get("/console/miniapps/{miniapp_id}/score", response_class=HTMLResponse)
def miniapp_score(request: Request, miniapp_id: str, user: CurrentUser, db: DbSession):
    context = _merchant_context(db, user=user, miniapp_id=miniapp_id)
    return render(request, MERCHANT_PAGE, flashes=flashes(request, DONE), form={}, **context)


@router.post("/console/miniapps/{miniapp_id}/disputes")
def dispute_complaint(
    request: Request,
    miniapp_id: str,
    user: FormUser,
    db: DbSession,
    event_id: Annotated[str, Form(max_length=100)] = "",
    reason: Text = "",
) -> Response:
    try:
        disputes.open_dispute(
            db, actor=user, miniapp_id=miniapp_id, event_id=event_id, reason=reason
        )
    except TownsquareError as exc:
        db.rollback()
        context = _merchant_context(db, user=user, miniapp_id=miniapp_id)
        return rejected(
            request, db, MERCHANT_PAGE, exc, failed=event_id, form={"reason": reason}, **context
        )
    return see_other(f"/console/miniapps/{miniapp_id}/score?ok=disputed#complaints")


# --- the operators' page -----------------------------------------------------------------------


SCORES_PAGE_SIZE = 20
OPEN_DISPUTES_SHOWN = 50  # the oldest waiting first; the rest after these are decided


def _operator_context(
    db: Session, *, user: User, settings: Settings, params: Any = None
) -> dict[str, Any]:
    require_role(user, Role.OPERATOR)
    params = params or {}
    locale = i18n.current_locale.get()
    version = config_versions.active_version(db)
    latest = queries.latest_cycle(db, actor=user)
    category = (params.get("category") or "")[:32] or None
    tier = params.get("tier") or None
    if tier not in (None, "none", *TIERS):
        tier = None
    try:
        page = max(1, min(int(params.get("page") or 1), 10_000))
    except ValueError:
        page = 1
    scores: list[Any] = []
    total, insufficient = 0, 0
    tiers: dict[str, int] = {t: 0 for t in TIERS}
    bands: list[int] = [0] * 10
    codes: list[str] = []
    if latest:
        scores, total = queries.score_page(
            db, actor=user, cycle=latest, category=category, tier=tier,
            limit=SCORES_PAGE_SIZE, offset=(page - 1) * SCORES_PAGE_SIZE,
        )
        tiers, insufficient, bands, codes = queries.cycle_summary(db, actor=user, cycle=latest)
    names = {c.code: c.name(locale) for c in merchant_categories.list_categories(db)}
    kept = {k: v for k, v in (("category", category or ""), ("tier", tier or "")) if v}
    return {
        "version": version,
        "numbers": config_versions.editable_numbers(version.config),
        "config_groups": config_labels.labelled_groups(
            config_versions.editable_numbers(version.config), locale
        ),
        "cycles": queries.list_cycles(db, actor=user, limit=12),
        "latest": latest,
        "scores": scores,
        "score_intervals": queries.intervals(db, actor=user, scores=scores),
        "score_total": total,
        "score_page": page,
        "score_pages": max(1, -(-total // SCORES_PAGE_SIZE)),
        "score_query": urlencode(kept),
        "score_filter": {"category": category or "", "tier": tier or ""},
        "category_names": names,
        "score_categories": [(code, names.get(code, code)) for code in codes],
        "tiers": TIERS,
        "tier_counts": tiers,
        "insufficient": insufficient,
        "histogram": charts.histogram(
            bands, label=gettext("Distribution of overall scores")
        ),
        "next_due": cycles.next_due(db),
        "today": clock.now().date(),
        "open_disputes": disputes.list_disputes(db, actor=user, state=DisputeState.OPEN,
                                                limit=OPEN_DISPUTES_SHOWN),
        "decided_disputes": disputes.recently_decided(db, actor=user, limit=10),
    }


@router.get("/console/operator/scoring", response_class=HTMLResponse)
def operator_scoring(request: Request, user: CurrentUser, db: DbSession, settings: AppSettings):
    context = _operator_context(db, user=user, settings=settings, params=request.query_params)
    return render(request, OPERATOR_PAGE, flashes=flashes(request, DONE), form={}, **context)


def _refuse(request, db, user, settings, exc: TownsquareError, failed: str, form: dict):
    db.rollback()
    context = _operator_context(db, user=user, settings=settings)
    return rejected(request, db, OPERATOR_PAGE, exc, failed=failed, form=form, **context)


@router.post("/console/operator/scoring/run")
def run_now(
    request: Request, user: FormUser, db: DbSession, settings: AppSettings, as_of: Short = ""
) -> Response:
    require_role(user, Role.OPERATOR)
    try:
        try:
            day = date.fromisoformat(as_of.strip())
        except ValueError as exc:
            raise ValidationFailed("Give the date as YYYY-MM-DD.", field="as_of") from exc
        cycles.run_cycle(db, settings=settings, as_of=day, actor=user)
    except TownsquareError as exc:
        return _refuse(request, db, user, settings, exc, "run", {"as_of": as_of})
    return see_other("/console/operator/scoring?ok=ran")


@router.post("/console/operator/scoring/config")
async def save_config(
    request: Request, user: FormUser, db: DbSession, settings: AppSettings
) -> Response:
    require_role(user, Role.OPERATOR)
    form = {k: str(v)[:100] for k, v in (await request.form()).items() if k != "csrf_token"}
    try:
        version = config_versions.active_version(db)
        changes = {
            key: form[key]
            for key, current in config_versions.editable_numbers(version.config).items()
            if key in form and form[key].strip() != _plain(current)
        }
        config_versions.save_config(
            db,
            actor=user,
            changes=changes,
            cycle_days=_int(form.get("cycle_days"), "cycle_days"),
            window_days=_int(form.get("window_days"), "window_days"),
            note=form.get("note", ""),
        )
    except TownsquareError as exc:
        return _refuse(request, db, user, settings, exc, "config", form)
    return see_other("/console/operator/scoring?ok=config#config")


def _plain(number: float) -> str:
    return f"{number:g}"


def _int(value: str | None, field: str) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        return int(value.strip())
    except ValueError as exc:
        raise ValidationFailed("Enter a whole number of days.", field=field) from exc


@router.post("/console/operator/disputes/{dispute_id}/decide")
def decide(
    request: Request,
    dispute_id: str,
    user: FormUser,
    db: DbSession,
    settings: AppSettings,
    decision: Short = "",
    reason: Text = "",
) -> Response:
    try:
        disputes.decide_dispute(
            db, actor=user, dispute_id=dispute_id, decision=decision, reason=reason
        )
    except TownsquareError as exc:
        return _refuse(request, db, user, settings, exc, dispute_id, {"reason": reason})
    return see_other("/console/operator/scoring?ok=decided#disputes")
