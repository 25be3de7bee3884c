"""Registry console pages: a merchant's mini-apps, one mini-app with its versions (and its
template's state and upgrade), and the operators' console home, review queue and listed
mini-apps. An ISV's templates page is template_pages.py.

Each page is built by one context function, used both to show it and to show it again with the
message (and the values typed) when a form is refused.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from townsquare.accounts.deps import CurrentUser, FormUser
from townsquare.accounts.models import Role, User
from townsquare.accounts.permissions import require_role
from townsquare.core.errors import TownsquareError
from townsquare.core.settings import Settings
from townsquare.merchants import brands, providers
from townsquare.merchants import categories as merchant_categories
from townsquare.merchants import service as merchants
from townsquare.merchants.access import can_act_for
from townsquare.miniapps import registry, review, templates_service
from townsquare.miniapps.models import MiniAppKind, ReviewLane, VersionState
from townsquare.miniapps.page_forms import (
    ACTION_LABELS,
    FormData,
    categories,
    common,
    config_from,
    field_rows,
    merchant_choices,
    next_label,
    refuse,
    split_words,
    ticked,
)
from townsquare.miniapps.runtimes import RUNTIMES, defaults_from_fields
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.forms import flashes, see_other
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)


# --- a merchant's mini-apps --------------------------------------------------------------------

MERCHANT_PAGE = "miniapps/console_merchant_miniapps.html"


def _merchant_context(
    db: Session, *, user: User, merchant_id: str, template_id: str | None = None,
    form: dict[str, str] | None = None,
) -> dict[str, Any]:
    merchant = registry.merchant_for(db, actor=user, public_id=merchant_id)
    miniapps = registry.list_merchant_miniapps(db, actor=user, merchant_id=merchant_id)
    templates = templates_service.list_published_templates(db)
    chosen = next((t for t in templates if t.public_id == template_id), None)
    rows = []
    if chosen is not None and chosen.runtime in RUNTIMES:
        rows = field_rows(chosen.runtime, defaults_from_fields(chosen.fields), form,
                          choices=merchant_choices(db, merchant, chosen.runtime))
    return {
        **common(), "merchant": merchant, "miniapps": miniapps,
        "latest": registry.latest_versions(db, miniapps), "templates": templates,
        "chosen": chosen, "field_rows": rows, "categories": categories(db),
        "can_act": can_act_for(db, user, merchant),
    }


@router.get("/console/merchant/{merchant_id}/miniapps", response_class=HTMLResponse)
def merchant_miniapps(
    request: Request, merchant_id: str, user: CurrentUser, db: DbSession,
    template: str | None = None,
) -> HTMLResponse:
    context = _merchant_context(db, user=user, merchant_id=merchant_id, template_id=template)
    return render(request, MERCHANT_PAGE, form={}, **context)


def _created_page(request: Request, created: registry.Created) -> Response:
    """An external mini-app's backend needs its client secret, shown this once; a mini-app made
    from a template runs on the platform, has no backend and needs none: on to its page."""
    if created.miniapp.kind != MiniAppKind.EXTERNAL:
        return see_other(f"/console/miniapps/{created.miniapp.public_id}?ok=created")
    return render(request, "miniapps/console_secret.html", miniapp=created.miniapp,
                  secret=created.client_secret, new=True, **common())


CREATED = {"created": ACTION_LABELS["miniapp.create"]}


@router.post("/console/merchant/{merchant_id}/miniapps/from-template")
def create_from_template(
    request: Request, merchant_id: str, user: FormUser, db: DbSession, settings: AppSettings,
    data: FormData,
) -> Response:
    template_id = data.get("template_id", "")
    try:
        template = templates_service.get_template(db, actor=user, public_id=template_id)
        created = templates_service.create_from_template(
            db, actor=user, settings=settings, template_id=template_id, merchant_id=merchant_id,
            name=data.get("name", ""), icon=data.get("icon", ""),
            description=data.get("description", ""), category=data.get("category") or None,
            tags=split_words(data.get("tags", "")), cities=split_words(data.get("cities", "")),
            config=config_from(template.runtime, data) if template.runtime in RUNTIMES else {},
            submit=ticked(data, "submit_now"),
            publish_on_approval=ticked(data, "publish_on_approval"),
        )
    except TownsquareError as exc:
        return refuse(request, db, MERCHANT_PAGE, exc, _merchant_context, failed="template",
                       form=data, user=user, merchant_id=merchant_id, template_id=template_id)
    return _created_page(request, created)


@router.post("/console/merchant/{merchant_id}/miniapps/external")
def create_external(
    request: Request, merchant_id: str, user: FormUser, db: DbSession, data: FormData
) -> Response:
    try:
        created = registry.create_miniapp(
            db, actor=user, merchant_id=merchant_id, kind=MiniAppKind.EXTERNAL,
            name=data.get("name", ""), icon=data.get("icon", ""),
            description=data.get("description", ""), category=data.get("category") or None,
            tags=split_words(data.get("tags", "")), cities=split_words(data.get("cities", "")),
            external_url=data.get("external_url", ""),
        )
    except TownsquareError as exc:
        return refuse(request, db, MERCHANT_PAGE, exc, _merchant_context, failed="external",
                       form=data, user=user, merchant_id=merchant_id)
    return _created_page(request, created)


# --- one mini-app ------------------------------------------------------------------------------

MINIAPP_PAGE = "miniapps/console_miniapp.html"


def _miniapp_context(
    db: Session, *, user: User, settings: Settings, miniapp_id: str,
    form: dict[str, str] | None = None,
) -> dict[str, Any]:
    miniapp = registry.get_miniapp(db, actor=user, public_id=miniapp_id)
    versions = registry.versions_of(db, miniapp)
    draft = next((v for v in versions if v.state == VersionState.DRAFT), None)
    lane = review.lane_for(miniapp.category)
    rows = []
    if draft is not None and miniapp.template is not None and miniapp.template.runtime in RUNTIMES:
        rows = field_rows(miniapp.template.runtime, draft.config, form,
                          choices=merchant_choices(db, miniapp.merchant, miniapp.template.runtime))
    upgrade_to = templates_service.upgrade_available(db, miniapp=miniapp)
    live = next((v for v in versions if v.state == VersionState.PUBLISHED), None)
    return {
        **common(), "upgrade_to": upgrade_to,
        "upgrade_note": templates_service.version_note(db, template=miniapp.template,
                                                       number=upgrade_to) if upgrade_to else "",
        "suggested_label": next_label(versions[0].label if versions else "1.0.0"),
        "live_template_version": live.template_version if live else None,
        "miniapp": miniapp, "versions": versions, "draft": draft,
        "field_rows": rows, "is_owner": registry.is_owner(db, user, miniapp),
        "open_version": next((v for v in versions if v.state in registry.OPEN_STATES), None),
        "history": registry.history(db, actor=user, miniapp_id=miniapp_id),
        "lane": lane,
        "lane_hours": settings.review_expedited_hours if lane.value == "expedited"
        else settings.review_standard_hours,
    }


@router.get("/console/miniapps/{miniapp_id}", response_class=HTMLResponse)
def miniapp_page(
    request: Request, miniapp_id: str, user: CurrentUser, db: DbSession, settings: AppSettings
) -> HTMLResponse:
    context = _miniapp_context(db, user=user, settings=settings, miniapp_id=miniapp_id)
    return render(request, MINIAPP_PAGE, form={}, flashes=flashes(request, CREATED), **context)


def _version_action(request, db, user, settings, version_id: str, failed: str, action,
                    data: dict[str, str] | None = None) -> Response:
    """Run a version form's action; back to the mini-app, or the page again with the error."""
    version = registry.get_version(db, actor=user, public_id=version_id)
    miniapp_id = version.miniapp.public_id
    try:
        action(version)
    except TownsquareError as exc:
        return refuse(request, db, MINIAPP_PAGE, exc, _miniapp_context, failed=failed, form=data,
                       user=user, settings=settings, miniapp_id=miniapp_id)
    return see_other(f"/console/miniapps/{miniapp_id}")


