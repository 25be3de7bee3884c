"""First-party mini-app runtimes: page kinds the platform itself serves at /run/{mini-app}.

An ISV's template picks one runtime and sets defaults for its fields; a merchant's mini-app made
from the template fills in the fields (its version's `config`). The grocery and restaurant runtimes
are ordering's shops (`ordering.orders.shop` reads their settings).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from townsquare.core.errors import ValidationFailed
from townsquare.core.i18n import N_, format_money, gettext
from townsquare.core.text import CONTROL, LINE_CONTROL
from townsquare.miniapps.service_forms import CHOICE_LABELS as FORM_LABELS
from townsquare.miniapps.service_forms import FORMS

# "money" is an amount in integer fen: stored and carried by the JSON API as fen, typed into the
# console forms in yuan (miniapps.page_forms converts exactly, core.money).
FieldType = Literal["text", "textarea", "url", "phone", "number", "money", "bool", "choice"]


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str  # English msgid; translated when shown
    type: FieldType = "text"
    required: bool = False
    max_length: int = 200
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None


# An optional form a page carries below its content (service_forms.FORMS; the pledge form
# belongs to donation drives, which always carry it).
FORM = FieldSpec("form", N_("Form on the page"), "choice",
                 choices=tuple(kind for kind in FORMS if kind != "pledge"))
# Rows of a directory: one entry a line, columns separated by "|" (entries_of() reads them).
ROW_SEPARATOR = "|"


@dataclass(frozen=True)
class Runtime:
    key: str
    label: str
    fields: tuple[FieldSpec, ...] = field(default_factory=tuple)


# The two ordering runtimes (issue 16) share their settings: which stores the shop sells from
# (store ids sto_…, comma separated), which kinds of order it takes, a packaging fee per order,
# and whether paid orders are accepted at once or must be accepted within some minutes.
def _shop_fields() -> tuple[FieldSpec, ...]:
    return (
        FieldSpec("welcome", N_("Welcome message"), required=True, max_length=120),
        FieldSpec("stores", N_("Store ids (sto_…), separated by commas"), required=True,
                  max_length=400),
        FieldSpec("pickup", N_("Store pickup"), "bool"),
        FieldSpec("delivery", N_("Home delivery"), "bool"),
        FieldSpec("dine_in", N_("Dine-in pre-order"), "bool"),
        FieldSpec("community", N_("Community pickup points"), "bool"),
        FieldSpec("packaging_fen", N_("Packaging fee per order (yuan)"), "money", minimum=0,
                  maximum=100_00),
        FieldSpec("auto_accept", N_("Accept paid orders automatically"), "bool"),
        FieldSpec("accept_within_minutes",
                  N_("Minutes to accept a paid order before it is cancelled (default 10)"),
                  "number", minimum=1, maximum=120),
        FieldSpec("contact_phone", N_("Contact phone"), "phone"),
        FieldSpec("notice", N_("Notice"), "textarea", max_length=1000),
    )


RUNTIMES: dict[str, Runtime] = {
    rt.key: rt
    for rt in (
        Runtime(
            "info",
            N_("Information page"),
            (
                FieldSpec("headline", N_("Headline"), required=True, max_length=60),
                FieldSpec("body", N_("Body text"), "textarea", required=True, max_length=4000),
                FieldSpec("contact_phone", N_("Contact phone"), "phone"),
                FieldSpec("link", N_("More information (URL)"), "url", max_length=500),
                FORM,
            ),
        ),
        Runtime(
            "storefront",
            N_("Storefront"),
            (
                FieldSpec("welcome", N_("Welcome message"), required=True, max_length=120),
                FieldSpec("opening_hours", N_("Opening hours"), required=True, max_length=60),
                FieldSpec("store_pickup", N_("Store pickup"), "bool"),
                FieldSpec("delivery", N_("Home delivery"), "bool"),
                FieldSpec("min_order_fen", N_("Minimum order (yuan)"), "money", minimum=0,
                          maximum=10_000_00),
                FieldSpec("contact_phone", N_("Contact phone"), "phone"),
                FieldSpec("highlights", N_("Featured goods and services, one per line"),
                          "textarea", max_length=1000),
                FORM,
            ),
        ),
        Runtime(
            "consultation",
            N_("Online consultation desk"),
            (
                FieldSpec("department", N_("Department"), required=True, max_length=40),
                FieldSpec("hours", N_("Consultation hours"), required=True, max_length=60),
                FieldSpec("mode", N_("Consultation mode"), "choice", required=True,
                          choices=("text", "video", "phone")),
                FieldSpec("notice", N_("Notice to patients"), "textarea", max_length=1000),
                FORM,
            ),
        ),
        Runtime(
            "directory",
            N_("Directory with search"),
            (
                FieldSpec("headline", N_("Headline"), required=True, max_length=60),
                FieldSpec("intro", N_("Introduction"), "textarea", max_length=1000),
                FieldSpec("columns", N_("Column titles, separated by |"), required=True,
                          max_length=200),
                FieldSpec("entries", N_("Entries, one per line, columns separated by |"),
                          "textarea", required=True, max_length=12000),
                FieldSpec("search_hint", N_("Search box hint"), max_length=40),
                FieldSpec("not_found", N_("What a search that finds nothing says"),
                          max_length=200),
                FieldSpec("notice", N_("Notice"), "textarea", max_length=1000),
                FieldSpec("contact_phone", N_("Contact phone"), "phone"),
                FORM,
            ),
        ),
        Runtime(
            "donation",
            N_("Donation drive"),
            (
                FieldSpec("headline", N_("Headline"), required=True, max_length=60),
                FieldSpec("story", N_("What the donations are for"), "textarea", required=True,
                          max_length=2000),
                FieldSpec("beneficiary", N_("Beneficiary"), required=True, max_length=60),
                FieldSpec("goal_fen", N_("Goal (yuan)"), "money", required=True, minimum=100_00,
                          maximum=100_000_000_00),
                FieldSpec("raised_fen", N_("Raised before this page (yuan)"), "money",
                          minimum=0, maximum=100_000_000_00),
                FieldSpec("donors", N_("Donors before this page"), "number", minimum=0,
                          maximum=10_000_000),
                FieldSpec("uses", N_("How the money is used, one per line"), "textarea",
                          max_length=1000),
                FieldSpec("contact_phone", N_("Contact phone"), "phone"),
            ),
        ),
        Runtime("grocery", N_("Grocery shop"), _shop_fields()),
        Runtime("restaurant", N_("Restaurant"), _shop_fields()),
        Runtime(
            "community_pass",
            N_("Community pass"),
            (
                FieldSpec("community", N_("Community id (com_…)"), required=True, max_length=24),
                FieldSpec("welcome", N_("Welcome message"), max_length=120),
            ),
        ),
    )
}

# How choice values are shown (the stored value stays the plain key).
CHOICE_LABELS = {"text": N_("Text chat"), "video": N_("Video call"), "phone": N_("Phone call"),
                 **FORM_LABELS}

NUMBER_LIMIT = 10**12  # whatever a field allows, numbers stay well inside a JSON/BIGINT range
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{4,23}$")
_LOCAL_HOSTS = ("127.0.0.1", "localhost")
_TRUE = {"true", "1", "on", "yes"}
_FALSE = {"false", "0", "off", "no"}


def is_web_url(value: str, *, max_length: int = 500) -> bool:
    """An https:// URL with a host, or http:// on 127.0.0.1/localhost (for development)."""
    if not isinstance(value, str) or not value or len(value) > max_length:
        return False
    if LINE_CONTROL.search(value) or " " in value or "\\" in value:
        return False
    try:
        parts = urlsplit(value)
        port = parts.port  # raises on a malformed port
    except ValueError:
        return False
    if parts.username is not None or parts.password is not None or not parts.hostname:
        return False
    if port == 0:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS


