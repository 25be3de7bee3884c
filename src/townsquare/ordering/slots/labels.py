"""Slot settings as the console shows and reads them: labels for the kinds, and a rule's
fields as form text ("15", "22:00", "16:00-19:00") and back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from townsquare.core.i18n import N_
from townsquare.ordering.catalog import fields
from townsquare.ordering.slots.models import Kind, SlotRule
from townsquare.ordering.stores.hours import clock_text, minutes

KIND_LABELS = {
    Kind.PICKUP: N_("Store pickup"),
    Kind.DELIVERY: N_("Delivery"),
    Kind.DINE_IN: N_("Dine-in pre-order"),
    Kind.COMMUNITY: N_("Community pickup point"),
}
NUMBERS = ("slot_minutes", "capacity_orders", "capacity_prep", "lead_minutes", "cutoff_days",
           "days_ahead")


def rule_form(rule: SlotRule | None) -> dict[str, str]:
    """The form's text for a rule (the defaults for a new one)."""
    if rule is None:
        return {"kind": "pickup", "point": "", "enabled": "1", "slot_minutes": "15",
                "capacity_orders": "10", "capacity_prep": "", "lead_minutes": "30",
                "cutoff_time": "", "cutoff_days": "0", "days_ahead": "2", "window": "",
                "closed_days": ""}
    return {
        "kind": rule.kind.value, "point": "", "enabled": "1" if rule.enabled else "",
        **{key: "" if getattr(rule, key) is None else str(getattr(rule, key))
           for key in NUMBERS},
        "cutoff_time": "" if rule.cutoff_time is None else clock_text(rule.cutoff_time),
        "window": fields.available_text(rule.window_start, rule.window_end),
        "closed_days": "\n".join(rule.closed_days),
    }


def rule_values(form: Mapping[str, str]) -> dict[str, Any]:
    """`set_rule`'s keyword arguments from the posted form (ValidationFailed beside a field)."""
    values: dict[str, Any] = {
        key: fields.whole(form.get(key, ""), field=key, high=100_000) for key in NUMBERS}
    for key, default in (("slot_minutes", 15), ("lead_minutes", 0), ("cutoff_days", 0),
                         ("days_ahead", 2)):
        values[key] = default if values[key] is None else values[key]
    cutoff = (form.get("cutoff_time") or "").strip()
    values["cutoff_time"] = minutes(cutoff, field="cutoff_time") if cutoff else None
    values["window_start"], values["window_end"] = fields.available(form.get("window", ""))
    values["closed_days"] = form.get("closed_days", "")
    values["enabled"] = bool(form.get("enabled"))
    return values
