"""The community's service catalog, kept by its property manager: services its staff run (on a
store of the property merchant) and services of admitted outside merchants (on a store of
theirs), each bookable on that store's delivery slots with one SKU; or a link to a shop
mini-app (grocery group buying with the community's pickup point)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.community import access, property
from townsquare.community.models import Community
from townsquare.community.services import admissions
from townsquare.community.services.models import Admission, AdmissionStatus, Service
from townsquare.core import audit
from townsquare.core.errors import NotFound, ValidationFailed
from townsquare.core.text import well_formed
from townsquare.miniapps.models import MiniApp
from townsquare.ordering import store_by_public_id
from townsquare.ordering.catalog.models import Sku

MAX_PRICE_FEN = 10_000_000


def add(db: Session, *, actor: User | None, community: Community, name: str, price_fen: int,
        description: str = "", store_id: str = "", sku_id: str = "",
        admission_id: str = "", link_miniapp_id: str = "") -> Service:
    """Add a service to the catalog (the community's property manager). Property-run without
    `admission_id`; a bookable one names a store and SKU of its provider's merchant."""
    access.require(db, actor=actor, community=community, roles=[access.PM])
    name = (name or "").strip()
    if not 1 <= len(name) <= 64:
        raise ValidationFailed("A name is 1 to 64 characters.", field="name")
    if isinstance(price_fen, bool) or not isinstance(price_fen, int) or not (
            0 <= price_fen <= MAX_PRICE_FEN):
        raise ValidationFailed("Enter a price.", field="price")
    if len(description) > 400:
        raise ValidationFailed("At most {n} characters.", n=400, field="description")
    admission: Admission | None = None
    if admission_id:
        admission = admissions.get(db, community=community, admission_id=admission_id)
        if admission.status is not AdmissionStatus.APPROVED:
            raise ValidationFailed("This merchant is not admitted to the community.",
                                   field="admission")
        merchant_id = admission.merchant_id
    else:
        merchant_id = property.property_merchant(db, community).id
    service = Service(community_id=community.id, admission_id=admission.id if admission else None,
                      name=name, description=description.strip(), price_fen=price_fen)
    if link_miniapp_id:
        link = db.scalar(select(MiniApp).where(MiniApp.public_id == link_miniapp_id)) if (
            well_formed(link_miniapp_id, "ma")) else None
        if link is None or link.merchant_id != merchant_id:
            raise ValidationFailed("Choose a mini-app of this service's merchant.", field="link")
        service.link_miniapp_id = link.id
    else:
        store = store_by_public_id(db, store_id) if store_id else None
        if store is None or store.merchant_id != merchant_id:
            raise ValidationFailed("Choose a store of this service's merchant.", field="store")
        sku = db.scalar(select(Sku).where(Sku.public_id == sku_id)) if sku_id else None
        if sku is None or sku.merchant_id != merchant_id:
            raise ValidationFailed("Choose an item of that store.", field="sku")
        service.store_id, service.sku_id = store.id, sku.id
    if db.scalar(select(Service.id).where(Service.community_id == community.id,
                                          Service.name == name)) is not None:
        raise ValidationFailed("The catalog already has a service of this name.", field="name")
    db.add(service)
    db.flush()
    audit.record(db, actor_id=actor.id if actor else None, action="community.service.add",
                 subject_type="service", subject_id=service.public_id,
                 community=community.public_id, price_fen=price_fen)
    return service


def set_active(db: Session, *, actor: User | None, community: Community, service_id: str,
               active: bool) -> Service:
    access.require(db, actor=actor, community=community, roles=[access.PM])
    service = get(db, community=community, service_id=service_id)
    service.active = active
    db.flush()
    return service


def get(db: Session, *, community: Community, service_id: str) -> Service:
    found = None
    if well_formed(service_id, "svc"):
        found = db.scalar(select(Service).where(Service.public_id == service_id,
                                                Service.community_id == community.id))
    if found is None:
        raise NotFound("No such service.")
    return found


def all_of(db: Session, *, community: Community) -> list[Service]:
    """Every service of the catalog, the property's first, by name."""
    return list(db.scalars(select(Service).where(Service.community_id == community.id)
                           .order_by(Service.admission_id.is_not(None), Service.name)))


def offered(db: Session, *, community: Community) -> list[Service]:
    """What residents see: active services of the property and of merchants still admitted."""
    return [s for s in all_of(db, community=community)
            if s.active and admissions.is_open(s.admission)]


def provider_name(db: Session, service: Service) -> str:
    if service.admission is None:
        return property.property_merchant(db, db.get_one(Community,
                                                         service.community_id)).name
    return db.get_one(MiniApp, service.admission.miniapp_id).merchant.name


def link_public_id(db: Session, service: Service) -> str | None:
    """The `ma_…` id of the shop a linked service opens (None for a bookable one)."""
    if service.link_miniapp_id is None:
        return None
    return db.get_one(MiniApp, service.link_miniapp_id).public_id
