"""Field checks for mini-apps and their versions: everything is checked before anything changes,
so a bad value is a clear ValidationFailed and never a database error."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.core.errors import ValidationFailed
from townsquare.core.i18n import N_
from townsquare.core.text import LINE_CONTROL, clean_cities, clean_name, clean_text, well_formed
from townsquare.merchants.models import Category
from townsquare.miniapps.models import Template, TemplateStatus, TemplateVersion
from townsquare.miniapps.runtimes import is_web_url
from townsquare.web import icons

ICON_DEFAULT = "🧩"
ICON_MAX = 255
TAGS_MAX = 10
TAG_MAX = 16
DESCRIPTION_MAX = 2000
LABEL_MAX = 32
_PART = r"(0|[1-9][0-9]{0,3})"
LABEL = re.compile(rf"^{_PART}\.{_PART}(\.{_PART})?(-[0-9A-Za-z.]{{1,16}})?$")
CATEGORY_CODE = re.compile(r"^[a-z][a-z0-9_]{1,31}$")  # junk never reaches the database
# Emoji are symbols, joined and varied by these invisible marks and modifiers.
_EMOJI_CATEGORIES = {"So", "Sk", "Mn", "Me", "Cf"}


def clean_icon(value: str | None) -> str:
    """A name from the bundled icon set, an https:// image address, or an emoji (kept for the
    API, but pages draw the bundled icon the name and category suggest); empty: the default."""
    value = (value or "").strip()
    if not value:
        return ICON_DEFAULT
    if icons.is_bundled(value):
        return value
    if value.startswith(("https://", "http://")):
        if len(value) <= ICON_MAX and is_web_url(value, max_length=ICON_MAX):
            return value
    elif len(value) <= 16 and all(
        unicodedata.category(ch) in _EMOJI_CATEGORIES or 0x1F1E6 <= ord(ch) <= 0x1F1FF
        for ch in value
    ) and any(unicodedata.category(ch) == "So" for ch in value):
        return value
    raise ValidationFailed(
        "The icon is a name from the icon set (such as pill) or an https:// image address.",
        field="icon",
    )


def clean_tags(values: Iterable[Any] | None) -> list[str]:
    """At most 10 distinct tags of 1 to 16 characters."""
    tags: list[str] = []
    for raw in values or ():
        tag = raw.strip() if isinstance(raw, str) else ""
        if not 1 <= len(tag) <= TAG_MAX or LINE_CONTROL.search(tag):
            raise ValidationFailed("Each tag is 1 to {n} characters.", n=TAG_MAX, field="tags")
        if tag not in tags:
            tags.append(tag)
    if len(tags) > TAGS_MAX:
        raise ValidationFailed("At most {n} tags.", n=TAGS_MAX, field="tags")
    return tags


def clean_label(value: str | None) -> str:
    """A semver-like version label such as 1.2 or 1.2.0 or 2.0.0-beta."""
    value = (value or "").strip()
    if len(value) > LABEL_MAX or not LABEL.match(value):
        raise ValidationFailed(
            "A version label looks like 1.2.0 (numbers separated by dots).", field="label"
        )
    return value


def clean_external_url(value: str | None) -> str:
    value = (value or "").strip()
    if not is_web_url(value, max_length=500):
        raise ValidationFailed(
            "The address must start with https:// (http:// only for 127.0.0.1 or localhost).",
            field="external_url",
        )
    return value


def category_by_code(db: Session, code: str) -> Category:
    found = None
    if isinstance(code, str) and CATEGORY_CODE.match(code):
        found = db.scalar(select(Category).where(Category.code == code))
    if found is None:
        raise ValidationFailed(
            "There is no category {category}.", category=str(code)[:32], field="category"
        )
    return found


def published_template(db: Session, public_id: str | None) -> Template:
    found = None
    if public_id and well_formed(public_id, "tpl"):
        found = db.scalar(select(Template).where(Template.public_id == public_id))
    if found is None or found.status != TemplateStatus.PUBLISHED:
        raise ValidationFailed("Choose a published template.", field="template_id")
    return found


def clean_listing(
    *, name: str, icon: str | None, description: str | None, tags: Iterable[Any] | None,
    cities: Iterable[Any] | None,
) -> dict[str, Any]:
    return {
        "name": clean_name(name),
        "icon": clean_icon(icon),
        "description": clean_text(
            description or "", field="description", max_length=DESCRIPTION_MAX,
            message=N_("A description is at most {n} characters."),
        ),
        "tags": clean_tags(tags),
        "cities": clean_cities(cities or ()),
    }


def clean_changelog(value: str | None) -> str:
    return clean_text(
        value or "", field="changelog", max_length=DESCRIPTION_MAX,
        message=N_("The change notes are at most {n} characters."),
    )


def pinned_fields(db: Session, *, template: Template, number: int | None) -> list[Any]:
    """The field dicts (with defaults) of one published version of a template. A mini-app
    version that does not know its template version (made before versions were kept) was made
    from the first; a template never versioned has only its current fields."""
    fields = db.scalar(select(TemplateVersion.fields).where(
        TemplateVersion.template_id == template.id, TemplateVersion.number == (number or 1)))
    return list(fields) if fields is not None else list(template.fields or [])
