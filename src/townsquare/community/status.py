"""Status colours (green, yellow, red) from flags and declarations: pure, no database.

The gate page and the resident pages call the same function, so the colour on a code and the
gate's decision can never disagree. Flags and declarations are duck-typed (ORM rows or any
objects with the same attributes), so this is unit-tested without a database.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Protocol

from townsquare.core.i18n import N_

SYMPTOMS = ("fever", "cough", "sore_throat", "fatigue", "loss_of_smell", "shortness_of_breath")
SYMPTOM_LABELS = {
    "fever": N_("Fever"),
    "cough": N_("Cough"),
    "sore_throat": N_("Sore throat"),
    "fatigue": N_("Fatigue"),
    "loss_of_smell": N_("Loss of taste or smell"),
    "shortness_of_breath": N_("Shortness of breath"),
}


class Colour(enum.StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"

    @property
    def rank(self) -> int:
        return ("green", "yellow", "red").index(self.value)


# A community's status-colour rules: a risk-region flag or declared travel makes a person yellow
# for `yellow_days`; declared contact with a case makes them red for `red_days`; a declared
# temperature at or above `fever_threshold` makes them yellow that day.
StatusRules = Mapping[str, float]
DEFAULT_STATUS_RULES: dict[str, float] = {"yellow_days": 7, "red_days": 14, "fever_threshold": 37.3}


# Read-only members (properties), so ORM rows with narrower types (a FlagKind) match too.
class FlagLike(Protocol):
    @property
    def kind(self) -> str: ...  # FlagKind or its string value
    @property
    def start(self) -> date: ...
    @property
    def end(self) -> date | None: ...


class DeclarationLike(Protocol):
    @property
    def day(self) -> date: ...
    @property
    def temperature_c(self) -> float: ...
    @property
    def symptoms(self) -> Sequence[str]: ...
    @property
    def risk_travel(self) -> bool: ...
    @property
    def case_contact(self) -> bool: ...


@dataclass(frozen=True)
class Status:
    """A colour and its reasons (English msgids, translated when shown)."""

    colour: Colour
    reasons: tuple[str, ...] = field(default_factory=tuple)


REASONS = {
    "quarantine": N_("Home quarantine"),
    "fever": N_("Fever"),
    "risk_region": N_("Arrived from a high-risk region"),
    "case_contact": N_("Declared contact with a case"),
    "risk_travel": N_("Declared travel through a high-risk region"),
    "declared_fever": N_("Declared a raised temperature"),
}


def rules_with_defaults(rules: StatusRules | None) -> dict[str, float]:
    return {**DEFAULT_STATUS_RULES, **(rules or {})}


def _flag_active(flag: FlagLike, today: date, default_days: int) -> bool:
    if getattr(flag, "lifted_at", None) is not None or flag.start > today:
        return False
    end = flag.end
    if end is None and default_days:
        end = flag.start + timedelta(days=default_days - 1)
    return end is None or today <= end


def status_colour(
    flags: Iterable[FlagLike],
    declarations: Iterable[DeclarationLike],
    today: date,
    rules: StatusRules | None = None,
) -> Status:
    """The person's colour on `today` and why.

    Red: an active quarantine or fever flag, or contact with a case declared within `red_days`.
    Yellow: an active risk-region flag (open-ended ones last `yellow_days`), travel through a
    high-risk region declared within `yellow_days`, or a temperature at or above
    `fever_threshold` (or the fever symptom) declared today or yesterday. Otherwise green.
    """
    r = rules_with_defaults(rules)
    yellow_days, red_days = int(r["yellow_days"]), int(r["red_days"])
    threshold = float(r["fever_threshold"])
    red: list[str] = []
    yellow: list[str] = []
    for flag in flags:
        kind = str(getattr(flag.kind, "value", flag.kind))
        if kind == "risk_region":
            if _flag_active(flag, today, yellow_days):
                yellow.append(REASONS["risk_region"])
        elif kind in ("quarantine", "fever") and _flag_active(flag, today, 0):
            red.append(REASONS[kind])
    for declaration in declarations:
        age = (today - declaration.day).days
        if age < 0:
            continue
        if declaration.case_contact and age < red_days:
            red.append(REASONS["case_contact"])
        if declaration.risk_travel and age < yellow_days:
            yellow.append(REASONS["risk_travel"])
        feverish = declaration.temperature_c >= threshold or "fever" in (declaration.symptoms or [])
        if feverish and age <= 1:
            yellow.append(REASONS["declared_fever"])
    reasons = tuple(dict.fromkeys(red + yellow))  # red reasons first, no repeats
    if red:
        return Status(Colour.RED, reasons)
    if yellow:
        return Status(Colour.YELLOW, reasons)
    return Status(Colour.GREEN)


def worst(statuses: Iterable[Status]) -> Status:
    """A household's status: its worst member's colour, with every member's reasons."""
    statuses = list(statuses)
    if not statuses:
        return Status(Colour.GREEN)
    colour = max((s.colour for s in statuses), key=lambda c: c.rank)
    reasons = tuple(dict.fromkeys(reason for s in statuses for reason in s.reasons))
    return Status(colour, reasons)