@router.post("/console/versions/{version_id}/edit")
def edit_draft(
    request: Request, version_id: str, user: FormUser, db: DbSession, settings: AppSettings,
    data: FormData,
) -> Response:
    def action(version):
        template = version.miniapp.template
        registry.update_draft(
            db, actor=user, version_id=version_id, label=data.get("label", ""),
            changelog=data.get("changelog", ""), name=data.get("name", ""),
            icon=data.get("icon", ""), description=data.get("description", ""),
            tags=split_words(data.get("tags", "")), cities=split_words(data.get("cities", "")),
            external_url=None if template else data.get("external_url", ""),
            config=config_from(template.runtime, data) if template else None,
        )

    return _version_action(request, db, user, settings, version_id, "edit", action, data)


@router.post("/console/versions/{version_id}/submit")
def submit_version(
    request: Request, version_id: str, user: FormUser, db: DbSession, settings: AppSettings,
    data: FormData,
) -> Response:
    def action(version):
        review.submit(db, actor=user, settings=settings, version_id=version_id,
                      publish_on_approval=ticked(data, "publish_on_approval"))

    return _version_action(request, db, user, settings, version_id, "submit", action)


@router.post("/console/versions/{version_id}/publish")
def publish_version(
    request: Request, version_id: str, user: FormUser, db: DbSession, settings: AppSettings
) -> Response:
    def action(version):
        review.publish(db, actor=user, version_id=version_id)

    return _version_action(request, db, user, settings, version_id, version_id, action)


