"""First-party mini-app runtimes: page kinds the platform itself serves at /run/{mini-app}.

An ISV's template picks one runtime and sets defaults for its fields; a merchant's mini-app made
from the template fills in the fields (its version's `config`). The community pass and ordering
runtimes join this table when they are built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

FieldType = Literal["text", "textarea", "url", "phone", "number", "bool", "choice"]


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


@dataclass(frozen=True)
class Runtime:
    key: str
    label: str
    fields: tuple[FieldSpec, ...] = field(default_factory=tuple)


RUNTIMES: dict[str, Runtime] = {
    rt.key: rt
    for rt in (
        Runtime(
            "info",
            "Information page",
            (
                FieldSpec("headline", "Headline", required=True, max_length=60),
                FieldSpec("body", "Body text", "textarea", required=True, max_length=4000),
                FieldSpec("contact_phone", "Contact phone", "phone"),
                FieldSpec("link", "More information (URL)", "url", max_length=500),
            ),
        ),
        Runtime(
            "storefront",
            "Storefront",
            (
                FieldSpec("welcome", "Welcome message", required=True, max_length=120),
                FieldSpec("opening_hours", "Opening hours", required=True, max_length=60),
                FieldSpec("store_pickup", "Store pickup", "bool"),
                FieldSpec("delivery", "Home delivery", "bool"),
                FieldSpec("min_order_fen", "Minimum order (fen)", "number", minimum=0,
                          maximum=10_000_00),
                FieldSpec("contact_phone", "Contact phone", "phone"),
            ),
        ),
        Runtime(
            "consultation",
            "Online consultation desk",
            (
                FieldSpec("department", "Department", required=True, max_length=40),
                FieldSpec("hours", "Consultation hours", required=True, max_length=60),
                FieldSpec("mode", "Consultation mode", "choice", required=True,
                          choices=("text", "video", "phone")),
                FieldSpec("notice", "Notice to patients", "textarea", max_length=1000),
            ),
        ),
    )
}
