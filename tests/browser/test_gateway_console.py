"""The open-platform console in Chromium, on a phone and a desktop: the merchant enables the
gateway and makes a key pair; the page fits the screen and shows the app id and the keys.
Screenshots go to var/screenshots/."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD
from tests.miniapps.shell_data import make_miniapp
from townsquare.accounts.models import Role
from townsquare.merchants.models import Merchant, MerchantStaff

from .conftest import VIEWPORTS, login, screenshot

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_enable_and_generate_a_key(viewport, page, small_server, database, make_user):
    made = make_miniapp(database, name="鲜果时光")
    owner = make_user(Role.MERCHANT_STAFF, display_name="店长")
    with database.unit_of_work() as db:
        merchant = db.scalar(select(Merchant).where(Merchant.public_id == made.merchant_id))
        db.add(MerchantStaff(merchant_id=merchant.id, user_id=owner.id))
    page.set_viewport_size(VIEWPORTS[viewport])
    login(page, small_server, owner.username, PASSWORD)
    page.goto(f"{small_server}/console/miniapps/{made.id}")
    page.click("#gateway-link")
    page.click("#enable")
    page.wait_for_selector("#app-id")
    page.click("#generate")
    private = page.input_value("#private-key")
    assert len(private) > 1000
    screenshot(page, f"gateway-private-key-{viewport}")
    page.click("text=返回开放平台")
    assert page.locator("#keys tbody tr").count() == 1
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], "the page scrolls sideways"
    screenshot(page, f"gateway-console-{viewport}")