class _Bad(Exception):
    """One field's problem, already translated."""


def _clean_value(spec: FieldSpec, value: Any) -> Any:
    """The cleaned value, None when empty; raises _Bad with a translated problem."""
    if value is None:
        return None
    if spec.type == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower() if isinstance(value, (str, int)) else None
        if text == "":
            return None
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise _Bad(gettext("Choose yes or no."))
    if spec.type in ("number", "money"):  # money: integer fen here (the API), yuan on forms
        if isinstance(value, str):
            value = value.strip()
            if value == "":
                return None
            if not re.fullmatch(r"-?[0-9]{1,13}", value):
                raise _Bad(gettext("Enter a whole number."))
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Bad(gettext("Enter a whole number."))
        low = spec.minimum if spec.minimum is not None else -NUMBER_LIMIT
        high = spec.maximum if spec.maximum is not None else NUMBER_LIMIT
        if not low <= value <= high and spec.type == "money":
            raise _Bad(gettext("Enter an amount from {low} to {high}.").format(
                low=format_money(low), high=format_money(high)))
        if not low <= value <= high:
            raise _Bad(gettext("Enter a number from {low} to {high}.").format(low=low, high=high))
        return value
    if not isinstance(value, str):
        raise _Bad(gettext("Enter text."))
    value = value.strip()
    if value == "":
        return None
    if len(value) > spec.max_length:
        raise _Bad(gettext("At most {n} characters.").format(n=spec.max_length))
    pattern = CONTROL if spec.type == "textarea" else LINE_CONTROL
    if pattern.search(value):
        raise _Bad(gettext("Remove the control characters."))
    if spec.type == "url" and not is_web_url(value, max_length=spec.max_length):
        raise _Bad(gettext("Enter an https:// address."))
    if spec.type == "phone" and not _PHONE.match(value):
        raise _Bad(gettext("Enter a phone number."))
    if spec.type == "choice" and value not in spec.choices:
        raise _Bad(gettext("Choose one of the offered options."))
    return value


