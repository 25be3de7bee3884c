"""Service providers and authorizations: grant, use, revoke, and the access that follows."""

from __future__ import annotations

from sqlalchemy import select

from townsquare.accounts.models import Role, User
from townsquare.core import audit
from townsquare.merchants import access, service
from townsquare.merchants.models import Authorization


def test_operator_opens_a_provider_with_its_first_staff(
    client, world, token_for, make_user, database
):
    erin = make_user(username="erin")
    operator = token_for(world.operator)
    created = client.post(
        "/api/providers",
        headers=operator,
        json={"name": "Elm ISV", "description": "小程序开发", "staff_username": "erin"},
    )
    assert created.status_code == 201, created.text
    provider = created.json()
    assert provider["id"].startswith("isv_")
    assert (
        client.post(
            "/api/providers", headers=operator, json={"name": "Elm ISV", "staff_username": "erin"}
        ).status_code
        == 409
    )
    assert (
        client.post(
            "/api/providers", headers=operator, json={"name": "Fir ISV", "staff_username": "ghost"}
        ).status_code
        == 404
    )
    assert (
        client.post(
            "/api/providers",
            headers=token_for(world.isv_p),
            json={"name": "Fir ISV", "staff_username": "pat"},
        ).status_code
        == 403
    )
    with database.unit_of_work() as db:
        assert db.get(User, erin.id).has_role(Role.ISV_STAFF)
    erin_headers = token_for(erin)
    assert [p["id"] for p in client.get("/api/providers/mine", headers=erin_headers).json()] == [
        provider["id"]
    ]
    directory = client.get("/api/providers", headers=erin_headers).json()
    assert [p["name"] for p in directory] == ["Elm ISV", "Pine ISV", "Quartz ISV"]


def test_provider_staff_add_colleagues(client, world, token_for, make_user, database):
    make_user(username="frank")
    pat = token_for(world.isv_p)
    added = client.post(
        f"/api/providers/{world.provider_p}/staff", headers=pat, json={"username": "frank"}
    )
    assert added.status_code == 201, added.text
    staff = client.get(f"/api/providers/{world.provider_p}/staff", headers=pat).json()
    assert [s["username"] for s in staff] == ["frank", "pat"]
    assert (
        client.post(
            f"/api/providers/{world.provider_p}/staff", headers=pat, json={"username": "frank"}
        ).status_code
        == 409
    )
    # staff of another provider, merchants and operators cannot look or add
    for user in (world.isv_q, world.owner_a, world.operator, world.resident):
        headers = token_for(user)
        assert (
            client.get(f"/api/providers/{world.provider_p}/staff", headers=headers).status_code
            == 403
        )
        assert (
            client.post(
                f"/api/providers/{world.provider_p}/staff",
                headers=headers,
                json={"username": "resident"},
            ).status_code
            == 403
        )
    with database.unit_of_work() as db:
        actions = [
            e.action
            for e in audit.history(db, subject_type="provider", subject_id=world.provider_p)
        ]
    assert actions == ["provider.create", "provider.staff_add"]


def test_authorized_provider_acts_until_revoked(client, world, token_for, database):
    owner, pat = token_for(world.owner_a), token_for(world.isv_p)
    merchant_url = f"/api/merchants/{world.merchant_a}"
    # authorized: Pine's staff read and edit the merchant, and see it in their list
    assert client.get(merchant_url, headers=pat).status_code == 200
    assert (
        client.patch(merchant_url, headers=pat, json={"description": "由服务商维护"}).status_code
        == 200
    )
    listed = client.get(f"/api/providers/{world.provider_p}/merchants", headers=pat).json()
    assert [m["id"] for m in listed] == [world.merchant_a]

    revoked = client.post(
        f"{merchant_url}/authorizations/{world.authorization_p}/revoke", headers=owner
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["active"] is False and revoked.json()["revoked_at"]

    # from now on: no reading, no changing, not listed
    assert client.get(merchant_url, headers=pat).status_code == 403
    assert (
        client.patch(merchant_url, headers=pat, json={"description": "偷偷改"}).status_code == 403
    )
    assert client.get(f"{merchant_url}/brands", headers=pat).status_code == 403
    assert client.get(f"/api/providers/{world.provider_p}/merchants", headers=pat).json() == []
    assert client.get(merchant_url, headers=owner).json()["description"] == "由服务商维护"
    with database.unit_of_work() as db:
        row = db.scalar(
            select(Authorization).where(Authorization.public_id == world.authorization_p)
        )
        assert row.revoked_by_id == world.owner_a.id  # the row is kept, with who and when
        merchant = service.merchant_by_public_id(db, public_id=world.merchant_a)
        assert not access.can_act_for(db, db.get(User, world.isv_p.id), merchant)
        actions = [
            e.action
            for e in audit.history(db, subject_type="merchant", subject_id=world.merchant_a)
        ]
        assert actions[-1] == "authorization.revoke"

    assert (
        client.post(
            f"{merchant_url}/authorizations/{world.authorization_p}/revoke", headers=owner
        ).status_code
        == 409
    )
    # granting again makes a new row; history keeps both
    regranted = client.post(
        f"{merchant_url}/authorizations", headers=owner, json={"provider_id": world.provider_p}
    )
    assert regranted.status_code == 201
    assert client.get(merchant_url, headers=pat).status_code == 200
    history = client.get(f"{merchant_url}/authorizations", headers=owner).json()
    assert [a["active"] for a in history] == [True, False]


def test_double_grant_is_a_conflict(client, world, token_for):
    owner = token_for(world.owner_a)
    url = f"/api/merchants/{world.merchant_a}/authorizations"
    again = client.post(url, headers=owner, json={"provider_id": world.provider_p})
    assert again.status_code == 409
    assert client.post(url, headers=owner, json={"provider_id": "isv_nope"}).status_code == 404
    assert (
        client.post(url, headers=owner, json={"provider_id": world.provider_q}).status_code == 201
    )
    assert len([a for a in client.get(url, headers=owner).json() if a["active"]]) == 2


def test_a_provider_cannot_manage_its_own_mandate(client, world, token_for):
    pat = token_for(world.isv_p)  # authorized by A, yet not A's staff
    base = f"/api/merchants/{world.merchant_a}"
    assert client.get(f"{base}/authorizations", headers=pat).status_code == 403
    assert (
        client.post(
            f"{base}/authorizations", headers=pat, json={"provider_id": world.provider_q}
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"{base}/authorizations/{world.authorization_p}/revoke", headers=pat
        ).status_code
        == 403
    )
    assert client.get(f"{base}/staff", headers=pat).status_code == 403
    assert client.post(f"{base}/staff", headers=pat, json={"username": "quinn"}).status_code == 403
