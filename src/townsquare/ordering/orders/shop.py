"""A shop's settings, read from its mini-app's runtime config (the "grocery" and "restaurant"
runtimes of `miniapps.runtimes`): the stores it sells from, the kinds of order it takes, its
packaging fee, and how orders are accepted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.core.errors import NotFound
from townsquare.core.text import well_formed
from townsquare.miniapps.models import MiniApp
from townsquare.miniapps.shell.service import runtime_config
from townsquare.ordering.orders.errors import NotAShop
from townsquare.ordering.slots.models import Kind
from townsquare.ordering.stores.models import Store

RUNTIMES = ("grocery", "restaurant")
DEFAULT_ACCEPT_MINUTES = 10


@dataclass(frozen=True)
class ShopSettings:
    runtime: str
    welcome: str
    store_ids: tuple[str, ...]  # public ids, as the merchant typed them
    kinds: frozenset[Kind]
    packaging_fen: int
    auto_accept: bool
    accept_within_minutes: int
    contact_phone: str
    notice: str


def settings_of(runtime: str, config: dict[str, Any]) -> ShopSettings:
    """The settings from a (validated) runtime config; pure."""
    stores = tuple(dict.fromkeys(
        part.strip() for part in str(config.get("stores") or "").replace("，", ",").split(",")
        if part.strip()))
    kinds = frozenset(kind for kind in Kind if config.get(kind.value) is True)
    minutes = config.get("accept_within_minutes")
    return ShopSettings(
        runtime=runtime, welcome=str(config.get("welcome") or ""), store_ids=stores,
        kinds=kinds, packaging_fen=int(config.get("packaging_fen") or 0),
        auto_accept=config.get("auto_accept") is True,
        accept_within_minutes=minutes if isinstance(minutes, int) and minutes > 0
        else DEFAULT_ACCEPT_MINUTES,
        contact_phone=str(config.get("contact_phone") or ""),
        notice=str(config.get("notice") or ""))


def miniapp_by_public_id(db: Session, miniapp_id: str) -> MiniApp:
    found = (db.scalar(select(MiniApp).where(MiniApp.public_id == miniapp_id))
             if well_formed(miniapp_id, "ma") else None)
    if found is None or found.template is None or found.template.runtime not in RUNTIMES:
        raise NotAShop("No such shop.")
    return found


def shop(db: Session, miniapp: MiniApp) -> ShopSettings:
    """The published settings of a shop mini-app (NotAShop if it is not one, or not listed)."""
    if miniapp.template is None or miniapp.template.runtime not in RUNTIMES:
        raise NotAShop("No such shop.")
    try:
        runtime, config = runtime_config(db, miniapp=miniapp)
    except NotFound as problem:  # not listed: no published version
        raise NotAShop("No such shop.") from problem
    return settings_of(runtime.key, config)


def stores_of(db: Session, miniapp: MiniApp, settings: ShopSettings) -> list[Store]:
    """The shop's stores that exist, belong to its merchant and take orders, in its order."""
    if not settings.store_ids:
        return []
    found = {s.public_id: s for s in db.scalars(select(Store).where(
        Store.public_id.in_(settings.store_ids), Store.merchant_id == miniapp.merchant_id))}
    return [found[sid] for sid in settings.store_ids if sid in found and found[sid].active]