@router.post("/console/versions/{version_id}/delete")
def delete_version(
    request: Request, version_id: str, user: FormUser, db: DbSession, settings: AppSettings
) -> Response:
    def action(version):
        registry.delete_draft(db, actor=user, version_id=version_id)

    return _version_action(request, db, user, settings, version_id, "edit", action)


@router.post("/console/miniapps/{miniapp_id}/versions")
def new_version(
    request: Request, miniapp_id: str, user: FormUser, db: DbSession, settings: AppSettings,
    data: FormData,
) -> Response:
    try:
        registry.new_version(
            db, actor=user, miniapp_id=miniapp_id, label=data.get("label", ""),
            changelog=data.get("changelog", ""), from_version=data.get("from_version") or None,
        )
    except TownsquareError as exc:
        return refuse(request, db, MINIAPP_PAGE, exc, _miniapp_context, failed="new", form=data,
                       user=user, settings=settings, miniapp_id=miniapp_id)
    return see_other(f"/console/miniapps/{miniapp_id}")


@router.post("/console/miniapps/{miniapp_id}/template-upgrade")
def upgrade_to_template(
    request: Request, miniapp_id: str, user: FormUser, db: DbSession, settings: AppSettings,
    data: FormData,
) -> Response:
    try:
        templates_service.upgrade_miniapp(db, actor=user, miniapp_id=miniapp_id,
                                          label=data.get("label", ""))
    except TownsquareError as exc:
        return refuse(request, db, MINIAPP_PAGE, exc, _miniapp_context, failed="upgrade",
                      form=data, user=user, settings=settings, miniapp_id=miniapp_id)
    return see_other(f"/console/miniapps/{miniapp_id}#draft")


@router.post("/console/miniapps/{miniapp_id}/secret")
def rotate_secret(
    request: Request, miniapp_id: str, user: FormUser, db: DbSession, settings: AppSettings
) -> Response:
    try:
        secret = registry.rotate_secret(db, actor=user, miniapp_id=miniapp_id)
    except TownsquareError as exc:
        return refuse(request, db, MINIAPP_PAGE, exc, _miniapp_context, failed="secret",
                      user=user, settings=settings, miniapp_id=miniapp_id)
    miniapp = registry.get_miniapp(db, actor=user, public_id=miniapp_id)
    return render(request, "miniapps/console_secret.html", miniapp=miniapp, secret=secret,
                  new=False, **common())


# --- operators ---------------------------------------------------------------------------------

HOME_PAGE = "miniapps/console_operator.html"
REVIEWS_PAGE = "miniapps/console_reviews.html"
LISTED_PAGE = "miniapps/console_operator_miniapps.html"


@router.get("/console/operator", response_class=HTMLResponse)
def operator_home(request: Request, user: CurrentUser, db: DbSession) -> HTMLResponse:
    """The operators' console home: what waits for them across merchants and the registry."""
    require_role(user, Role.OPERATOR)
    all_categories = merchant_categories.list_categories(db)
    counts = {
        "pending_brands": brands.count_pending(db),
        "pending_reviews": review.count_waiting(db),
        "merchants": merchants.count_merchants(db),
        "providers": providers.count_providers(db),
        "categories": len(all_categories),
        "urgent_categories": sum(1 for c in all_categories if c.urgent),
    }
    return render(request, HOME_PAGE, counts=counts)


REVIEWS_PAGE_SIZE = 20


def _queue_filter(params: Any) -> review.QueueFilter:
    lane = params.get("lane") or ""
    return review.QueueFilter(
        lane=ReviewLane(lane) if lane in {item.value for item in ReviewLane} else None,
        category=(params.get("category") or "")[:32] or None,
        overdue_only=params.get("overdue") in ("1", "on", "true"),
        query=(params.get("q") or "")[:64],
    )


