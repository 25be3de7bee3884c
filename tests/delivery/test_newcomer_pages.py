"""What a newcomer missed on the rider page: by when each delivery is due (a delivery scheduled
for tomorrow 07:00 was offered at night with no time on it, and was delivered at once)."""

from __future__ import annotations

from tests.delivery.conftest import book, make_rider, request
from tests.merchants.conftest import login
from townsquare.core.i18n import format_datetime
from townsquare.delivery import service


def test_the_rider_sees_when_each_delivery_is_due(client, database, settings, shop, fleet):
    make_rider(database, shop)
    dlv = request(database, shop, settings=settings, promised_in=60)
    assert book(database, fleet, dlv, settings).provider == "self"
    with database.unit_of_work() as db:
        due = format_datetime(service.by_public_id(db, dlv).promised_by, settings.timezone,
                              "short")
    login(client, shop.rider_user)
    offered = client.get("/rider").text
    assert f'<p class="deliver-by">请于 {due} 前送达</p>' in offered
