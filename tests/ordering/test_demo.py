"""The demo's shops: a grocery with two stores, a community pickup point and a priced, stocked
catalog with pictures; a restaurant with pickup and dine-in slots; both offer slots now."""

from __future__ import annotations

from sqlalchemy import func, select

from townsquare import ordering
from townsquare.merchants import categories
from townsquare.merchants import service as merchants
from townsquare.merchants.models import Merchant
from townsquare.ordering import demo
from townsquare.ordering.catalog.models import Picture, Product, Sku
from townsquare.ordering.stores.models import Store


def test_demo_shops_are_ready_to_sell(database, make_user, tmp_path):
    make_user(username="gro"), make_user(username="chef")
    with database.unit_of_work() as db:
        for code, zh in (("grocery", "生鲜买菜"), ("restaurant", "餐饮美食")):
            categories.create_category(db, actor=None, code=code, name_zh=zh, name_en=code)
        merchants.create_merchant(db, actor=None, owner_username="gro", name="城东鲜果店",
                                  category_code="grocery", cities=["武汉"])
        merchants.create_merchant(db, actor=None, owner_username="chef", name="汉味小馆",
                                  category_code="restaurant", cities=["武汉"])
        listed = list(db.scalars(select(Merchant).order_by(Merchant.id)))
        demo.seed(db, merchants=listed, data_dir=tmp_path)
        demo.seed(db, merchants=listed, data_dir=tmp_path)  # twice is once
        assert db.scalar(select(func.count()).select_from(Store)) == 3
        assert db.scalar(select(func.count()).select_from(Product)) == 34
        assert db.scalar(select(func.count()).select_from(Picture)) == 34
        assert db.scalar(select(Sku.price_fen).where(Sku.code == "G002")) == 1280  # 洪山菜薹
        for store in db.scalars(select(Store)):
            assert ordering.offered(db, store=store, kind="pickup"), store.name
        kitchen = db.scalar(select(Store).where(Store.name == "汉味小馆·总店"))
        assert ordering.offered(db, store=kitchen, kind="dine_in")
