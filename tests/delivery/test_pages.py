"""The rider page (accept, picked up, delivered with the resident's code; a wrong code changes
nothing), the merchant's delivery console (policy, riders, the log) and the resident's
tracking page (status, code, map), driven as a browser posts them."""

from __future__ import annotations

import re

from tests.delivery.conftest import book, make_rider, request
from tests.merchants.conftest import csrf, login
from townsquare.delivery import service
from townsquare.delivery.status import DeliveryStatus as S


def _post(client, path, data=None):
    token = csrf(client, "/me")
    return client.post(path, data={"csrf_token": token, **(data or {})},
                       follow_redirects=False)


def _status(database, dlv):
    with database.unit_of_work() as db:
        return service.by_public_id(db, dlv).status


def test_rider_completes_a_delivery_with_the_code(client, database, settings, shop, fleet):
    make_rider(database, shop)
    dlv = request(database, shop, settings=settings)
    assert book(database, fleet, dlv, settings).provider == "self"
    login(client, shop.resident)
    page = client.get(f"/delivery/{dlv}")
    code = re.search(r'id="dropoff-code">[^<]*<strong>(\d{6})</strong>', page.text).group(1)
    assert "<svg" in page.text and "http://" not in page.text.split("<svg", 1)[1].split(
        "</svg>")[0].replace('xmlns="http://www.w3.org/2000/svg"', "")

    login(client, shop.rider_user)
    rider = client.get("/rider")
    assert rider.status_code == 200 and dlv in rider.text and "接单" in rider.text
    assert _post(client, f"/rider/{dlv}/accept").status_code == 303
    assert _status(database, dlv) is S.ASSIGNED
    assert _post(client, f"/rider/{dlv}/step", {"step": "picked_up"}).status_code == 303
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    refused = _post(client, f"/rider/{dlv}/step", {"step": "delivered", "code": wrong})
    assert refused.status_code == 422 and "配送码" in refused.text
    assert _status(database, dlv) is S.PICKED_UP
    done = _post(client, f"/rider/{dlv}/step", {"step": "delivered", "code": code})
    assert done.status_code == 303
    assert _status(database, dlv) is S.DELIVERED

    login(client, shop.resident)
    live = client.get(f"/delivery/{dlv}/live")
    assert 'data-status="delivered"' in live.text and "hx-trigger" not in live.text


def test_rider_page_refuses_strangers_and_double_accepts(client, database, settings, shop,
                                                        fleet, make_user):
    login(client, shop.resident)
    assert client.get("/rider").status_code == 403
    make_rider(database, shop)
    dlv = request(database, shop, settings=settings)
    book(database, fleet, dlv, settings)
    login(client, shop.rider_user)
    assert _post(client, f"/rider/{dlv}/accept").status_code == 303
    again = _post(client, f"/rider/{dlv}/accept")
    assert again.status_code == 409
    # the resident's page is not for other residents
    other = make_user(username="stranger")
    login(client, other)
    assert client.get(f"/delivery/{dlv}").status_code == 404


def test_merchant_console_policy_riders_and_log(client, database, settings, shop, fleet):
    login(client, shop.owner)
    base = f"/console/merchant/{shop.merchant}/delivery"
    assert client.get(base).status_code == 200
    saved = _post(client, base + "/settings", {"policy": "fastest", "promise_minutes": "40",
                                               "self_first": "1", "providers": "",
                                               "self_fee": "3.50"})
    assert saved.status_code == 303
    refused = _post(client, base + "/settings", {"policy": "fastest", "promise_minutes": "5",
                                                 "self_fee": "1"})
    assert refused.status_code == 422
    with database.unit_of_work() as db:
        prefs = service.settings_for(db, shop.merchant_row)
        assert (prefs.policy.value, prefs.promise_minutes, prefs.self_fee_fen) == \
            ("fastest", 40, 350)
    assert _post(client, base + "/riders", {"username": "rider"}).status_code == 303
    assert _post(client, base + "/riders", {"username": "lili"}).status_code == 422
    dlv = request(database, shop, settings=settings)
    book(database, fleet, dlv, settings)  # the rider is off duty: the fastest courier
    detail = client.get(f"{base}/{dlv}")
    assert detail.status_code == 200 and "data-kind=\"decision\"" in detail.text
    listing = client.get(base)
    assert dlv in listing.text and "¥10.00" in listing.text
    cancelled = _post(client, f"{base}/{dlv}/cancel", {"reason": "顾客取消"})
    assert cancelled.status_code == 303 and _status(database, dlv) is S.CANCELLED