def validate_config(runtime_key: str, raw: dict, *, partial: bool = False) -> dict[str, Any]:
    """`raw` checked and cleaned against the runtime's fields; empty optional fields are dropped.

    `partial=True` (a template's defaults) lets required fields be missing. A bad config raises
    ValidationFailed whose `details` lists `{"field", "problem"}` per field, problems translated.
    """
    runtime = RUNTIMES.get(runtime_key) if isinstance(runtime_key, str) else None
    if runtime is None:
        raise ValidationFailed("There is no runtime called {runtime}.",
                               runtime=str(runtime_key)[:32], field="runtime")
    if not isinstance(raw, dict):
        raise ValidationFailed("The settings must be a set of named values.", field="config")
    specs = {spec.name: spec for spec in runtime.fields}
    problems: dict[str, str] = {}
    for name in raw:
        if name not in specs:
            problems[str(name)[:40]] = gettext("This page has no such setting.")
    cleaned: dict[str, Any] = {}
    for spec in runtime.fields:
        try:
            value = _clean_value(spec, raw.get(spec.name))
        except _Bad as bad:
            problems[spec.name] = str(bad)
            continue
        if value is None:
            if spec.required and not partial:
                problems[spec.name] = gettext("This setting is required.")
            continue
        cleaned[spec.name] = value
    if problems:
        labels = [gettext(specs[name].label) if name in specs else name for name in problems]
        raise ValidationFailed(
            "Check these settings: {fields}.",
            fields=", ".join(labels),
            details=[{"field": name, "problem": problem} for name, problem in problems.items()],
        )
    return cleaned


def field_dicts(runtime_key: str, defaults: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The runtime's fields as plain dicts (what a Template stores), with default values."""
    defaults = defaults or {}
    return [
        {
            "name": spec.name, "label": spec.label, "type": spec.type,
            "required": spec.required, "default": defaults.get(spec.name),
            "choices": list(spec.choices), "max_length": spec.max_length,
            "minimum": spec.minimum, "maximum": spec.maximum,
        }
        for spec in RUNTIMES[runtime_key].fields
    ]


def defaults_from_fields(fields: list[Any]) -> dict[str, Any]:
    """The default values a template stores in its field dicts (unset ones left out)."""
    return {
        f["name"]: f["default"]
        for f in fields
        if isinstance(f, dict) and f.get("name") and f.get("default") not in (None, "")
    }


def entries_of(config: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """A directory's column titles and its rows (blank lines skipped; each row padded or cut to
    the columns, so a short line still shows)."""
    columns = [c.strip() for c in str(config.get("columns") or "").split(ROW_SEPARATOR)]
    columns = [c for c in columns if c] or [""]
    rows = []
    for line in str(config.get("entries") or "").splitlines():
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split(ROW_SEPARATOR)][: len(columns)]
        rows.append(cells + [""] * (len(columns) - len(cells)))
    return columns, rows


def search_rows(rows: list[list[str]], query: str) -> list[list[str]]:
    """The rows matching every word of `query` (in any column; case and spaces ignored)."""
    words = [w.casefold() for w in query.split() if w]
    if not words:
        return rows
    return [row for row in rows
            if all(any(w in cell.casefold() for cell in row) for w in words)]
