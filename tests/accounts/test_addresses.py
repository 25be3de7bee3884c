"""The address book: only its owner sees or changes an entry, the first is the default, a known
place gives the location, typed coordinates are checked, bad input changes nothing; the page
shows each problem beside its field and returns to the checkout that sent the resident."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from townsquare.accounts import addresses, places
from townsquare.accounts.models import Address, User
from townsquare.core.errors import TownsquareError


def login(client, user) -> None:
    client.cookies.clear()
    response = client.post("/login", data={"username": user.username, "password": PASSWORD},
                           follow_redirects=False)
    assert response.status_code == 303, response.text


def csrf(text: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', text).group(1)


def _count(database) -> int:
    with database.unit_of_work() as db:
        return db.scalar(select(func.count()).select_from(Address)) or 0


def test_a_known_place_gives_the_location_and_the_first_address_is_the_default(
        database, make_user):
    resident = make_user()
    with database.unit_of_work() as db:
        user = db.get(User, resident.id)
        home = addresses.save(db, actor=user, name="王芳", phone="13800138000",
                              place_key="wh-xudong", detail="3 栋 2 单元 501", label="家")
        work = addresses.save(db, actor=user, name="王芳", phone="138 0013 8001",
                              text="中北路 1 号", lat="30.5640", lng="114.34")
        assert home.is_default and not work.is_default
        xudong = places.place("wh-xudong")
        assert (home.lat, home.lng, home.text) == (xudong.lat, xudong.lng, xudong.address)
        assert home.full_text.endswith("3 栋 2 单元 501")
        assert work.phone == "13800138001" and (work.lat, work.lng) == (30.564, 114.34)
        addresses.make_default(db, actor=user, address_id=work.public_id)
        assert [a.public_id for a in addresses.mine(db, actor=user)] == [
            work.public_id, home.public_id]
        assert addresses.snapshot(work) == {
            "label": "", "name": "王芳", "phone": "13800138001", "text": "中北路 1 号",
            "lat": 30.564, "lng": 114.34}
        addresses.delete(db, actor=user, address_id=work.public_id)
        assert addresses.mine(db, actor=user)[0].is_default  # the rest gets a default


@pytest.mark.parametrize(("fields", "field"), [
    ({"name": ""}, "name"),
    ({"phone": "12345"}, "phone"),
    ({"place_key": "nowhere"}, "place"),
    ({"place_key": "", "text": "", "lat": "30.5", "lng": "114.3"}, "text"),
    ({"place_key": "", "text": "某路 1 号", "lat": "91", "lng": "114.3"}, "lat"),
    ({"place_key": "", "text": "某路 1 号", "lat": "30.5", "lng": "东经114"}, "lng"),
    ({"place_key": "", "text": "某路 1 号", "lat": "nan", "lng": "114"}, "lat"),
    ({"detail": "x" * 81}, "detail"),
    ({"label": "很长的标签" * 4}, "label"),
])
def test_bad_input_is_refused_beside_its_field_and_stores_nothing(database, make_user, fields,
                                                                  field):
    resident = make_user()
    good = {"name": "王芳", "phone": "13800138000", "place_key": "wh-xudong", "detail": "501"}
    with database.unit_of_work() as db, pytest.raises(TownsquareError) as caught:
        addresses.save(db, actor=db.get(User, resident.id), **{**good, **fields})
    assert caught.value.params.get("field") == field
    assert _count(database) == 0


def test_someone_elses_address_is_not_found_and_the_book_has_a_limit(database, make_user):
    owner, other = make_user(), make_user()
    with database.unit_of_work() as db:
        mine = addresses.save(db, actor=db.get(User, owner.id), name="甲", phone="13800138000",
                              place_key="wh-xudong")
        for n in range(addresses.MAX_ADDRESSES - 1):
            addresses.save(db, actor=db.get(User, owner.id), name=f"甲{n}",
                           phone="13800138000", place_key="wh-shahu")
        public_id = mine.public_id
    with database.unit_of_work() as db:
        intruder = db.get(User, other.id)
        for call in (lambda: addresses.get(db, actor=intruder, address_id=public_id),
                     lambda: addresses.delete(db, actor=intruder, address_id=public_id),
                     lambda: addresses.save(db, actor=intruder, address_id=public_id,
                                            name="乙", phone="13800138000",
                                            place_key="wh-xudong")):
            with pytest.raises(addresses.AddressNotFound):
                call()
        with pytest.raises(addresses.TooManyAddresses):
            addresses.save(db, actor=db.get(User, owner.id), name="甲", phone="13800138000",
                           place_key="wh-xudong")
    assert _count(database) == addresses.MAX_ADDRESSES


def test_the_page_adds_edits_and_deletes_and_shows_problems(client, database, make_user):
    resident = make_user()
    login(client, resident)
    page = client.get("/me/addresses?lang=zh-CN")
    assert page.status_code == 200 and 'id="no-addresses"' in page.text
    assert "徐东小区" in page.text  # the known places are offered
    token = csrf(page.text)
    form = {"csrf_token": token, "name": "王芳", "phone": "1380013", "place": "wh-xudong",
            "detail": "3 栋 501", "label": "家"}
    refused = client.post("/me/addresses", data=form)
    assert refused.status_code == 422
    assert "不是有效的手机号" in refused.text or "手机号" in refused.text
    assert 'value="王芳"' in refused.text  # what was typed stays
    assert _count(database) == 0
    saved = client.post("/me/addresses", data={**form, "phone": "13800138000"},
                        follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == "/me/addresses?ok=saved"
    with database.unit_of_work() as db:
        address = db.scalar(select(Address))
        public_id = address.public_id
        assert address.is_default and address.detail == "3 栋 501"
    edit = client.get(f"/me/addresses?edit={public_id}")
    assert 'value="3 栋 501"' in edit.text and f'value="{public_id}"' in edit.text
    # typed coordinates, sent back to the checkout that asked
    moved = client.post("/me/addresses", data={
        "csrf_token": token, "address_id": public_id, "name": "王芳", "phone": "13800138000",
        "place": "", "text": "中北路 166 号", "lat": "30.564", "lng": "114.34", "detail": "",
        "next": "/shop/ma_x/checkout?kind=delivery"}, follow_redirects=False)
    assert moved.headers["location"] == f"/shop/ma_x/checkout?kind=delivery&address={public_id}"
    outside = client.post("/me/addresses", data={
        "csrf_token": token, "name": "王芳", "phone": "13800138000", "place": "",
        "text": "某路", "lat": "300", "lng": "114", "next": "https://evil.example/"})
    assert outside.status_code == 422 and 'aria-invalid="true"' in outside.text
    gone = client.post(f"/me/addresses/{public_id}/delete", data={"csrf_token": token},
                       follow_redirects=False)
    assert gone.status_code == 303
    assert _count(database) == 0
    missing = client.post(f"/me/addresses/{public_id}/default", data={"csrf_token": token})
    assert missing.status_code == 404


def test_the_page_needs_a_login_and_its_forms_the_csrf_token(client, make_user):
    assert client.get("/me/addresses", follow_redirects=False).status_code in (303, 401)
    login(client, make_user())
    response = client.post("/me/addresses", data={"name": "王芳", "phone": "13800138000",
                                                   "place": "wh-xudong"})
    assert response.status_code == 403
