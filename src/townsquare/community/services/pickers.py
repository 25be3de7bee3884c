"""What the property manager may pick when adding a service to the catalog: each provider (the
property company, every admitted merchant) with its merchant's stores that deliver, the items
(SKUs) its stores sell and its mini-apps to link to, loaded on the server for the catalog form's
select lists. `catalog.add` checks the choice again, whatever the form sent."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.community import access, property
from townsquare.community.models import Community
from townsquare.community.services import admissions
from townsquare.community.services.models import AdmissionStatus
from townsquare.miniapps.models import MiniApp
from townsquare.ordering import menu
from townsquare.ordering.stores.models import Store


@dataclass(frozen=True)
class Choice:
    value: str  # the public id the form sends
    label: str


@dataclass
class Provider:
    value: str  # "" for the property company, else the admission's `adm_…`
    name: str
    stores: list[Choice] = field(default_factory=list)
    items: list[Choice] = field(default_factory=list)
    apps: list[Choice] = field(default_factory=list)


def _price(fen: int) -> str:
    return f"¥{fen / 100:.2f}"


def _provider(db: Session, value: str, name: str, merchant_id: int) -> Provider:
    stores = list(db.scalars(select(Store).where(Store.merchant_id == merchant_id,
                                                 Store.active, Store.delivery)
                             .order_by(Store.name, Store.id)))
    items = []
    if stores:  # the catalog is the merchant's, the same at each of its stores
        for item in menu(db, store=stores[0]):
            label = " · ".join(part for part in (item.name, item.spec) if part)
            items.append(Choice(item.sku_id, f"{label} ({_price(item.price_fen)})"))
    apps = db.scalars(select(MiniApp).where(MiniApp.merchant_id == merchant_id)
                      .order_by(MiniApp.name, MiniApp.id))
    return Provider(value, name, [Choice(s.public_id, s.name) for s in stores], items,
                    [Choice(a.public_id, a.name) for a in apps])


def providers(db: Session, *, actor: User | None, community: Community,
              property_name: str) -> list[Provider]:
    """The property company (named `property_name`, when it has a merchant) first, then each
    admitted merchant under its mini-app's name (the community's property manager)."""
    access.require(db, actor=actor, community=community, roles=[access.PM])
    found = []
    try:
        own = property.property_merchant(db, community)
    except property.NoPropertyMerchant:
        own = None
    if own is not None:
        found.append(_provider(db, "", property_name, own.id))
    for admission in admissions.of_community(db, actor=actor, community=community):
        if admission.status is AdmissionStatus.APPROVED:
            app = db.get_one(MiniApp, admission.miniapp_id)
            found.append(_provider(db, admission.public_id, app.name, admission.merchant_id))
    return found
