"""The service hub: the operator's ordered sections of mini-apps on the home page.

The operator curates; residents only ever see listed mini-apps. A mini-app that is taken down
stays in the curation (so it comes back where it was if relisted) but drops out of `public_hub`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, lazyload

from townsquare.accounts.models import Role, User
from townsquare.accounts.permissions import require_role
from townsquare.core import audit
from townsquare.core.errors import Conflict, NotFound, ValidationFailed
from townsquare.core.text import LINE_CONTROL, well_formed
from townsquare.merchants.models import Category, Merchant
from townsquare.miniapps.models import HubEntry, HubSection, MiniApp

Direction = Literal["up", "down"]
TITLE_ZH_MAX = 32
TITLE_EN_MAX = 48
ICON_MAX = 16


@dataclass(frozen=True)
class PublicSection:
    """A section as residents see it: only its listed mini-apps, in curated order."""

    section: HubSection
    miniapps: list[MiniApp]


def _audit(db: Session, actor: User | None, action: str, section: HubSection, **detail) -> None:
    audit.record(
        db, actor_id=actor.id if actor else None, action=f"hub.{action}",
        subject_type="hub_section", subject_id=section.public_id, **detail,
    )


def _clean_titles(title_zh: str, title_en: str, icon: str) -> tuple[str, str, str]:
    title_zh, title_en, icon = title_zh.strip(), title_en.strip(), icon.strip()
    if any(ord(ch) < 32 for ch in title_zh + title_en + icon):
        raise ValidationFailed("Titles cannot contain control characters.")
    if not 1 <= len(title_zh) <= TITLE_ZH_MAX:
        raise ValidationFailed("A Chinese title is 1 to {n} characters.", n=TITLE_ZH_MAX)
    if not 1 <= len(title_en) <= TITLE_EN_MAX:
        raise ValidationFailed("An English title is 1 to {n} characters.", n=TITLE_EN_MAX)
    if len(icon) > ICON_MAX:
        raise ValidationFailed("An icon is at most {n} characters (an emoji).", n=ICON_MAX)
    return title_zh, title_en, icon


def _ordered_sections(db: Session) -> list[HubSection]:
    return list(db.scalars(select(HubSection).order_by(HubSection.position, HubSection.id)))


def _ordered_entries(db: Session, section: HubSection) -> list[HubEntry]:
    stmt = (
        select(HubEntry)
        .where(HubEntry.section_id == section.id)
        .order_by(HubEntry.position, HubEntry.id)
    )
    return list(db.scalars(stmt))


def _swap(items: list, index: int, direction: Direction) -> bool:
    """Move items[index] one step and renumber positions 0..n-1; False when already at the end."""
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(items):
        return False
    items[index], items[other] = items[other], items[index]
    for position, item in enumerate(items):
        item.position = position
    return True


def _check_direction(direction: str) -> Direction:
    if direction not in ("up", "down"):
        raise ValidationFailed("Move up or down.")
    return direction  # type: ignore[return-value]


def get_section(db: Session, *, section_id: str) -> HubSection:
    section = None
    if well_formed(section_id, "hub"):
        section = db.scalar(select(HubSection).where(HubSection.public_id == section_id))
    if section is None:
        raise NotFound("No such hub section.")
    return section


# What the curation shows of an entry's mini-app: its name, icon, category code, merchant's name
# and whether it is listed. The mini-app's other joined relationships (builder, template with
# its provider, the merchant's category and brands) are left to load if ever read.
_CURATED = (
    joinedload(HubEntry.miniapp).options(
        lazyload(MiniApp.builder), lazyload(MiniApp.template),
        joinedload(MiniApp.merchant).options(lazyload(Merchant.category),
                                             lazyload(Merchant.brands)),
    ),
)


def curation(db: Session, *, actor: User | None) -> list[tuple[HubSection, list[HubEntry]]]:
    """Every section with every entry (listed or not), for the operator's console: two
    statements whatever the number of sections (it was one per section, each joining every
    relationship of every mini-app)."""
    require_role(actor, Role.OPERATOR)
    sections = _ordered_sections(db)
    by_section: dict[int, list[HubEntry]] = {section.id: [] for section in sections}
    if sections:
        for entry in db.scalars(
            select(HubEntry).options(*_CURATED)
            .where(HubEntry.section_id.in_(list(by_section)))
            .order_by(HubEntry.section_id, HubEntry.position, HubEntry.id)
        ).unique():
            by_section[entry.section_id].append(entry)
    return [(section, by_section[section.id]) for section in sections]


def listed_choices(db: Session, *, actor: User | None, limit: int = 1000) -> list[MiniApp]:
    """Listed mini-apps the operator may add (for the console's picker)."""
    require_role(actor, Role.OPERATOR)
    stmt = select(MiniApp).where(MiniApp.listed.is_(True)).order_by(MiniApp.name).limit(limit)
    return list(db.scalars(stmt))


PICKER_LIMIT = 20


def search_choices(
    db: Session, *, actor: User | None, query: str, limit: int = PICKER_LIMIT
) -> list[MiniApp]:
    """Listed mini-apps whose name, merchant or category (Chinese or English) contains `query`,
    by name: the hub console's search picker (operators), a handful at a time."""
    require_role(actor, Role.OPERATOR)
    text = LINE_CONTROL.sub("", query or "").strip()[:64]  # PostgreSQL refuses NUL
    if not text:
        return []
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    merchants = select(Merchant.id).where(Merchant.name.ilike(pattern, escape="\\"))
    cats = select(Category.id).where(
        Category.name_zh.ilike(pattern, escape="\\") | Category.name_en.ilike(pattern, escape="\\")
    )
    stmt = (
        select(MiniApp)
        .where(
            MiniApp.listed.is_(True),
            MiniApp.name.ilike(pattern, escape="\\")
            | MiniApp.merchant_id.in_(merchants)
            | MiniApp.category_id.in_(cats),
        )
        .order_by(MiniApp.name, MiniApp.id)
        .limit(max(1, min(limit, 100)))
    )
    return list(db.scalars(stmt).unique())


def public_hub(db: Session) -> list[PublicSection]:
    """The hub residents see: sections in order, each with its listed mini-apps in order."""
    sections = _ordered_sections(db)
    stmt = (
        select(HubEntry.section_id, MiniApp)
        .join(MiniApp, MiniApp.id == HubEntry.miniapp_id)
        .where(MiniApp.listed.is_(True))
        .order_by(HubEntry.section_id, HubEntry.position, HubEntry.id)
    )
    by_section: dict[int, list[MiniApp]] = {}
    for section_id, miniapp in db.execute(stmt):
        by_section.setdefault(section_id, []).append(miniapp)
    return [PublicSection(section, by_section.get(section.id, [])) for section in sections]


def create_section(
    db: Session, *, actor: User | None, title_zh: str, title_en: str, icon: str = ""
) -> HubSection:
    """A new section at the end of the hub."""
    require_role(actor, Role.OPERATOR)
    title_zh, title_en, icon = _clean_titles(title_zh, title_en, icon)
    last = db.scalar(select(func.max(HubSection.position)))
    section = HubSection(
        title_zh=title_zh, title_en=title_en, icon=icon, position=0 if last is None else last + 1
    )
    db.add(section)
    db.flush()
    _audit(db, actor, "section.create", section, title_zh=title_zh, title_en=title_en)
    return section


def rename_section(
    db: Session, *, actor: User | None, section_id: str, title_zh: str, title_en: str,
    icon: str = "",
) -> HubSection:
    """Change a section's titles and icon."""
    require_role(actor, Role.OPERATOR)
    section = get_section(db, section_id=section_id)
    title_zh, title_en, icon = _clean_titles(title_zh, title_en, icon)
    before = {"title_zh": section.title_zh, "title_en": section.title_en, "icon": section.icon}
    section.title_zh, section.title_en, section.icon = title_zh, title_en, icon
    _audit(
        db, actor, "section.rename", section, before=before, title_zh=title_zh,
        title_en=title_en,
    )
    db.flush()
    return section


def delete_section(db: Session, *, actor: User | None, section_id: str) -> None:
    """Remove a section and its entries (the mini-apps themselves are untouched)."""
    require_role(actor, Role.OPERATOR)
    section = get_section(db, section_id=section_id)
    entries = [entry.miniapp.public_id for entry in _ordered_entries(db, section)]
    _audit(db, actor, "section.delete", section, title_zh=section.title_zh, entries=entries)
    db.delete(section)
    db.flush()


def move_section(
    db: Session, *, actor: User | None, section_id: str, direction: str
) -> HubSection:
    """Move a section one place up or down (no change at either end)."""
    require_role(actor, Role.OPERATOR)
    checked = _check_direction(direction)
    section = get_section(db, section_id=section_id)
    sections = _ordered_sections(db)
    if _swap(sections, sections.index(section), checked):
        _audit(db, actor, "section.move", section, direction=checked)
        db.flush()
    return section


def _listed_miniapp(db: Session, miniapp_id: str) -> MiniApp:
    miniapp_id = miniapp_id.strip()
    miniapp = None
    if well_formed(miniapp_id, "ma"):
        miniapp = db.scalar(select(MiniApp).where(MiniApp.public_id == miniapp_id))
    if miniapp is None:
        raise NotFound("No such mini-app.")
    if not miniapp.listed:
        raise ValidationFailed("Only listed mini-apps can be added to the hub.")
    return miniapp


def _entry(db: Session, section: HubSection, miniapp_id: str) -> HubEntry:
    if not well_formed(miniapp_id, "ma"):
        raise NotFound("That mini-app is not in this section.")
    stmt = (
        select(HubEntry)
        .join(MiniApp, MiniApp.id == HubEntry.miniapp_id)
        .where(HubEntry.section_id == section.id, MiniApp.public_id == miniapp_id)
    )
    entry = db.scalar(stmt)
    if entry is None:
        raise NotFound("That mini-app is not in this section.")
    return entry


def add_entry(db: Session, *, actor: User | None, section_id: str, miniapp_id: str) -> HubEntry:
    """Put a listed mini-app at the end of a section."""
    require_role(actor, Role.OPERATOR)
    section = get_section(db, section_id=section_id)
    miniapp = _listed_miniapp(db, miniapp_id)
    entries = _ordered_entries(db, section)
    if any(entry.miniapp_id == miniapp.id for entry in entries):
        raise Conflict("That mini-app is already in this section.")
    position = max((entry.position for entry in entries), default=-1) + 1
    entry = HubEntry(section_id=section.id, miniapp_id=miniapp.id, position=position)
    db.add(entry)
    db.flush()
    _audit(db, actor, "entry.add", section, miniapp=miniapp.public_id)
    return entry


def remove_entry(db: Session, *, actor: User | None, section_id: str, miniapp_id: str) -> None:
    """Take a mini-app out of a section."""
    require_role(actor, Role.OPERATOR)
    section = get_section(db, section_id=section_id)
    entry = _entry(db, section, miniapp_id)
    _audit(db, actor, "entry.remove", section, miniapp=miniapp_id)
    db.delete(entry)
    db.flush()


def move_entry(
    db: Session, *, actor: User | None, section_id: str, miniapp_id: str, direction: str
) -> None:
    """Move a mini-app one place up or down within its section."""
    require_role(actor, Role.OPERATOR)
    checked = _check_direction(direction)
    section = get_section(db, section_id=section_id)
    entry = _entry(db, section, miniapp_id)
    entries = _ordered_entries(db, section)
    if _swap(entries, entries.index(entry), checked):
        _audit(db, actor, "entry.move", section, miniapp=miniapp_id, direction=checked)
        db.flush()
