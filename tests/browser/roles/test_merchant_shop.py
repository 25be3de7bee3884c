"""Merchant staff set up their shop, in Chromium on a desktop and a phone: from the merchant's
page to its stores (the demo's grocery stores), a store's slot settings (a refused value, then a
saved one), the catalog and one product whose price is changed in yuan."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from townsquare.accounts.models import User
from townsquare.merchants.models import Merchant, MerchantStaff
from townsquare.ordering.catalog.models import Sku
from townsquare.ordering.slots.models import Kind, SlotRule
from townsquare.ordering.stores.models import Store

pytestmark = pytest.mark.browser
ROLE = "merchant-shop"


def _merchant(database) -> str:
    with database.unit_of_work() as db:
        staff = db.scalar(select(User).where(User.username == "merchant"))
        return db.scalars(select(Merchant.public_id).join(MerchantStaff).where(
            MerchantStaff.user_id == staff.id).order_by(Merchant.id)).first()


def test_merchant_sets_up_stores_slots_and_prices(walk, demo_server):
    database = demo_server[1]
    merchant = _merchant(database)
    page = walk.page
    capacity = "7" if walk.phone else "9"
    price = "13.20" if walk.phone else "13.50"

    walk.login("merchant")
    walk.goto(f"/console/merchant/{merchant}")
    page.locator("#stores-link").click()
    page.wait_for_url(re.compile(r"/stores$"))
    assert page.locator("tr[data-store]").count() == 2
    walk.step("stores")

    page.locator("tr[data-store] a").first.click()
    page.wait_for_url(re.compile(r"/stores/sto_"))
    assert page.locator("#zones tr[data-zone]").count() == 2
    walk.step("store")

    pickup = page.locator("#slots form.slot-rule:has(input[name=kind][value=pickup])")
    pickup.locator("input[name=slot_minutes]").fill("2")
    pickup.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("p.flash.error").is_visible()
    walk.step("slot-refused", refused=True)

    pickup = page.locator("#slots form.slot-rule:has(input[name=kind][value=pickup])")
    pickup.locator("input[name=slot_minutes]").fill("15")
    pickup.locator("input[name=capacity_orders]").fill(capacity)
    pickup.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"ok=slots"))
    walk.step("slot-saved")

    page.locator("main a[href$='/catalog']").first.click()
    page.wait_for_url(re.compile(r"/catalog$"))
    assert page.locator("tr[data-product]").count() == 20
    walk.step("catalog")

    page.locator("tr[data-product] a", has_text="洪山菜薹").click()
    page.wait_for_url(re.compile(r"/catalog/prd_"))
    sku = page.locator("#skus form[data-sku]").first
    sku.locator("input[name=price]").fill(price)
    sku.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"ok=saved"))
    walk.step("price-saved")

    with database.unit_of_work() as db:
        assert db.scalar(select(Sku.price_fen).where(Sku.code == "G002")) == int(
            price.replace(".", ""))
        rule = db.scalar(select(SlotRule).join(Store).where(
            SlotRule.kind == Kind.PICKUP, Store.name == "城东鲜果店·徐东店"))
        assert rule.capacity_orders == int(capacity)
