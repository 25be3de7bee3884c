"""The catalog: products, SKUs and stock through the services, only for the merchant's own
people; import and export round trip in both formats; a file with any bad row changes nothing
and says which rows and columns are wrong."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from townsquare.core.errors import Conflict, PermissionDenied, ValidationFailed
from townsquare.ordering.catalog import service as catalog
from townsquare.ordering.catalog import transfer
from townsquare.ordering.catalog.models import Product, Sku, Stock

HEADER = "分类,商品,单位,选项,备餐分钟,供应时段,编码,规格,价格(元),售罄,库存:光谷店\n"


def _csv(*rows: str) -> bytes:
    return (HEADER + "\n".join(rows) + "\n").encode("utf-8")


def test_products_skus_and_stock(database, shop):
    with database.unit_of_work() as db:
        product = catalog.create_product(
            db, actor=shop.owner, merchant_id=shop.merchant, name="宫保鸡丁", category="热菜",
            options="辣度: 不辣/微辣/特辣", prep_minutes=6, available="10:30-14:00")
        assert product.options == [{"name": "辣度", "choices": ["不辣", "微辣", "特辣"]}]
        assert (product.available_from, product.available_until) == (630, 840)
        sku = catalog.add_sku(db, actor=shop.owner, product_id=product.public_id, code="KB-L",
                              spec="大份", price_fen=3_200)
        with pytest.raises(Conflict):
            catalog.add_sku(db, actor=shop.owner, product_id=product.public_id, code="KB-L",
                            spec="小份", price_fen=2_200)
        with pytest.raises(ValidationFailed):
            catalog.update_sku(db, actor=shop.owner, sku_id=sku.public_id, spec="大份",
                               price_fen=-1, sold_out=False)
        with pytest.raises(PermissionDenied):
            catalog.create_product(db, actor=shop.outsider, merchant_id=shop.merchant,
                                   name="偷偷加的菜")
        with pytest.raises(PermissionDenied):
            catalog.set_stock(db, actor=shop.outsider, sku_id=sku.public_id,
                              store_id=shop.store, quantity=5)
        assert catalog.set_stock(db, actor=shop.owner, sku_id=sku.public_id,
                                 store_id=shop.store, quantity=None).quantity is None


def test_csv_import_creates_and_updates_and_exports_back(database, shop):
    data = _csv("蔬菜,本地小白菜,斤,,0,,VEG-001,约1斤,4.20,否,25",
                "蔬菜,西红柿,斤,,0,,VEG-002,约1斤,5.80,否,",
                "热菜,宫保鸡丁,份,辣度: 不辣/微辣,6,10:30-14:00,KB-L,大份,32,否,",
                "热菜,宫保鸡丁,份,辣度: 不辣/微辣,6,10:30-14:00,KB-S,小份,22.5,是,")
    with database.unit_of_work() as db:
        done = transfer.import_catalog(db, actor=shop.owner, merchant_id=shop.merchant,
                                       data=data)
        assert (done.products_created, done.skus_created, done.skus_updated) == (2, 3, 1)
        prices = dict(db.execute(select(Sku.code, Sku.price_fen)).tuples().all())
        assert prices == {"VEG-001": 420, "VEG-002": 580, "KB-L": 3200, "KB-S": 2250}
        assert db.scalar(select(Stock.quantity).where(Stock.sku_id == shop.sku_row)) == 25
        exported = transfer.export_catalog(db, actor=shop.owner, merchant_id=shop.merchant,
                                           fmt="csv")
    assert exported.startswith("\ufeff分类".encode())
    assert "宫保鸡丁,份,,辣度: 不辣/微辣,6,10:30-14:00,KB-S,小份,22.50,是" in exported.decode()
    with database.unit_of_work() as db:  # what was exported imports back unchanged
        again = transfer.import_catalog(db, actor=shop.owner, merchant_id=shop.merchant,
                                        data=exported)
        assert (again.products_created, again.skus_created, again.skus_updated) == (0, 0, 4)
        assert dict(db.execute(select(Sku.code, Sku.price_fen)).tuples().all()) == prices


def test_one_bad_row_refuses_the_whole_file_with_a_report(database, shop):
    data = _csv("蔬菜,西红柿,斤,,0,,VEG-002,约1斤,5.80,否,",
                "蔬菜,土豆,筐,,0,,VEG-003,约1斤,3.456,也许,-1",
                "蔬菜,黄瓜,斤,,0,,VEG-002,约1斤,3,否,")
    with database.unit_of_work() as db, pytest.raises(transfer.ImportRefused) as refused:
        transfer.import_catalog(db, actor=shop.owner, merchant_id=shop.merchant, data=data)
    found = {(p.row, p.column) for p in refused.value.problems}
    assert found == {(3, "单位"), (3, "价格(元)"), (3, "售罄"), (3, "库存:光谷店"),
                     (4, "编码")}
    with database.unit_of_work() as db:
        assert db.scalar(select(func.count()).select_from(Product)) == 1  # the fixture's


def test_xlsx_round_trip_and_formula_cells_are_defused(database, shop):
    with database.unit_of_work() as db:
        catalog.create_product(db, actor=shop.owner, merchant_id=shop.merchant,
                               name="=HYPERLINK(1)")
        data = transfer.export_catalog(db, actor=shop.owner, merchant_id=shop.merchant,
                                       fmt="xlsx", english=True)
    sheet = load_workbook(io.BytesIO(data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("Category", "Product", "Unit")
    assert ("'=HYPERLINK(1)" in [row[1] for row in rows])
    book = Workbook()
    book.active.append(["Product", "SKU code", "Price (yuan)", "Stock:光谷店"])
    book.active.append(["本地小白菜", "VEG-001", 3.8, 40])
    out = io.BytesIO()
    book.save(out)
    with database.unit_of_work() as db:
        transfer.import_catalog(db, actor=shop.owner, merchant_id=shop.merchant,
                                data=out.getvalue())
        assert db.scalar(select(Sku.price_fen).where(Sku.code == "VEG-001")) == 380
        assert db.scalar(select(Stock.quantity).where(Stock.sku_id == shop.sku_row)) == 40


def test_import_is_for_the_merchants_own_people(database, shop):
    with database.unit_of_work() as db, pytest.raises(PermissionDenied):
        transfer.import_catalog(db, actor=shop.outsider, merchant_id=shop.merchant,
                                data=_csv("蔬菜,西红柿,斤,,0,,VEG-002,约1斤,5.80,否,"))


def test_the_menu_says_what_can_be_ordered_for_a_time(database, shop):
    from datetime import timedelta

    from tests.ordering.conftest import NOON
    from townsquare import ordering

    with database.unit_of_work() as db:
        noodles = catalog.create_product(db, actor=shop.owner, merchant_id=shop.merchant,
                                         name="热干面", category="早餐", available="06:30-10:30")
        catalog.add_sku(db, actor=shop.owner, product_id=noodles.public_id, code="RGM",
                        spec="一碗", price_fen=800)
        store = ordering.store_by_public_id(db, shop.store)
        at_noon = {item.name: item for item in ordering.menu(db, store=store, at=NOON)}
        assert at_noon["热干面"].unavailable == "not_now"
        assert at_noon["本地小白菜"].unavailable is None and at_noon["本地小白菜"].left == 10
        morning = ordering.menu(db, store=store, at=NOON - timedelta(hours=3))  # 09:00
        assert {item.name: item.unavailable for item in morning}["热干面"] is None
        catalog.set_stock(db, actor=shop.owner, sku_id=shop.sku, store_id=shop.store,
                          quantity=0)
        gone = {item.name: item for item in ordering.menu(db, store=store, at=NOON)}
        assert gone["本地小白菜"].unavailable == "sold_out"


def test_an_authorized_providers_staff_may_manage_the_catalog(database, shop, make_user):
    from townsquare.accounts.models import Role, User
    from townsquare.merchants import authorizations, providers

    make_user(Role.ISV_STAFF, username="isvpat")
    with database.unit_of_work() as db:
        provider = providers.create_provider(db, actor=None, name="松果科技",
                                             staff_username="isvpat")
        isv = db.scalar(select(User).where(User.username == "isvpat"))
        with pytest.raises(PermissionDenied):
            catalog.create_product(db, actor=isv, merchant_id=shop.merchant, name="未授权")
        authorizations.grant(db, actor=None, merchant_id=shop.merchant,
                             provider_id=provider.public_id)
        assert catalog.create_product(db, actor=isv, merchant_id=shop.merchant,
                                      name="授权后").name == "授权后"


def test_a_csv_saved_by_chinese_excel_is_read(database, shop):
    data = "商品,编码,价格(元)\n西红柿,VEG-2,5.8\n".encode("gb18030")
    with database.unit_of_work() as db:
        done = transfer.import_catalog(db, actor=shop.owner, merchant_id=shop.merchant,
                                       data=data)
        assert done.skus_created == 1
        assert db.scalar(select(Product.name).join(Sku).where(Sku.code == "VEG-2")) == "西红柿"
