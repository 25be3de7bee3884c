"""The ISV's templates page: create, edit (a published template's edit is its next version),
publish and withdraw templates; merchants then make mini-apps from them on their own page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from townsquare.accounts.deps import CurrentUser, FormUser
from townsquare.accounts.models import User
from townsquare.core.errors import TownsquareError
from townsquare.core.i18n import N_
from townsquare.miniapps import templates_service
from townsquare.miniapps.models import TemplateStatus
from townsquare.miniapps.page_forms import (
    FormData,
    categories,
    common,
    config_from,
    field_rows,
    refuse,
)
from townsquare.miniapps.runtimes import MERCHANT_FIELDS, RUNTIMES, defaults_from_fields
from townsquare.web.deps import DbSession
from townsquare.web.forms import flashes, see_other
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)


# --- an ISV's templates ------------------------------------------------------------------------

TEMPLATES_PAGE = "miniapps/console_isv_templates.html"


def _templates_context(
    db: Session, *, user: User, provider_id: str, runtime: str | None = None,
    edit: str | None = None, form: dict[str, str] | None = None,
) -> dict[str, Any]:
    provider = templates_service.get_provider(db, actor=user, public_id=provider_id)
    chosen = RUNTIMES.get(runtime or "")
    templates = templates_service.list_provider_templates(db, actor=user, provider_id=provider_id)
    editing = next((t for t in templates if t.public_id == edit
                    and t.status != TemplateStatus.WITHDRAWN and t.runtime in RUNTIMES), None)
    return {
        **common(), "provider": provider, "templates": templates,
        "usage": templates_service.usage_counts(db, template_ids=[t.id for t in templates]),
        "chosen": chosen,
        "field_rows": field_rows(chosen.key, {}, form, skip=MERCHANT_FIELDS) if chosen else [],
        "editing": editing,
        "edit_rows": field_rows(editing.runtime, defaults_from_fields(editing.fields), form,
                                skip=MERCHANT_FIELDS) if editing else [],
        "edit_versions": templates_service.template_versions(
            db, actor=user, template_id=editing.public_id) if editing else [],
        "can_change": templates_service.works_for(db, user, provider.id),
        "categories": categories(db), "defaults_of": defaults_from_fields,
        "merchant_own": _merchant_own,
    }


def _merchant_own(runtime_key: str) -> list[str]:
    """The runtime's settings each merchant sets itself (not on the ISV's form)."""
    runtime = RUNTIMES.get(runtime_key)
    return [f.name for f in runtime.fields if f.name in MERCHANT_FIELDS] if runtime else []


@router.get("/console/isv/{provider_id}/templates", response_class=HTMLResponse)
def isv_templates(
    request: Request, provider_id: str, user: CurrentUser, db: DbSession,
    runtime: str | None = None, edit: str | None = None,
) -> HTMLResponse:
    context = _templates_context(db, user=user, provider_id=provider_id, runtime=runtime,
                                 edit=edit)
    return render(request, TEMPLATES_PAGE, form={}, flashes=flashes(request, TEMPLATE_DONE),
                  **context)


TEMPLATE_DONE = {"edited": N_("Template saved. A published template's change is its new version: "
                              "new mini-apps use it at once, existing ones when their merchant "
                              "upgrades."),
                 "withdrawn": N_("Template withdrawn: it left the gallery; mini-apps made from "
                                 "it keep working.")}


@router.post("/console/templates/{template_id}/edit")
def edit_template(
    request: Request, template_id: str, user: FormUser, db: DbSession, data: FormData
) -> Response:
    template = templates_service.get_template(db, actor=user, public_id=template_id)
    provider_id = template.provider.public_id
    try:
        templates_service.edit_template(
            db, actor=user, template_id=template_id, name=data.get("name", ""),
            description=data.get("description", ""), category=data.get("category") or None,
            defaults=config_from(template.runtime, data) if template.runtime in RUNTIMES else {},
            note=data.get("note", ""),
        )
    except TownsquareError as exc:
        return refuse(request, db, TEMPLATES_PAGE, exc, _templates_context, failed="edit",
                      form=data, user=user, provider_id=provider_id, edit=template_id)
    return see_other(f"/console/isv/{provider_id}/templates?ok=edited")


@router.post("/console/templates/{template_id}/withdraw")
def withdraw_template(
    request: Request, template_id: str, user: FormUser, db: DbSession, data: FormData
) -> Response:
    template = templates_service.get_template(db, actor=user, public_id=template_id)
    provider_id = template.provider.public_id
    try:
        templates_service.withdraw_template(db, actor=user, template_id=template_id,
                                            reason=data.get("reason", ""))
    except TownsquareError as exc:
        return refuse(request, db, TEMPLATES_PAGE, exc, _templates_context, failed=template_id,
                      form=data, user=user, provider_id=provider_id)
    return see_other(f"/console/isv/{provider_id}/templates?ok=withdrawn")


@router.post("/console/isv/{provider_id}/templates")
def create_template(
    request: Request, provider_id: str, user: FormUser, db: DbSession, data: FormData
) -> Response:
    runtime = data.get("runtime", "")
    try:
        templates_service.create_template(
            db, actor=user, provider_id=provider_id, runtime=runtime, name=data.get("name", ""),
            description=data.get("description", ""), category=data.get("category") or None,
            defaults=config_from(runtime, data) if runtime in RUNTIMES else {},
        )
    except TownsquareError as exc:
        return refuse(request, db, TEMPLATES_PAGE, exc, _templates_context, failed="create",
                       form=data, user=user, provider_id=provider_id, runtime=runtime)
    return see_other(f"/console/isv/{provider_id}/templates")


@router.post("/console/templates/{template_id}/publish")
def publish_template(
    request: Request, template_id: str, user: FormUser, db: DbSession
) -> Response:
    template = templates_service.get_template(db, actor=user, public_id=template_id)
    provider_id = template.provider.public_id
    try:
        templates_service.publish_template(db, actor=user, template_id=template_id)
    except TownsquareError as exc:
        return refuse(request, db, TEMPLATES_PAGE, exc, _templates_context, failed=template_id,
                       user=user, provider_id=provider_id)
    return see_other(f"/console/isv/{provider_id}/templates")
