"""Shared parts of the registry console pages: form parsing, settings rows, labels, and showing
a refused form again with its per-field problems (after rolling back what it touched)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.core import i18n, money
from townsquare.core.errors import TownsquareError, ValidationFailed
from townsquare.core.i18n import N_
from townsquare.core.text import split_cities
from townsquare.merchants.models import Category, Merchant
from townsquare.miniapps import hooks, registry, review
from townsquare.miniapps.runtimes import CHOICE_LABELS, MERCHANT_FIELDS, RUNTIMES, validate_config
from townsquare.web.forms import rejected

ACTION_LABELS = {
    "miniapp.create": N_("Mini-app created"),
    "miniapp.secret_rotated": N_("Client secret replaced"),
    "miniapp.template_upgrade": N_("Upgraded to a new template version"),
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
        "field_label": field_label, "config_value": config_value,
    }


def categories(db: Session) -> list[Category]:
    return list(db.scalars(select(Category).order_by(Category.code)))


def split_words(text: str) -> list[str]:
    return split_cities(text)  # commas (ASCII or Chinese), semicolons or spaces


def field_rows(runtime_key: str, defaults: dict[str, Any], form: dict[str, str] | None, *,
               choices: dict[str, hooks.SettingChoices] | None = None,
               skip: frozenset[str] = frozenset()):
    """One row per runtime setting: the spec and the value to show (typed, else the default).

    `choices` offers a setting's values as ticks (the merchant's stores for "stores": the row
    gets `choices` and the `picked` values); `skip` leaves settings out (an ISV's template form
    has no place for what each merchant chooses)."""
    rows = []
    for spec in RUNTIMES[runtime_key].fields:
        if spec.name in skip:
            continue
        key = f"cfg_{spec.name}"
        if form is not None and spec.type == "bool":
            value: Any = key in form
        elif form is not None:
            value = form.get(key, "") or ",".join(ticked_values(form, key))
        else:
            value = defaults.get(spec.name, False if spec.type == "bool" else "")
            if spec.type == "money" and isinstance(value, int) and not isinstance(value, bool):
                value = money.fen_to_yuan(value)  # stored in fen, typed in yuan
        row: dict[str, Any] = {"spec": spec, "key": key, "value": value}
        if choices is not None and spec.name in choices:
            row["choices"] = choices[spec.name].choices
            row["choice_label"] = choices[spec.name].label or spec.label
            row["picked"] = set(split_values(str(value or "")))
        rows.append(row)
    return rows


def split_values(text: str) -> list[str]:
    """The values of a list setting typed as text ("sto_a, sto_b", Chinese commas too)."""
    return [part for part in re.split(r"[\s,，、;；]+", text) if part]


def ticked_values(data: dict[str, str], key: str) -> list[str]:
    """The values ticked for a setting offered as ticks: one `cfg_<name>.<value>` box each."""
    prefix = key + "."
    return [name[len(prefix):] for name in data if name.startswith(prefix) and name[len(prefix):]]


def merchant_choices(db: Session, merchant: Merchant, runtime_key: str
                     ) -> dict[str, hooks.SettingChoices]:
    """What the merchant may tick for the runtime's merchant-own settings (MERCHANT_FIELDS),
    as a higher floor answers (the ordering wing lists the merchant's stores)."""
    found: dict[str, hooks.SettingChoices] = {}
    runtime = RUNTIMES.get(runtime_key)
    for spec in runtime.fields if runtime else ():
        if spec.name in MERCHANT_FIELDS:
            asked = hooks.SettingChoices(merchant, runtime_key, spec.name)
            hooks.setting_choices.fire(db, asked)
            found[spec.name] = asked
    return found


def config_from(runtime_key: str, data: dict[str, str]) -> dict[str, Any]:
    """The settings typed into a form (an unticked box is a no; money typed in yuan becomes
    integer fen, exactly). Money that is not an amount refuses the form beside its field."""
    config: dict[str, Any] = {}
    bad: list[dict[str, str]] = []
    for spec in RUNTIMES[runtime_key].fields:
        key = f"cfg_{spec.name}"
        if spec.type == "bool":
            config[spec.name] = key in data
        elif spec.type == "money" and data.get(key, "").strip():
            try:
                config[spec.name] = money.yuan_to_fen(data[key], field=spec.name)
            except ValidationFailed as exc:
                bad.append({"field": spec.name, "problem": exc.render(i18n.gettext)})
        else:
            config[spec.name] = data.get(key, "") or ",".join(ticked_values(data, key))
    if bad:
        try:  # the other settings' problems too, so the form shows them all at once
            validate_config(runtime_key, config)
        except ValidationFailed as exc:
            if isinstance(exc.details, list):
                bad += [item for item in exc.details if isinstance(item, dict)]
        raise ValidationFailed(
            "Check these settings: {fields}.",
            fields=", ".join(field_label(runtime_key, item["field"]) for item in bad),
            details=bad,
        )
    return config


def config_value(runtime_key: str | None, name: str, value: Any) -> str:
    """A stored setting as a console shows it: yes/no, yuan, a choice's label (never a code)."""
    runtime = RUNTIMES.get(runtime_key or "")
    spec = next((f for f in runtime.fields if f.name == name), None) if runtime else None
    if isinstance(value, bool):
        return i18n.gettext("Yes") if value else i18n.gettext("No")
    if spec is not None and spec.type == "money" and isinstance(value, int):
        return i18n.format_money(value)
    if spec is not None and spec.type == "choice" and isinstance(value, str):
        return i18n.gettext(CHOICE_LABELS.get(value, value))
    return "" if value is None else str(value)


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


def next_label(label: str) -> str:
    """The version number to suggest after `label`: 1.2.0 → 1.3.0 (a label of another shape is
    left to the person typing)."""
    parts = label.split(".")
    if len(parts) == 3 and all(part.isdigit() for part in parts):
        return f"{parts[0]}.{int(parts[1]) + 1}.0"
    return ""
