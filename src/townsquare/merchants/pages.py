"""Merchant and provider console pages: my merchants, one merchant (profile, staff, brands,
authorizations) and my service providers. The operator pages live in `operator_pages`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from townsquare.accounts.deps import CurrentUser, FormUser
from townsquare.accounts.models import User
from townsquare.core.errors import TownsquareError
from townsquare.core.i18n import N_
from townsquare.core.text import split_cities
from townsquare.merchants import (
    access,
    authorizations,
    brands,
    categories,
    providers,
    service,
)
from townsquare.web.deps import DbSession
from townsquare.web.forms import flashes, rejected, see_other
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=4000)]

# ?ok=<key> after a successful form post → the confirmation shown on the next page
DONE = {
    "registered": N_("Merchant registered. You are its owner."),
    "saved": N_("Changes saved."),
    "staff_added": N_("Staff member added."),
    "staff_removed": N_("Staff member removed."),
    "applied": N_("Application sent for review."),
    "granted": N_("Service provider authorized."),
    "revoked": N_("Authorization revoked."),
}


def failed(
    request: Request,
    db: Session,
    template: str,
    exc: TownsquareError,
    context: Callable[[], dict[str, Any]],
    **form: Any,
) -> HTMLResponse:
    """Show the page again with the error; its data is read after the failed attempt is undone."""
    db.rollback()
    return rejected(request, db, template, exc, **context(), **form)


# ---- my merchants -----------------------------------------------------------------------------


def _console(db: Session, user: User) -> dict[str, Any]:
    return {
        "merchants": service.my_merchants(db, actor=user),
        "categories": categories.list_categories(db),
    }


@router.get("/console/merchant", response_class=HTMLResponse)
def merchant_console(request: Request, user: CurrentUser, db: DbSession) -> HTMLResponse:
    return render(request, "merchants/console.html", flashes=flashes(request, DONE),
                  **_console(db, user))


@router.post("/console/merchant")
def register_merchant(
    request: Request,
    user: FormUser,
    db: DbSession,
    name: Text = "",
    category: Text = "",
    cities: Text = "",
    description: Text = "",
) -> Response:
    try:
        merchant = service.register_merchant(
            db, actor=user, name=name, category_code=category, cities=split_cities(cities),
            description=description,
        )
    except TownsquareError as exc:
        return failed(
            request, db, "merchants/console.html", exc, lambda: _console(db, user),
            form={"name": name, "category": category, "cities": cities, "description": description},
        )
    return see_other(f"/console/merchant/{merchant.public_id}?ok=registered")


# ---- one merchant -----------------------------------------------------------------------------


def _merchant(db: Session, user: User, mer_id: str) -> dict[str, Any]:
    merchant = service.get_merchant(db, actor=user, public_id=mer_id)
    is_staff = access.is_merchant_staff(db, user, merchant)
    context: dict[str, Any] = {
        "merchant": merchant,
        "is_staff": is_staff,
        "is_owner": is_staff and service.is_owner(db, user, merchant),
        "can_edit": access.can_act_for(db, user, merchant),
        "brands": brands.merchant_brands(db, actor=user, merchant_id=mer_id),
        "status_labels": brands.STATUS_LABELS,
        "staff": [],
        "authorizations": [],
        "providers": [],
    }
    if is_staff:
        context["staff"] = service.list_staff(db, actor=user, public_id=mer_id)
        rows = authorizations.for_merchant(db, actor=user, merchant_id=mer_id)
        active = {a.provider_id for a in rows if a.revoked_at is None}
        context["authorizations"] = rows
        context["providers"] = [p for p in providers.list_providers(db) if p.id not in active]
    return context


@router.get("/console/merchant/{mer_id}", response_class=HTMLResponse)
def merchant_page(request: Request, mer_id: str, user: CurrentUser, db: DbSession) -> HTMLResponse:
    return render(
        request, "merchants/merchant.html", flashes=flashes(request, DONE),
        **_merchant(db, user, mer_id),
    )


def _merchant_form(
    request: Request, db: Session, user: User, mer_id: str, action: Callable[[], object],
    done: str, **form: Any,
) -> Response:
    service.get_merchant(db, actor=user, public_id=mer_id)  # outsiders get the error page
    try:
        action()
    except TownsquareError as exc:
        return failed(
            request, db, "merchants/merchant.html", exc, lambda: _merchant(db, user, mer_id),
            form=form,
        )
    return see_other(f"/console/merchant/{mer_id}?ok={done}")


@router.post("/console/merchant/{mer_id}/profile")
def edit_profile(
    request: Request, mer_id: str, user: FormUser, db: DbSession,
    description: Text = "", cities: Text = "",
) -> Response:
    return _merchant_form(
        request, db, user, mer_id,
        lambda: service.update_merchant(
            db, actor=user, public_id=mer_id, description=description,
            cities=split_cities(cities),
        ),
        "saved", description=description, cities=cities,
    )


@router.post("/console/merchant/{mer_id}/staff")
def add_staff(
    request: Request, mer_id: str, user: FormUser, db: DbSession, username: Text = ""
) -> Response:
    return _merchant_form(
        request, db, user, mer_id,
        lambda: service.add_staff(db, actor=user, public_id=mer_id, username=username),
        "staff_added", username=username,
    )


@router.post("/console/merchant/{mer_id}/staff/{usr_id}/remove")
def remove_staff(
    request: Request, mer_id: str, usr_id: str, user: FormUser, db: DbSession
) -> Response:
    return _merchant_form(
        request, db, user, mer_id,
        lambda: service.remove_staff(db, actor=user, public_id=mer_id, user_id=usr_id),
        "staff_removed",
    )


@router.post("/console/merchant/{mer_id}/brands")
def apply_brand(
    request: Request, mer_id: str, user: FormUser, db: DbSession,
    name: Text = "", evidence: Text = "",
) -> Response:
    return _merchant_form(
        request, db, user, mer_id,
        lambda: brands.apply(db, actor=user, merchant_id=mer_id, name=name, evidence=evidence),
        "applied", brand_name=name, evidence=evidence,
    )


@router.post("/console/merchant/{mer_id}/authorizations")
def grant_authorization(
    request: Request, mer_id: str, user: FormUser, db: DbSession, provider: Text = ""
) -> Response:
    return _merchant_form(
        request, db, user, mer_id,
        lambda: authorizations.grant(db, actor=user, merchant_id=mer_id, provider_id=provider),
        "granted",
    )


@router.post("/console/merchant/{mer_id}/authorizations/{auz_id}/revoke")
def revoke_authorization(
    request: Request, mer_id: str, auz_id: str, user: FormUser, db: DbSession
) -> Response:
    return _merchant_form(
        request, db, user, mer_id,
        lambda: authorizations.revoke(
            db, actor=user, merchant_id=mer_id, authorization_id=auz_id
        ),
        "revoked",
    )


# ---- my service providers ---------------------------------------------------------------------


def _isv(db: Session, user: User) -> dict[str, Any]:
    entries = []
    for provider in providers.my_providers(db, actor=user):
        pid = provider.public_id
        entries.append({
            "provider": provider,
            "staff": providers.list_provider_staff(db, actor=user, provider_id=pid),
            "merchants": authorizations.authorizing_merchants(db, actor=user, provider_id=pid),
        })
    return {"entries": entries}


@router.get("/console/isv", response_class=HTMLResponse)
def isv_console(request: Request, user: CurrentUser, db: DbSession) -> HTMLResponse:
    return render(request, "merchants/isv.html", flashes=flashes(request, DONE), **_isv(db, user))


@router.post("/console/isv/{isv_id}/staff")
def add_provider_staff(
    request: Request, isv_id: str, user: FormUser, db: DbSession, username: Text = ""
) -> Response:
    providers.staffed_provider(db, actor=user, public_id=isv_id)  # outsiders: error page
    try:
        providers.add_provider_staff(db, actor=user, provider_id=isv_id, username=username)
    except TownsquareError as exc:
        return failed(
            request, db, "merchants/isv.html", exc, lambda: _isv(db, user),
            form={"provider": isv_id, "username": username},
        )
    return see_other("/console/isv?ok=staff_added")
