"""Merchants: opening (by an operator or self-registration), profile edits and staff."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from townsquare.accounts.models import Role, User
from townsquare.core import audit
from townsquare.core.errors import ValidationFailed
from townsquare.merchants import service
from townsquare.merchants.models import Merchant, MerchantStaff


def _body(**overrides):
    return {"name": "Carol Tea", "category": "food", "cities": ["武汉"], **overrides}


def test_operator_opens_a_merchant_for_an_owner(client, world, token_for, make_user, database):
    carol = make_user(username="carol")
    response = client.post(
        "/api/merchants",
        headers=token_for(world.operator),
        json=_body(owner_username="carol", cities=[" 武汉 ", "北京", "武汉"], description="茶"),
    )
    assert response.status_code == 201, response.text
    merchant = response.json()
    assert merchant["id"].startswith("mer_")
    assert merchant["cities"] == ["武汉", "北京"]  # trimmed, duplicates dropped
    assert merchant["category"]["code"] == "food"
    assert merchant["certified_brand"] is None

    with database.unit_of_work() as db:
        owner = db.get(User, carol.id)
        assert owner.has_role(Role.MERCHANT_STAFF)
        row = db.scalar(select(MerchantStaff).where(MerchantStaff.user_id == carol.id))
        assert row.is_owner
        entries = audit.history(db, subject_type="merchant", subject_id=merchant["id"])
        assert [e.action for e in entries] == ["merchant.create"]
        assert entries[0].actor_id == world.operator.id
    mine = client.get("/api/merchants/mine", headers=token_for(carol)).json()
    assert [m["id"] for m in mine] == [merchant["id"]]


def test_a_user_registers_their_own_merchant(client, world, token_for, database):
    headers = token_for(world.resident)
    response = client.post("/api/merchants", headers=headers, json=_body())
    assert response.status_code == 201, response.text
    with database.unit_of_work() as db:
        assert db.get(User, world.resident.id).has_role(Role.MERCHANT_STAFF)
    staff = client.get(f"/api/merchants/{response.json()['id']}/staff", headers=headers).json()
    assert staff == [
        {
            "user_id": world.resident.public_id,
            "username": "resident",
            "display_name": world.resident.display_name,
            "is_owner": True,
        }
    ]


def test_only_operators_open_merchants_for_others(client, world, token_for):
    response = client.post(
        "/api/merchants", headers=token_for(world.owner_a), json=_body(owner_username="resident")
    )
    assert response.status_code == 403
    assert client.get("/api/merchants/mine", headers=token_for(world.resident)).json() == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"name": "   "},
        {"name": "x" * 65},
        {"cities": []},
        {"cities": [" "]},
        {"cities": [f"城市{i}" for i in range(21)]},
        {"cities": ["a\x00b"]},
        {"category": "nope"},
        {"description": "x" * 2001},
        {"description": "bell\x07"},
    ],
)
def test_merchant_validation_writes_nothing(client, world, token_for, database, overrides):
    response = client.post(
        "/api/merchants", headers=token_for(world.resident), json=_body(**overrides)
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid"
    with database.unit_of_work() as db:
        assert db.scalar(select(func.count()).select_from(Merchant)) == 2


def test_service_validates_before_touching_anything(database, world):
    with database.unit_of_work() as db, pytest.raises(ValidationFailed) as caught:
        service.register_merchant(
            db,
            actor=db.get(User, world.resident.id),
            name="Ok",
            category_code="food",
            cities=["武汉"] * 3 + [""],
        )
    assert caught.value.params["field"] == "cities"
    with database.unit_of_work() as db:
        assert not db.get(User, world.resident.id).has_role(Role.MERCHANT_STAFF)


def test_staff_edit_the_profile(client, world, token_for, database):
    headers = token_for(world.owner_a)
    response = client.patch(
        f"/api/merchants/{world.merchant_a}",
        headers=headers,
        json={"description": "手工拉面", "cities": ["武汉", "孝感"]},
    )
    assert response.status_code == 200
    assert response.json()["description"] == "手工拉面"
    assert client.get(f"/api/merchants/{world.merchant_a}", headers=headers).json()["cities"] == [
        "武汉",
        "孝感",
    ]
    assert (
        client.patch(
            f"/api/merchants/{world.merchant_a}", headers=headers, json={"cities": [""]}
        ).status_code
        == 422
    )
    with database.unit_of_work() as db:
        assert db.scalar(select(Merchant.cities).where(Merchant.public_id == world.merchant_a)) == [
            "武汉",
            "孝感",
        ]
        actions = [
            e.action
            for e in audit.history(db, subject_type="merchant", subject_id=world.merchant_a)
        ]
    assert actions[-1] == "merchant.update"


def test_owner_adds_and_removes_staff(client, world, token_for, make_user, database):
    dave = make_user(username="dave")
    owner = token_for(world.owner_a)
    added = client.post(
        f"/api/merchants/{world.merchant_a}/staff", headers=owner, json={"username": "dave"}
    )
    assert added.status_code == 201, added.text
    assert added.json()["is_owner"] is False
    assert (
        client.post(
            f"/api/merchants/{world.merchant_a}/staff", headers=owner, json={"username": "dave"}
        ).status_code
        == 409
    )
    assert (
        client.post(
            f"/api/merchants/{world.merchant_a}/staff",
            headers=owner,
            json={"username": "nobody_here"},
        ).status_code
        == 404
    )

    staff = token_for(dave)
    assert client.get(f"/api/merchants/{world.merchant_a}", headers=staff).status_code == 200
    assert [m["id"] for m in client.get("/api/merchants/mine", headers=staff).json()] == [
        world.merchant_a
    ]
    # plain staff may work for the merchant but not manage its staff
    assert (
        client.post(
            f"/api/merchants/{world.merchant_a}/staff", headers=staff, json={"username": "resident"}
        ).status_code
        == 403
    )
    assert (
        client.delete(
            f"/api/merchants/{world.merchant_a}/staff/{world.owner_a.public_id}", headers=owner
        ).status_code
        == 422
    )

    assert (
        client.delete(
            f"/api/merchants/{world.merchant_a}/staff/{dave.public_id}", headers=owner
        ).status_code
        == 204
    )
    assert client.get(f"/api/merchants/{world.merchant_a}", headers=staff).status_code == 403
    assert (
        client.delete(
            f"/api/merchants/{world.merchant_a}/staff/{dave.public_id}", headers=owner
        ).status_code
        == 404
    )
    with database.unit_of_work() as db:
        actions = [
            e.action
            for e in audit.history(db, subject_type="merchant", subject_id=world.merchant_a)
        ]
    assert actions[-2:] == ["merchant.staff_add", "merchant.staff_remove"]


def test_operators_list_all_merchants(client, world, token_for):
    listed = client.get("/api/merchants", headers=token_for(world.operator))
    assert listed.status_code == 200
    assert {m["id"] for m in listed.json()} == {world.merchant_a, world.merchant_b}
    assert client.get("/api/merchants", headers=token_for(world.owner_a)).status_code == 403
