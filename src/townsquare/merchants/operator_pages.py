"""Operator console pages: brand certification, categories, merchants, providers (the
console's home, which also counts the review queue, is the miniapps package's).

Every page checks the operator role itself; the services check it again on every change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from townsquare.accounts.deps import CurrentUser, FormUser
from townsquare.accounts.models import Role, User
from townsquare.accounts.permissions import require_role
from townsquare.core.i18n import N_
from townsquare.core.text import split_cities
from townsquare.merchants import brands, categories, providers, service
from townsquare.merchants.models import BrandStatus
from townsquare.web.deps import DbSession
from townsquare.web.forms import attempt, flashes
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=4000)]

DONE = {
    "approved": N_("Brand certified."),
    "rejected": N_("Application rejected."),
    "brand_revoked": N_("Certificate revoked."),
    "category_created": N_("Category created."),
    "category_saved": N_("Category saved."),
    "merchant_created": N_("Merchant created."),
    "provider_created": N_("Service provider created."),
}


def _page(request: Request, template: str, **context: Any) -> HTMLResponse:
    return render(request, template, flashes=flashes(request, DONE), **context)


def _post(
    request: Request,
    db: Session,
    user: User,
    action: Callable[[], object],
    *,
    template: str,
    context: Callable[[], dict[str, Any]],
    done_url: str,
    **form: Any,
) -> Response:
    require_role(user, Role.OPERATOR)
    return attempt(request, db, action, template=template, context=context, done_url=done_url,
                   form=form)


# ---- brands -----------------------------------------------------------------------------------


def _brands(db: Session, user: User) -> dict[str, Any]:
    pending = brands.list_brands(db, actor=user, status=BrandStatus.PENDING)
    return {
        "pending": pending,
        "look_alikes": {b.id: brands.near_duplicates(db, brand=b) for b in pending},
        "certified": brands.list_brands(db, actor=user, status=BrandStatus.CERTIFIED, limit=200),
        "status_labels": brands.STATUS_LABELS,
    }


@router.get("/console/operator/brands", response_class=HTMLResponse)
def brand_queue(request: Request, user: CurrentUser, db: DbSession) -> HTMLResponse:
    require_role(user, Role.OPERATOR)
    return _page(request, "merchants/operator_brands.html", **_brands(db, user))


def _brand_post(
    request: Request, db: Session, user: User, action: Callable[[], object], done: str,
    **form: Any,
) -> Response:
    return _post(
        request, db, user, action, template="merchants/operator_brands.html",
        context=lambda: _brands(db, user), done_url=f"/console/operator/brands?ok={done}", **form,
    )


@router.post("/console/operator/brands/{brd_id}/approve")
def approve_brand(
    request: Request, brd_id: str, user: FormUser, db: DbSession, note: Text = ""
) -> Response:
    return _brand_post(
        request, db, user, lambda: brands.approve(db, actor=user, brand_id=brd_id, note=note),
        "approved", brand=brd_id, note=note,
    )


@router.post("/console/operator/brands/{brd_id}/reject")
def reject_brand(
    request: Request, brd_id: str, user: FormUser, db: DbSession, reason: Text = ""
) -> Response:
    return _brand_post(
        request, db, user, lambda: brands.reject(db, actor=user, brand_id=brd_id, reason=reason),
        "rejected", brand=brd_id, reason=reason,
    )


@router.post("/console/operator/brands/{brd_id}/revoke")
def revoke_brand(
    request: Request, brd_id: str, user: FormUser, db: DbSession, reason: Text = ""
) -> Response:
    return _brand_post(
        request, db, user, lambda: brands.revoke(db, actor=user, brand_id=brd_id, reason=reason),
        "brand_revoked", brand=brd_id, reason=reason,
    )


# ---- categories -------------------------------------------------------------------------------


def _categories(db: Session, user: User) -> dict[str, Any]:
    return {"categories": categories.list_categories(db)}


@router.get("/console/operator/categories", response_class=HTMLResponse)
def category_list(request: Request, user: CurrentUser, db: DbSession) -> HTMLResponse:
    require_role(user, Role.OPERATOR)
    return _page(request, "merchants/operator_categories.html", **_categories(db, user))


def _category_post(
    request: Request, db: Session, user: User, action: Callable[[], object], done: str,
    **form: Any,
) -> Response:
    return _post(
        request, db, user, action, template="merchants/operator_categories.html",
        context=lambda: _categories(db, user),
        done_url=f"/console/operator/categories?ok={done}", **form,
    )


@router.post("/console/operator/categories")
def create_category(
    request: Request, user: FormUser, db: DbSession,
    code: Text = "", name_zh: Text = "", name_en: Text = "", urgent: Text = "",
) -> Response:
    return _category_post(
        request, db, user,
        lambda: categories.create_category(
            db, actor=user, code=code, name_zh=name_zh, name_en=name_en, urgent=bool(urgent)
        ),
        "category_created", code=code, name_zh=name_zh, name_en=name_en, urgent=bool(urgent),
    )


@router.post("/console/operator/categories/{code}/rename")
def rename_category(
    request: Request, code: str, user: FormUser, db: DbSession,
    name_zh: Text = "", name_en: Text = "",
) -> Response:
    return _category_post(
        request, db, user,
        lambda: categories.rename_category(
            db, actor=user, code=code, name_zh=name_zh, name_en=name_en
        ),
        "category_saved",
    )


@router.post("/console/operator/categories/{code}/urgent")
def toggle_urgent(
    request: Request, code: str, user: FormUser, db: DbSession, urgent: Text = ""
) -> Response:
    return _category_post(
        request, db, user,
        lambda: categories.set_urgent(db, actor=user, code=code, urgent=urgent == "1"),
        "category_saved",
    )


# ---- merchants and providers ------------------------------------------------------------------


def _merchants(db: Session, user: User) -> dict[str, Any]:
    return {
        "merchants": service.list_merchants(db, actor=user, limit=200),
        "categories": categories.list_categories(db),
    }


@router.get("/console/operator/merchants", response_class=HTMLResponse)
def merchant_list(request: Request, user: CurrentUser, db: DbSession) -> HTMLResponse:
    require_role(user, Role.OPERATOR)
    return _page(request, "merchants/operator_merchants.html", **_merchants(db, user))


@router.post("/console/operator/merchants")
def create_merchant(
    request: Request, user: FormUser, db: DbSession,
    owner: Text = "", name: Text = "", category: Text = "", cities: Text = "",
    description: Text = "",
) -> Response:
    return _post(
        request, db, user,
        lambda: service.create_merchant(
            db, actor=user, owner_username=owner, name=name, category_code=category,
            cities=split_cities(cities), description=description,
        ),
        template="merchants/operator_merchants.html", context=lambda: _merchants(db, user),
        done_url="/console/operator/merchants?ok=merchant_created",
        owner=owner, name=name, category=category, cities=cities, description=description,
    )


def _providers(db: Session, user: User) -> dict[str, Any]:
    return {"providers": providers.list_providers(db)}


@router.get("/console/operator/providers", response_class=HTMLResponse)
def provider_list(request: Request, user: CurrentUser, db: DbSession) -> HTMLResponse:
    require_role(user, Role.OPERATOR)
    return _page(request, "merchants/operator_providers.html", **_providers(db, user))


@router.post("/console/operator/providers")
def create_provider(
    request: Request, user: FormUser, db: DbSession,
    name: Text = "", staff: Text = "", description: Text = "",
) -> Response:
    return _post(
        request, db, user,
        lambda: providers.create_provider(
            db, actor=user, name=name, staff_username=staff, description=description
        ),
        template="merchants/operator_providers.html", context=lambda: _providers(db, user),
        done_url="/console/operator/providers?ok=provider_created",
        name=name, staff=staff, description=description,
    )
