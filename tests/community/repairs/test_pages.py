"""Repair pages through HTTP: the resident reports with a photo, the property manager assigns,
the technician's phone page moves the ticket to a charge, the resident is sent to the cashier,
confirms and rates; the committee sees the figures with a chart; nobody sees another
household's ticket or photo."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.community.repairs import world as w
from tests.miniapps.shell_data import browser_login
from tests.ordering.orders.world import PIN
from townsquare.accounts.models import User
from townsquare.community.repairs.models import RepairTicket, Status
from townsquare.payments.wallet import paying


@pytest.fixture
def world(database, settings, make_user):
    return w.build(database, settings, make_user)


def _ticket(database) -> RepairTicket:
    with database.unit_of_work() as db:
        ticket = db.scalars(select(RepairTicket)).one()
        db.expunge(ticket)
        return ticket


def test_a_repair_through_the_pages(client, database, settings, world):
    csrf = browser_login(client, world.head)
    home = client.get(f"/community/{world.com}")
    assert 'id="repairs-link"' in home.text
    form = client.get(f"/community/{world.com}/repairs")
    key = re.search(r'name="key" value="([^"]+)"', form.text).group(1)
    bad = client.post(f"/community/{world.com}/repairs", data={
        "csrf_token": csrf, "key": key, "category": "plumbing", "place": "room",
        "location": "厨房", "description": "漏水"},
        files=[("photo", ("x.jpg", b"not a picture", "image/jpeg"))])
    assert bad.status_code == 422 and "JPEG" in bad.text and "漏水" in bad.text
    sent = client.post(f"/community/{world.com}/repairs", data={
        "csrf_token": csrf, "key": key, "category": "plumbing", "place": "room",
        "location": "厨房水槽下", "description": "水管漏水"},
        files=[("photo", ("leak.jpg", w.jpeg(), "image/jpeg"))])
    assert sent.status_code == 200 and 'data-status="reported"' in sent.text
    ticket = _ticket(database)
    assert len(ticket.photos) == 1
    photo = f"/community/repairs/photos/{ticket.photos[0].public_id}.thumb.jpg"
    assert client.get(photo).headers["content-type"] == "image/jpeg"

    # the neighbour sees neither the ticket nor its photo
    browser_login(client, world.neighbour)
    assert client.get(f"/community/{world.com}/repairs/{ticket.public_id}").status_code == 404
    assert client.get(photo).status_code == 404
    assert ticket.public_id not in client.get(f"/community/{world.com}/repairs").text

    csrf = browser_login(client, world.manager)
    console = client.get(f"/community/{world.com}/manage/repairs")
    assert console.status_code == 200 and ticket.public_id in console.text
    refused = client.post(f"/community/{world.com}/manage/repairs-targets", data={
        "csrf_token": csrf, "respond_minutes": "1", "complete_hours": "24",
        "auto_confirm_days": "3"})
    assert refused.status_code == 422
    assigned = client.post(
        f"/community/{world.com}/manage/repairs/{ticket.public_id}/assign",
        data={"csrf_token": csrf, "technician": "tech"})
    assert assigned.status_code == 200 and "已分派" in assigned.text

    csrf = browser_login(client, world.technician)
    assert "/community/repairs/work" in client.get("/community/staff").text
    work = client.get("/community/repairs/work")
    assert ticket.public_id in work.text
    for step in ("accept", "on_the_way", "start"):
        answer = client.post(f"/community/repairs/work/{ticket.public_id}/{step}",
                             data={"csrf_token": csrf})
        assert answer.status_code == 200, step
    wrong = client.post(f"/community/repairs/work/{ticket.public_id}/finish",
                        data={"csrf_token": csrf, "price": "8.123"})
    assert wrong.status_code == 422
    done = client.post(f"/community/repairs/work/{ticket.public_id}/finish",
                       data={"csrf_token": csrf, "price": "80", "note": "换了阀门"})
    assert 'data-status="awaiting_payment"' in done.text
    again = client.post(f"/community/repairs/work/{ticket.public_id}/start",
                        data={"csrf_token": csrf})
    assert again.status_code == 409

    csrf = browser_login(client, world.spouse)  # any member of the household pays
    page = client.get(f"/community/{world.com}/repairs/{ticket.public_id}")
    assert 'id="repair-pay"' in page.text and "¥80.00" in page.text
    to_cashier = client.post(f"/community/{world.com}/repairs/{ticket.public_id}/pay",
                             data={"csrf_token": csrf}, follow_redirects=False)
    assert to_cashier.status_code == 303 and to_cashier.headers["location"].startswith("/cashier/")
    trade_no = to_cashier.headers["location"].rsplit("/", 1)[1]
    assert client.get(f"/cashier/{trade_no}").status_code == 200
    with database.unit_of_work() as db:
        paying.pay_trade(db, settings=settings, actor=db.get_one(User, world.spouse.id),
                         trade_no=trade_no, method=paying.WALLET, payment_pin=PIN)
    page = client.get(f"/community/{world.com}/repairs/{ticket.public_id}")
    assert 'data-status="done"' in page.text
    confirmed = client.post(f"/community/{world.com}/repairs/{ticket.public_id}/confirm",
                            data={"csrf_token": csrf})
    assert 'data-status="confirmed"' in confirmed.text
    rated = client.post(f"/community/{world.com}/repairs/{ticket.public_id}/rate",
                        data={"csrf_token": csrf, "stars": "5", "comment": "及时"})
    assert "★★★★★" in rated.text
    assert _ticket(database).status == Status.CONFIRMED

    browser_login(client, world.committee)
    figures = client.get("/community/committee/repairs")
    assert figures.status_code == 200 and 'id="repair-chart"' in figures.text
    row = re.search(rf'<tr data-community="{world.com}">(.*?)</tr>', figures.text, re.S).group(1)
    assert re.findall(r'<td class="num">([^<]*)</td>', row)[:4] == ["1", "0", "1", "0"]
    assert client.get(f"/community/{world.com}/manage/repairs").status_code == 200


def test_roles_are_kept_to_their_pages(client, database, settings, world):
    rep = w.report(database, world)
    browser_login(client, world.head)
    assert client.get(f"/community/{world.com}/manage/repairs").status_code == 403
    assert client.get(f"/community/repairs/work/{rep}").status_code == 404
    assert client.get("/community/committee/repairs").status_code == 200  # empty for them
    browser_login(client, world.other_technician)  # not assigned
    assert client.get(f"/community/repairs/work/{rep}").status_code == 404
    assert rep not in client.get("/community/repairs/work").text
    csrf = browser_login(client, world.committee)
    answer = client.post(f"/community/{world.com}/manage/repairs/{rep}/assign",
                         data={"csrf_token": csrf, "technician": "tech"})
    assert answer.status_code == 403  # the committee watches, the property assigns
