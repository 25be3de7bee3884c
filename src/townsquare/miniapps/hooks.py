"""What the registry announces to higher floors (messaging turns these into notifications; see
core/hooks.py for why a hook and not an import)."""

from __future__ import annotations

from dataclasses import dataclass

from townsquare.core.hooks import Hook
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
