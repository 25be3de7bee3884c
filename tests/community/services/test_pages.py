"""The marketplace's pages through HTTP: the resident books a time and is sent to the cashier,
follows, rates and complains; the property manager approves an application with a commission,
adds the service and sees the commission in its statement; the merchant applies and sees the
commission its bookings paid; nobody else gets in."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.community import world as cw
from tests.community.services import world as w
from tests.miniapps.shell_data import browser_login
from tests.ordering.orders import world as ow
from townsquare.community.services.models import Admission, AdmissionStatus, BookingStatus


@pytest.fixture
def world(database, settings, make_user):
    return w.build(database, settings, make_user)


def test_merchant_applies_and_the_manager_admits_at_a_commission(client, database, world):
    csrf = browser_login(client, world.water_staff)
    mer = f"/console/merchant/{_mer(database, world)}/communities"
    assert client.get(mer).status_code == 200
    answer = client.post(mer, data={"csrf_token": csrf, "action": "apply", "community": world.com,
                                    "miniapp": world.water_app, "offer": "桶装水送货上门"})
    assert answer.status_code == 200 and "桶装水送货上门" in answer.text
    assert client.get(f"/community/{world.com}/manage/services").status_code == 403
    client.cookies.clear()
    csrf = browser_login(client, world.base.manager)
    with database.unit_of_work() as db:
        adm = db.scalar(select(Admission.public_id))
    page = f"/community/{world.com}/manage/services"
    bad = client.post(page, data={"csrf_token": csrf, "action": "approve", "target": adm,
                                  "commission": "31"})
    assert bad.status_code == 422
    ok = client.post(page, data={"csrf_token": csrf, "action": "approve", "target": adm,
                                 "commission": "8"})
    assert ok.status_code == 200 and "8%" in ok.text
    with database.unit_of_work() as db:
        row = db.scalar(select(Admission))
        assert (row.status, row.commission_bp) == (AdmissionStatus.APPROVED, 800)
    added = client.post(page, data={"csrf_token": csrf, "action": "add", "name": "桶装水",
                                    "price": "18.88", "store": world.water_store,
                                    "sku": world.water_sku, "admission": adm})
    assert added.status_code == 200 and "¥18.88" in added.text


def _mer(database, world) -> str:
    from townsquare.merchants.models import Merchant
    with database.unit_of_work() as db:
        return db.get_one(Merchant, world.water_merchant_id).public_id


def test_resident_books_pays_follows_rates_and_complains(client, database, settings, world):
    _, svc = w.admit(database, world, commission_bp=800)
    csrf = browser_login(client, world.resident)
    home = client.get(f"/community/{world.com}")
    assert 'id="services-link"' in home.text
    page = client.get(f"/community/{world.com}/services")
    assert page.status_code == 200 and "桶装水" in page.text and "¥18.88" in page.text
    slot = re.search(r'<option value="([^"]+)"', page.text).group(1)
    key = re.search(r'name="key" value="([^"]+)"', page.text).group(1)
    booked = client.post(f"/community/{world.com}/services/{svc}/book",
                         data={"csrf_token": csrf, "slot": slot, "key": key},
                         follow_redirects=False)
    assert booked.status_code == 303 and booked.headers["location"].startswith("/cashier/")
    trade_no = booked.headers["location"].rsplit("/", 1)[1]
    ow.pay(database, settings, world.resident, trade_no)
    mine = client.get(f"/community/{world.com}/services")
    svb = re.search(r"/services/bookings/(svb_\w+)", mine.text).group(1)
    follow = client.get(f"/community/{world.com}/services/bookings/{svb}")
    assert follow.status_code == 200 and "已支付" in follow.text
    with database.unit_of_work() as db:
        from townsquare.community.services import bookings
        bookings.advance(db, actor=None, community=cw.community(db, world.com), booking_id=svb,
                         to="done")
    rated = client.post(f"/community/{world.com}/services/bookings/{svb}",
                        data={"csrf_token": csrf, "action": "rate", "stars": "5"})
    assert rated.status_code == 200 and "★★★★★" in rated.text
    empty = client.post(f"/community/{world.com}/services/bookings/{svb}",
                        data={"csrf_token": csrf, "action": "complain", "category": "late",
                              "text": ""})
    assert empty.status_code == 422
    with database.unit_of_work() as db:
        assert w.booking(db, svb).status is BookingStatus.DONE
    # the property's statement shows the commission; another manager is kept out
    client.cookies.clear()
    browser_login(client, world.base.manager)
    statement = client.get(f"/community/{world.com}/manage/services")
    assert statement.status_code == 200
    assert "¥1.51" in statement.text.split('id="commission-balance"')[1].split("</p>")[0]
    client.cookies.clear()
    browser_login(client, world.base.other_manager)
    assert client.get(f"/community/{world.com}/manage/services").status_code == 403
    client.cookies.clear()
    browser_login(client, world.water_staff)
    merchant = client.get(f"/console/merchant/{_mer(database, world)}/communities")
    assert "¥1.51" in merchant.text.split('id="merchant-commission"')[1]


def test_an_outsider_sees_services_but_cannot_book(client, database, world):
    _, svc = w.admit(database, world)
    csrf = browser_login(client, world.base.outsider)
    page = client.get(f"/community/{world.com}/services")
    assert page.status_code == 200 and "<select" not in page.text
    refused = client.post(f"/community/{world.com}/services/{svc}/book",
                          data={"csrf_token": csrf, "slot": w.NOON.isoformat(), "key": "x"})
    assert refused.status_code == 403
