"""What the registry announces to higher floors (messaging turns these into notifications; see
core/hooks.py for why a hook and not an import)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from townsquare.core.hooks import Hook
from townsquare.merchants.models import Merchant
from townsquare.miniapps.models import MiniAppVersion, Template


@dataclass(frozen=True)
class ReviewDecided:
    """An operator approved, rejected or took down a version (`decision`: approved, published,
    rejected, taken_down)."""

    version: MiniAppVersion
    decision: str


@dataclass(frozen=True)
class TemplateChanged:
    """An ISV published a new version of a template (`change`: "version") or withdrew it
    ("withdrawn")."""

    template: Template
    change: str


review_decided: Hook[ReviewDecided] = Hook("miniapps.review_decided")
template_changed: Hook[TemplateChanged] = Hook("miniapps.template_changed")


@dataclass
class SettingChoices:
    """A console form asks what a merchant may choose for one of a runtime's settings that
    names the merchant's own things (runtimes.MERCHANT_FIELDS: "stores"); a listener on a
    higher floor (ordering) adds `(value, label)` pairs to `choices`. Nothing added: the form
    shows a plain text box."""

    merchant: Merchant
    runtime: str
    name: str
    choices: list[tuple[str, str]] = field(default_factory=list)
    label: str = ""  # an English msgid for the ticks' legend (default: the setting's label)


@dataclass(frozen=True)
class ConfigChecked:
    """A merchant's mini-app settings are about to be kept (a new mini-app, an edited draft, a
    draft sent for review), already cleaned by runtimes.validate_config. A listener refuses,
    with ValidationFailed naming the field, a value that names what is not the merchant's (a
    store of another merchant)."""

    merchant_id: int
    runtime: str
    config: dict[str, Any]


setting_choices: Hook[SettingChoices] = Hook("miniapps.setting_choices")
config_checked: Hook[ConfigChecked] = Hook("miniapps.config_checked")
