"""Catalog import and export (CSV or XLSX): one row per SKU, stock in one column per store.

An import is all or nothing: every row is checked first and any problem refuses the whole file
with a report of each problem by row and column (`ImportRefused.problems`); only a clean file
changes anything. Rows are matched by SKU code (updated, or created) and products by name;
what the file does not mention is left as it is. A row with neither code nor price is a product
without SKUs. An export imports back unchanged."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core.errors import TownsquareError, ValidationFailed
from townsquare.core.i18n import N_
from townsquare.core.money import fen_to_yuan, yuan_to_fen
from townsquare.core.sheets import ImportRefused, Problem
from townsquare.core.text import clean_name, clean_text
from townsquare.merchants.models import Merchant
from townsquare.ordering import access
from townsquare.ordering.catalog import fields, sheets
from townsquare.ordering.catalog.models import Product, Sku, Stock
from townsquare.ordering.catalog.service import category_named, put_stock
from townsquare.ordering.stores.models import Store

# column key → (Chinese header, English header); either is accepted on import
COLUMNS: dict[str, tuple[str, str]] = {
    "category": ("分类", "Category"), "product": ("商品", "Product"), "unit": ("单位", "Unit"),
    "description": ("描述", "Description"), "options": ("选项", "Options"),
    "prep_minutes": ("备餐分钟", "Preparation minutes"), "available": ("供应时段", "Available"),
    "code": ("编码", "SKU code"), "spec": ("规格", "Specification"),
    "price": ("价格(元)", "Price (yuan)"), "sold_out": ("售罄", "Sold out"),
}
STOCK_PREFIXES = ("库存:", "库存：", "Stock:")
PRODUCT_KEYS = ("category", "unit", "description", "options", "prep_minutes", "available")
DUPLICATE_CODE = N_("This SKU code is already in row {row}.")
DIFFERENT_PRODUCT = N_("This product is described differently in row {row}.")
UNKNOWN_COLUMN = N_("Unknown column.")
UNKNOWN_STORE = N_("No store of yours has this name.")


@dataclass
class Imported:
    products_created: int = 0
    skus_created: int = 0
    skus_updated: int = 0
    rows: int = 0


@dataclass
class _Row:
    number: int
    cells: dict[str, str]
    stock: dict[int, int | None] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)


def _header(db: Session, merchant: Merchant, header: list[str],
            problems: list[Problem]) -> tuple[dict[int, str], dict[int, Store]]:
    names = {name: key for key, pair in COLUMNS.items() for name in pair}
    stores = list(db.scalars(select(Store).where(Store.merchant_id == merchant.id)))
    columns, stock = {}, {}
    for index, title in enumerate(header):
        title = title.strip()
        if title in names:
            columns[index] = names[title]
        elif title.startswith(STOCK_PREFIXES):
            wanted = title.split(":", 1)[-1].split("：", 1)[-1].strip()
            match = [s for s in stores if wanted in (s.name, s.public_id)]
            if len(match) == 1:
                stock[index] = match[0]
            else:
                problems.append(Problem(1, title, ValidationFailed(UNKNOWN_STORE)))
        elif title:
            problems.append(Problem(1, title, ValidationFailed(UNKNOWN_COLUMN)))
    for key in ("product", "code", "price"):
        if key not in columns.values():
            problems.append(Problem(1, COLUMNS[key][0], ValidationFailed(
                "This column is missing.")))
    return columns, stock


def _check(row: _Row, stock_columns: dict[int, Store], raw: list[str],
           problems: list[Problem]) -> None:
    cells, values = row.cells, row.values

    def check(key: str, make: Callable[[], Any]) -> None:
        try:
            values[key] = make()
        except TownsquareError as exc:
            problems.append(Problem(row.number, COLUMNS[key][0], exc))

    check("product", lambda: clean_name(cells.get("product", ""), field="product"))
    check("category", lambda: clean_name(cells["category"], field="category", max_length=32)
          if cells.get("category") else "")
    check("unit", lambda: fields.unit(cells.get("unit", "")))
    check("description", lambda: clean_text(cells.get("description", ""), field="description",
                                            max_length=500,
                                            message="A description is at most {n} characters."))
    check("options", lambda: fields.options(cells.get("options", "")))
    check("prep_minutes", lambda: fields.whole(cells.get("prep_minutes"), field="prep_minutes",
                                               high=600, empty=0))
    check("available", lambda: fields.available(cells.get("available", "")))
    check("sold_out", lambda: fields.flag(cells.get("sold_out", ""), field="sold_out"))
    if cells.get("code") or cells.get("price"):
        check("code", lambda: fields.code(cells.get("code", "")))
        check("price", lambda: _price(cells.get("price", "")))
        check("spec", lambda: clean_text(cells.get("spec", ""), field="spec", max_length=32,
                                         message="A specification is at most {n} characters."))
    for index, store in stock_columns.items():
        text = raw[index] if index < len(raw) else ""
        try:
            row.stock[store.id] = fields.whole(text, field="stock", high=1_000_000)
        except TownsquareError as exc:
            problems.append(Problem(row.number, f"{STOCK_PREFIXES[0]}{store.name}", exc))


def _price(text: str) -> int:
    fen = yuan_to_fen(text, field="price")
    if fen > 10_000_000:
        raise ValidationFailed("A price is ¥0 to ¥100,000.", field="price")
    return fen


def _consistent(rows: list[_Row], problems: list[Problem]) -> None:
    first: dict[str, _Row] = {}
    codes: dict[str, int] = {}
    for row in rows:
        name = row.values.get("product")
        if name is None:
            continue
        seen = first.setdefault(name, row)
        if any(seen.values.get(k) != row.values.get(k) for k in PRODUCT_KEYS):
            problems.append(Problem(row.number, COLUMNS["product"][0],
                                    ValidationFailed(DIFFERENT_PRODUCT, row=seen.number)))
        code = row.values.get("code")
        if code and code in codes:
            problems.append(Problem(row.number, COLUMNS["code"][0],
                                    ValidationFailed(DUPLICATE_CODE, row=codes[code])))
        elif code:
            codes[code] = row.number


def import_catalog(db: Session, *, actor: User | None, merchant_id: str,
                   data: bytes) -> Imported:
    """Check every row of a CSV or XLSX file, then apply all of them, or refuse the file."""
    merchant = access.merchant(db, actor=actor, merchant_id=merchant_id)
    table = sheets.read(data)
    problems: list[Problem] = []
    columns, stock_columns = _header(db, merchant, table[0], problems)
    rows = []
    for number, raw in enumerate(table[1:], start=2):
        row = _Row(number, {key: raw[i] if i < len(raw) else "" for i, key in columns.items()})
        _check(row, stock_columns, raw, problems)
        rows.append(row)
    _consistent(rows, problems)
    if problems:
        raise ImportRefused(sorted(problems, key=lambda p: p.row))
    return _apply(db, merchant, rows)


def _apply(db: Session, merchant: Merchant, rows: list[_Row]) -> Imported:
    done = Imported(rows=len(rows))
    products = {p.name: p for p in db.scalars(select(Product).where(
        Product.merchant_id == merchant.id))}
    skus = {s.code: s for s in db.scalars(select(Sku).where(Sku.merchant_id == merchant.id))}
    stores = {s.id: s for s in db.scalars(select(Store).where(Store.merchant_id == merchant.id))}
    for row in rows:
        v = row.values
        product = products.get(v["product"])
        if product is None:
            product = products[v["product"]] = Product(merchant_id=merchant.id,
                                                       name=v["product"])
            db.add(product)
            done.products_created += 1
        category = category_named(db, merchant, v["category"], create=True) if v[
            "category"] else None
        product.category_id = category.id if category else None
        product.unit, product.description, product.options = v["unit"], v["description"], v[
            "options"]
        product.prep_minutes = v["prep_minutes"]
        product.available_from, product.available_until = v["available"]
        if "code" not in v:
            product.sold_out = v["sold_out"]
            continue
        db.flush()
        sku = skus.get(v["code"])
        if sku is None:
            sku = skus[v["code"]] = Sku(merchant_id=merchant.id, code=v["code"])
            done.skus_created += 1
        else:
            done.skus_updated += 1
        sku.product_id, sku.spec, sku.price_fen, sku.sold_out = (product.id, v["spec"],
                                                                 v["price"], v["sold_out"])
        db.add(sku)
        db.flush()
        for store_id, quantity in row.stock.items():
            put_stock(db, sku=sku, store=stores[store_id], quantity=quantity)
    db.flush()
    return done


def export_catalog(db: Session, *, actor: User | None, merchant_id: str, fmt: str,
                   english: bool = False) -> bytes:
    """The whole catalog as CSV or XLSX, in the columns the import reads."""
    merchant = access.merchant(db, actor=actor, merchant_id=merchant_id)
    stores = list(db.scalars(select(Store).where(Store.merchant_id == merchant.id)
                             .order_by(Store.id)))
    header = [pair[1 if english else 0] for pair in COLUMNS.values()]
    header += [f"{STOCK_PREFIXES[2 if english else 0]}{s.name}" for s in stores]
    products = db.scalars(select(Product).where(Product.merchant_id == merchant.id)
                          .order_by(Product.category_id, Product.position, Product.id))
    stock = {(r.sku_id, r.store_id): r.quantity for r in db.scalars(
        select(Stock).join(Sku).where(Sku.merchant_id == merchant.id))}
    rows: list[list[sheets.Cell]] = []
    for p in products:
        described: list[sheets.Cell] = [
            p.category.name if p.category else "", p.name, p.unit, p.description,
            fields.options_text(p.options), p.prep_minutes,
            fields.available_text(p.available_from, p.available_until)]
        for sku in p.skus:
            rows.append(described + [sku.code, sku.spec, fen_to_yuan(sku.price_fen),
                                     "是" if sku.sold_out else "否"]
                        + [stock.get((sku.id, s.id)) for s in stores])
        if not p.skus:
            rows.append(described + ["", "", "", "是" if p.sold_out else "否"]
                        + [None for _ in stores])
    if fmt == "xlsx":
        return sheets.write_xlsx(header, rows, title="catalog")
    return sheets.write_csv(header, rows)
