"""Shared parts of the registry console pages: form parsing, settings rows, labels, and showing
a refused form again with its per-field problems (after rolling back what it touched)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.core import i18n
from townsquare.core.errors import TownsquareError
from townsquare.core.i18n import N_
from townsquare.core.text import split_cities
from townsquare.merchants.models import Category
from townsquare.miniapps import registry, review
from townsquare.miniapps.runtimes import CHOICE_LABELS, RUNTIMES
from townsquare.web.forms import rejected

ACTION_LABELS = {
    "miniapp.create": N_("Mini-app created"),
    "miniapp.secret_rotated": N_("Client secret replaced"),
    "version.draft": N_("Draft started"),
    "version.deleted": N_("Draft deleted"),
    "version.submitted": N_("Submitted for review"),
    "version.approved": N_("Approved"),
    "version.rejected": N_("Rejected"),
    "version.published": N_("Published"),
    "version.superseded": N_("Superseded"),
    "version.taken_down": N_("Taken down"),
}


async def form_fields(request: Request) -> dict[str, str]:
    form = await request.form()  # parsed once; the CSRF check has already read it
    return {key: value for key, value in form.items() if isinstance(value, str)}


FormData = Annotated[dict[str, str], Depends(form_fields)]


def field_label(runtime_key: str | None, name: str) -> str:
    """A setting's translated label (its key when the runtime does not know it)."""
    runtime = RUNTIMES.get(runtime_key or "")
    spec = next((f for f in runtime.fields if f.name == name), None) if runtime else None
    return i18n.gettext(spec.label) if spec else name


def common() -> dict[str, Any]:
    return {
        "state_label": registry.state_label, "lane_label": review.lane_label,
        "choice_labels": CHOICE_LABELS, "runtimes": RUNTIMES, "action_labels": ACTION_LABELS,
        "field_label": field_label,
    }


def categories(db: Session) -> list[Category]:
    return list(db.scalars(select(Category).order_by(Category.code)))


def split_words(text: str) -> list[str]:
    return split_cities(text)  # commas (ASCII or Chinese), semicolons or spaces


def field_rows(runtime_key: str, defaults: dict[str, Any], form: dict[str, str] | None):
    """One row per runtime setting: the spec and the value to show (typed, else the default)."""
    rows = []
    for spec in RUNTIMES[runtime_key].fields:
        key = f"cfg_{spec.name}"
        if form is not None and spec.type == "bool":
            value: Any = key in form
        elif form is not None:
            value = form.get(key, "")
        else:
            value = defaults.get(spec.name, False if spec.type == "bool" else "")
        rows.append({"spec": spec, "key": key, "value": value})
    return rows


def config_from(runtime_key: str, data: dict[str, str]) -> dict[str, Any]:
    """The settings typed into a form (an unticked box is a no)."""
    config: dict[str, Any] = {}
    for spec in RUNTIMES[runtime_key].fields:
        key = f"cfg_{spec.name}"
        config[spec.name] = (key in data) if spec.type == "bool" else data.get(key, "")
    return config


def problems(exc: TownsquareError) -> dict[str, str]:
    """Per-field messages to show next to the fields a refused form got wrong."""
    if isinstance(exc.details, list):
        return {
            str(item.get("field")): str(item.get("problem"))
            for item in exc.details if isinstance(item, dict)
        }
    field = exc.params.get("field")
    return {str(field): exc.render(i18n.gettext)} if field else {}


def refuse(request, db, page: str, exc: TownsquareError, context_fn, *, failed: str, form=None,
            **args) -> HTMLResponse:
    db.rollback()  # first, so the page is built from what is really stored
    context = context_fn(db, form=form, **args)
    return rejected(request, db, page, exc, failed=failed, form=form or {},
                    field_errors=problems(exc), **context)


def ticked(form: dict[str, str], key: str) -> bool:
    return form.get(key) in ("on", "true", "1")
