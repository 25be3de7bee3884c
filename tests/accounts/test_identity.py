from datetime import date

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from townsquare.accounts.identity import (
    id_check_char,
    is_valid_id_number,
    is_valid_phone,
    mask_id_number,
)
from townsquare.accounts.models import Identity, Role

FIRST17 = "11010519491231002"
VALID_ID = FIRST17 + id_check_char(FIRST17)  # the GB 11643 sample number: 11010519491231002X


def test_known_checksum():
    assert VALID_ID == "11010519491231002X"
    assert is_valid_id_number(VALID_ID)
    assert is_valid_id_number(VALID_ID.lower())


@given(st.integers(0, 9), st.integers(0, 16))
def test_any_single_digit_change_breaks_the_checksum(new_digit, position):
    changed = VALID_ID[:position] + str(new_digit) + VALID_ID[position + 1 :]
    if changed != VALID_ID:
        assert not is_valid_id_number(changed)


def test_rejects_impossible_dates_and_shapes():
    bad_date = "11010519490231002"  # 31 February
    assert not is_valid_id_number(bad_date + id_check_char(bad_date))
    future = "110105" + "21000101" + "002"
    assert not is_valid_id_number(future + id_check_char(future), today=date(2026, 1, 1))
    assert not is_valid_id_number("12345")
    assert not is_valid_id_number(VALID_ID[:9] + "\n" + VALID_ID[9:])


def test_phone_and_mask():
    assert is_valid_phone("13812345678")
    assert not is_valid_phone("12812345678")
    assert not is_valid_phone("138123\n45678")
    assert mask_id_number(VALID_ID) == "110***********002X"


def _verify(client, headers, id_number=VALID_ID, name="张三", phone="13812345678"):
    return client.post(
        "/api/me/identity",
        json={"real_name": name, "id_number": id_number, "phone": phone},
        headers=headers,
    )


def test_verification_stores_only_digest_and_mask(client, make_user, token_for, database):
    user = make_user(Role.RESIDENT)
    response = _verify(client, token_for(user))
    assert response.status_code == 200, response.text
    identity = response.json()["identity"]
    assert identity["id_masked"] == "110***********002X"
    assert identity["phone_masked"] == "138****5678"
    with database.unit_of_work() as db:
        stored = db.scalar(select(Identity))
        row = " ".join(str(v) for v in vars(stored).values())
    assert VALID_ID not in row and FIRST17 not in row


def test_second_account_cannot_claim_a_verified_id(client, make_user, token_for, database):
    first, second = make_user(), make_user()
    assert _verify(client, token_for(first)).status_code == 200
    taken = _verify(client, token_for(second), name="李四")
    assert taken.status_code == 409
    assert taken.json()["error"]["code"] == "conflict"
    with database.unit_of_work() as db:
        assert len(db.scalars(select(Identity)).all()) == 1


def test_invalid_input_is_rejected_without_change(client, make_user, token_for, database):
    headers = token_for(make_user())
    for bad in (
        {"id_number": "11010519491231002A"},
        {"phone": "1234"},
        {"name": "x"},
        {"name": "张\x00三"},
    ):
        response = _verify(client, headers, **bad)
        assert response.status_code == 422, bad
        assert response.json()["error"]["message"]
    with database.unit_of_work() as db:
        assert db.scalar(select(Identity)) is None
