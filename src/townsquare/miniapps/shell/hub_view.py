"""The public hub as plain data, cached per process: what the home page and `GET /api/hub` show.

Built in three queries (sections; entries with their listed mini-apps and categories; certified
brands) and kept until the "hub" generation moves (core/generations.py: any change to a section,
an entry, a mini-app, a category or a brand, through the ORM) — checked at most every
`refresh_seconds`, and at once in the process that made the change. Same content as
`hub.public_hub`, without an ORM object per mini-app per request.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.core.generations import Cached
from townsquare.merchants.models import Brand, BrandStatus, Category
from townsquare.miniapps.models import HubEntry, HubSection, MiniApp


@dataclass(frozen=True, slots=True)
class HubTile:
    """A listed mini-app in a hub section."""

    public_id: str
    name: str
    icon: str
    description: str
    category_code: str
    category_zh: str
    category_en: str
    brand: str | None  # its merchant's certified brand

    def category_name(self, locale: str) -> str:
        return self.category_en if locale == "en" else self.category_zh


@dataclass(frozen=True, slots=True)
class HubSectionView:
    """A section as residents see it: only its listed mini-apps, in curated order."""

    public_id: str
    title_zh: str
    title_en: str
    icon: str
    tiles: tuple[HubTile, ...]

    def title(self, locale: str) -> str:
        return self.title_en if locale == "en" else self.title_zh


def load(db: Session) -> tuple[HubSectionView, ...]:
    """The public hub read from the database now (uncached)."""
    sections = db.execute(
        select(HubSection.id, HubSection.public_id, HubSection.title_zh, HubSection.title_en,
               HubSection.icon).order_by(HubSection.position, HubSection.id)
    ).all()
    brands: dict[int, str] = {}
    certified = (select(Brand.merchant_id, Brand.name)
                 .where(Brand.status == BrandStatus.CERTIFIED).order_by(Brand.id))
    for merchant_id, name in db.execute(certified):
        brands.setdefault(merchant_id, name)
    entries = db.execute(
        select(HubEntry.section_id, MiniApp.public_id, MiniApp.name, MiniApp.icon,
               MiniApp.description, MiniApp.merchant_id, Category.code, Category.name_zh,
               Category.name_en)
        .join(MiniApp, MiniApp.id == HubEntry.miniapp_id)
        .join(Category, Category.id == MiniApp.category_id)
        .where(MiniApp.listed.is_(True))
        .order_by(HubEntry.section_id, HubEntry.position, HubEntry.id)
    )
    tiles: dict[int, list[HubTile]] = {}
    for row in entries:
        tiles.setdefault(row.section_id, []).append(HubTile(
            row.public_id, row.name, row.icon, row.description, row.code, row.name_zh,
            row.name_en, brands.get(row.merchant_id)))
    return tuple(
        HubSectionView(s.public_id, s.title_zh, s.title_en, s.icon, tuple(tiles.get(s.id, ())))
        for s in sections
    )


_hub: Cached[tuple[HubSectionView, ...]] = Cached(("hub",), load)


def public_hub(db: Session, *, refresh_seconds: float) -> tuple[HubSectionView, ...]:
    """The public hub from this process's snapshot (see the module's docstring)."""
    return _hub.get(db, refresh_seconds=refresh_seconds)


def forget() -> None:
    """Drop the cached hub (tests that change rows around the ORM)."""
    _hub.forget()
