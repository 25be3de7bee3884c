"""The catalog's business rules: categories, products, SKUs, prices, stock and sold-out
switches. Every function takes the acting user and checks it may act for the merchant; prices
arrive in integer fen (forms convert yuan at the edge with `core.money.yuan_to_fen`)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core.errors import Conflict, NotFound, ValidationFailed
from townsquare.core.text import clean_name, clean_text, well_formed
from townsquare.merchants.models import Merchant
from townsquare.ordering import access
from townsquare.ordering.catalog import fields
from townsquare.ordering.catalog.models import CatalogCategory, Product, Sku, Stock
from townsquare.ordering.stores.models import Store

MAX_PRICE_FEN = 10_000_000  # ¥100,000 for one SKU
MAX_STOCK = 1_000_000


def categories_of(db: Session, merchant: Merchant) -> list[CatalogCategory]:
    return list(db.scalars(select(CatalogCategory).where(CatalogCategory.merchant_id ==
                                                         merchant.id)
                           .order_by(CatalogCategory.position, CatalogCategory.id)))


def category_named(db: Session, merchant: Merchant, name: str, *,
                   create: bool = False) -> CatalogCategory | None:
    name = clean_name(name, field="category", max_length=32)
    found = db.scalar(select(CatalogCategory).where(CatalogCategory.merchant_id == merchant.id,
                                                    CatalogCategory.name == name))
    if found is None and create:
        position = db.scalar(select(func.count()).where(
            CatalogCategory.merchant_id == merchant.id)) or 0
        found = CatalogCategory(merchant_id=merchant.id, name=name, position=position)
        db.add(found)
        db.flush()
    return found


def add_category(db: Session, *, actor: User | None, merchant_id: str,
                 name: str) -> CatalogCategory:
    merchant = access.merchant(db, actor=actor, merchant_id=merchant_id)
    if category_named(db, merchant, name) is not None:
        raise Conflict("There is already a category with this name.", field="name")
    found = category_named(db, merchant, name, create=True)
    assert found is not None
    return found


def products_of(db: Session, *, actor: User | None, merchant_id: str) -> list[Product]:
    merchant = access.merchant(db, actor=actor, merchant_id=merchant_id)
    return list(db.scalars(select(Product).where(Product.merchant_id == merchant.id)
                           .order_by(Product.category_id, Product.position, Product.id)))


def get_product(db: Session, *, actor: User | None, product_id: str) -> Product:
    product = (db.scalar(select(Product).where(Product.public_id == product_id))
               if well_formed(product_id, "prd") else None)
    if product is None:
        raise NotFound("No such product.")
    access.require(db, actor, product.merchant_id)
    return product


def _describe(product: Product, *, category: CatalogCategory | None, name: str,
              description: str, unit: str, options: str, prep_minutes: int,
              available: str) -> None:
    product.category_id = category.id if category else None
    product.name = clean_name(name)
    product.description = clean_text(description, field="description", max_length=500,
                                     message="A description is at most {n} characters.")
    product.unit = fields.unit(unit)
    product.options = fields.options(options)
    product.prep_minutes = fields.whole(prep_minutes, field="prep_minutes", high=600) or 0
    product.available_from, product.available_until = fields.available(available)


def _name_free(db: Session, merchant_id: int, name: str, product_id: int | None) -> None:
    taken = db.scalar(select(Product.id).where(Product.merchant_id == merchant_id,
                                               Product.name == name.strip()))
    if taken is not None and taken != product_id:
        raise Conflict("There is already a product with this name.", field="name")


def create_product(db: Session, *, actor: User | None, merchant_id: str, name: str,
                   category: str = "", description: str = "", unit: str = "份",
                   options: str = "", prep_minutes: int = 0, available: str = "") -> Product:
    merchant = access.merchant(db, actor=actor, merchant_id=merchant_id)
    _name_free(db, merchant.id, name, None)
    product = Product(merchant_id=merchant.id, options=[])
    _describe(product, category=category_named(db, merchant, category, create=True)
              if category.strip() else None, name=name, description=description, unit=unit,
              options=options, prep_minutes=prep_minutes, available=available)
    db.add(product)
    db.flush()
    return product


def update_product(db: Session, *, actor: User | None, product_id: str, name: str,
                   category: str = "", description: str = "", unit: str = "份",
                   options: str = "", prep_minutes: int = 0, available: str = "",
                   active: bool = True) -> Product:
    product = get_product(db, actor=actor, product_id=product_id)
    merchant = db.get_one(Merchant, product.merchant_id)
    _name_free(db, merchant.id, name, product.id)
    _describe(product, category=category_named(db, merchant, category, create=True)
              if category.strip() else None, name=name, description=description, unit=unit,
              options=options, prep_minutes=prep_minutes, available=available)
    product.active = active
    db.flush()
    return product


def set_product_sold_out(db: Session, *, actor: User | None, product_id: str,
                         sold_out: bool) -> Product:
    product = get_product(db, actor=actor, product_id=product_id)
    product.sold_out = sold_out
    db.flush()
    return product


def _price(price_fen: int) -> int:
    if not 0 <= price_fen <= MAX_PRICE_FEN:
        raise ValidationFailed("A price is ¥0 to ¥100,000.", field="price")
    return price_fen


def add_sku(db: Session, *, actor: User | None, product_id: str, code: str, spec: str,
            price_fen: int) -> Sku:
    product = get_product(db, actor=actor, product_id=product_id)
    code = fields.code(code)
    if db.scalar(select(Sku.id).where(Sku.merchant_id == product.merchant_id, Sku.code == code)):
        raise Conflict("There is already a SKU with this code.", field="code")
    sku = Sku(merchant_id=product.merchant_id, code=code, price_fen=_price(price_fen),
              spec=clean_text(spec, field="spec", max_length=32,
                              message="A specification is at most {n} characters."))
    product.skus.append(sku)
    db.flush()
    return sku


def get_sku(db: Session, *, actor: User | None, sku_id: str) -> Sku:
    sku = (db.scalar(select(Sku).where(Sku.public_id == sku_id))
           if well_formed(sku_id, "sku") else None)
    if sku is None:
        raise NotFound("No such SKU.")
    access.require(db, actor, sku.merchant_id)
    return sku


def update_sku(db: Session, *, actor: User | None, sku_id: str, spec: str, price_fen: int,
               sold_out: bool) -> Sku:
    sku = get_sku(db, actor=actor, sku_id=sku_id)
    sku.spec = clean_text(spec, field="spec", max_length=32,
                          message="A specification is at most {n} characters.")
    sku.price_fen, sku.sold_out = _price(price_fen), sold_out
    db.flush()
    return sku


def set_stock(db: Session, *, actor: User | None, sku_id: str, store_id: str,
              quantity: int | None) -> Stock:
    """What the store may still sell of the SKU (None: the store does not count it). Holds
    taken before keep their share: `quantity` is what is left for new checkouts."""
    sku = get_sku(db, actor=actor, sku_id=sku_id)
    store = db.scalar(select(Store).where(Store.public_id == store_id,
                                          Store.merchant_id == sku.merchant_id))
    if store is None:
        raise NotFound("No such store.")
    return put_stock(db, sku=sku, store=store, quantity=quantity)


def put_stock(db: Session, *, sku: Sku, store: Store, quantity: int | None) -> Stock:
    if quantity is not None and not 0 <= quantity <= MAX_STOCK:
        raise ValidationFailed("Stock is 0 to {n}, or empty when not counted.", n=MAX_STOCK,
                               field="stock")
    stock = db.scalar(select(Stock).where(Stock.sku_id == sku.id, Stock.store_id == store.id))
    if stock is None:
        stock = Stock(sku_id=sku.id, store_id=store.id, held=0)
        db.add(stock)
    stock.quantity = quantity
    db.flush()
    return stock


def stock_of(db: Session, skus: list[Sku]) -> dict[tuple[int, int], Stock]:
    """(sku row id, store row id) → the stock row, for the console's tables."""
    rows = db.scalars(select(Stock).where(Stock.sku_id.in_([s.id for s in skus])))
    return {(row.sku_id, row.store_id): row for row in rows}