def _reviews_context(
    db: Session, *, user: User, form: Any = None, params: Any = None,
    outcomes: list[review.BulkOutcome] | None = None,
) -> dict[str, Any]:
    params = params or {}
    filters = _queue_filter(params)
    try:
        page = max(1, min(int(params.get("page") or 1), 10_000))
    except ValueError:
        page = 1
    total = review.count_queue(db, actor=user, filters=filters)
    items = review.review_queue(
        db, actor=user, filters=filters, limit=REVIEWS_PAGE_SIZE,
        offset=(page - 1) * REVIEWS_PAGE_SIZE,
    )
    kept = {k: v for k, v in (("lane", filters.lane.value if filters.lane else ""),
                              ("category", filters.category or ""),
                              ("overdue", "1" if filters.overdue_only else ""),
                              ("q", filters.query)) if v}
    return {
        **common(), "items": items, "filters": filters, "page": page, "total": total,
        "pages": max(1, -(-total // REVIEWS_PAGE_SIZE)), "query": urlencode(kept),
        "lanes": list(ReviewLane), "outcomes": outcomes or [], "categories": categories(db),
    }


@router.get("/console/operator/reviews", response_class=HTMLResponse)
def reviews(request: Request, user: CurrentUser, db: DbSession) -> HTMLResponse:
    return render(request, REVIEWS_PAGE, form={},
                  **_reviews_context(db, user=user, params=request.query_params))


async def _ticked_versions(request: Request) -> list[str]:
    form = await request.form()  # parsed once; the CSRF check has already read it
    return [v for v in form.getlist("version") if isinstance(v, str)]


@router.post("/console/operator/reviews/bulk", response_class=HTMLResponse)
def bulk_decide(
    request: Request, user: FormUser, db: DbSession, data: FormData,
    ids: Annotated[list[str], Depends(_ticked_versions)],
) -> Response:
    """Approve or reject the ticked versions, each as its own checked, audited decision; the
    queue comes back (with the same filters) saying what happened to each."""
    try:
        outcomes = review.decide_many(db, actor=user, version_ids=ids,
                                      decision=data.get("action", ""),
                                      reason=data.get("reason", ""))
    except TownsquareError as exc:
        return refuse(request, db, REVIEWS_PAGE, exc, _reviews_context, failed="bulk",
                      form=data, user=user, params=request.query_params)
    return render(request, REVIEWS_PAGE, form={},
                  **_reviews_context(db, user=user, params=request.query_params,
                                     outcomes=outcomes))


@router.post("/console/versions/{version_id}/approve")
def approve(request: Request, version_id: str, user: FormUser, db: DbSession) -> Response:
    try:
        review.approve(db, actor=user, version_id=version_id)
    except TownsquareError as exc:
        return refuse(request, db, REVIEWS_PAGE, exc, _reviews_context, failed=version_id,
                       user=user)
    return see_other("/console/operator/reviews")


@router.post("/console/versions/{version_id}/reject")
def reject(
    request: Request, version_id: str, user: FormUser, db: DbSession, data: FormData
) -> Response:
    try:
        review.reject(db, actor=user, version_id=version_id, reason=data.get("reason", ""))
    except TownsquareError as exc:
        return refuse(request, db, REVIEWS_PAGE, exc, _reviews_context, failed=version_id,
                       form=data, user=user)
    return see_other("/console/operator/reviews")


LISTED_PAGE_SIZE = 50


def _listed_context(db: Session, *, user: User, q: str = "", page: int = 1, form: Any = None
                    ) -> dict[str, Any]:
    page = max(1, min(page, 10_000))
    rows, total = review.listed_page(db, actor=user, query=q, limit=LISTED_PAGE_SIZE,
                                     offset=(page - 1) * LISTED_PAGE_SIZE)
    return {**common(), "rows": rows, "q": q, "page": page, "total": total,
            "pages": max(1, -(-total // LISTED_PAGE_SIZE)),
            "query": urlencode({"q": q}) if q else ""}


@router.get("/console/operator/miniapps", response_class=HTMLResponse)
def listed(request: Request, user: CurrentUser, db: DbSession, q: str = "", page: str = "1"
           ) -> HTMLResponse:
    number = int(page) if page.isdigit() and len(page) < 6 else 1
    return render(request, LISTED_PAGE, form={},
                  **_listed_context(db, user=user, q=q[:64], page=number))


@router.post("/console/versions/{version_id}/takedown")
def takedown(
    request: Request, version_id: str, user: FormUser, db: DbSession, data: FormData
) -> Response:
    try:
        review.takedown(db, actor=user, version_id=version_id, reason=data.get("reason", ""))
    except TownsquareError as exc:
        return refuse(request, db, LISTED_PAGE, exc, _listed_context, failed=version_id,
                       form=data, user=user)
    return see_other("/console/operator/miniapps")
