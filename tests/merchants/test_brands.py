"""Brand certification: apply, approve, reject, revoke; one certified holder per name."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from townsquare.accounts.models import User
from townsquare.core import audit
from townsquare.core.errors import Conflict, ValidationFailed
from townsquare.merchants import brands
from townsquare.merchants.models import Brand, BrandStatus


def _apply(client, headers, merchant_id, name="Luckin"):
    return client.post(
        f"/api/merchants/{merchant_id}/brands",
        headers=headers,
        json={"name": name, "evidence": "商标注册号 12345678"},
    )


def test_apply_approve_and_badge(client, world, token_for, database):
    owner, operator = token_for(world.owner_a), token_for(world.operator)
    applied = _apply(client, owner, world.merchant_a)
    assert applied.status_code == 201, applied.text
    brand = applied.json()
    assert brand["status"] == "pending" and brand["merchant_id"] == world.merchant_a

    queue = client.get("/api/brands", headers=operator).json()
    assert [b["id"] for b in queue] == [brand["id"]]
    approved = client.post(f"/api/brands/{brand['id']}/approve", headers=operator, json={})
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "certified"
    assert approved.json()["decided_at"] is not None
    assert (
        client.get(f"/api/merchants/{world.merchant_a}", headers=owner).json()["certified_brand"]
        == "Luckin"
    )
    assert client.get("/api/brands", headers=operator).json() == []
    certified = client.get("/api/brands?status=certified", headers=operator).json()
    assert [b["id"] for b in certified] == [brand["id"]]
    with database.unit_of_work() as db:
        entries = audit.history(db, subject_type="brand", subject_id=brand["id"])
        assert [e.action for e in entries] == ["brand.apply", "brand.approve"]
        assert entries[1].actor_id == world.operator.id


def test_no_second_application_while_pending_or_certified(client, world, token_for):
    owner = token_for(world.owner_a)
    first = _apply(client, owner, world.merchant_a).json()
    again = _apply(client, owner, world.merchant_a, name="  LUCKIN ")
    assert again.status_code == 409
    client.post(f"/api/brands/{first['id']}/approve", headers=token_for(world.operator))
    assert _apply(client, owner, world.merchant_a, name="luckin").status_code == 409
    # another merchant cannot even queue an application for a certified name
    assert _apply(client, token_for(world.owner_b), world.merchant_b, "LUCKIN").status_code == 409


def test_second_holder_of_a_name_is_a_conflict(client, world, token_for):
    operator = token_for(world.operator)
    a = _apply(client, token_for(world.owner_a), world.merchant_a, "Luckin").json()
    b = _apply(client, token_for(world.owner_b), world.merchant_b, "LUCKIN").json()
    assert client.post(f"/api/brands/{a['id']}/approve", headers=operator).status_code == 200
    refused = client.post(f"/api/brands/{b['id']}/approve", headers=operator)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "conflict"
    pending = client.get("/api/brands", headers=operator).json()
    assert [x["id"] for x in pending] == [b["id"]]  # untouched, still pending

    # once A's certificate is revoked, B may hold the name
    revoked = client.post(
        f"/api/brands/{a['id']}/revoke", headers=operator, json={"reason": "商标争议"}
    )
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked" and revoked.json()["reason"] == "商标争议"
    assert (
        client.get(f"/api/merchants/{world.merchant_a}", headers=token_for(world.owner_a)).json()[
            "certified_brand"
        ]
        is None
    )
    assert client.post(f"/api/brands/{b['id']}/approve", headers=operator).status_code == 200


def test_reject_needs_a_reason_which_the_merchant_sees(client, world, token_for, database):
    operator, owner = token_for(world.operator), token_for(world.owner_a)
    brand = _apply(client, owner, world.merchant_a).json()
    assert (
        client.post(
            f"/api/brands/{brand['id']}/reject", headers=operator, json={"reason": ""}
        ).status_code
        == 422
    )
    assert (
        client.post(
            f"/api/brands/{brand['id']}/reject", headers=operator, json={"reason": "  \n "}
        ).status_code
        == 422
    )
    assert (
        client.post(f"/api/brands/{brand['id']}/reject", headers=operator, json={}).status_code
        == 422
    )
    rejected = client.post(
        f"/api/brands/{brand['id']}/reject", headers=operator, json={"reason": "证明材料不全"}
    )
    assert rejected.status_code == 200
    mine = client.get(f"/api/merchants/{world.merchant_a}/brands", headers=owner).json()
    assert [(b["status"], b["reason"]) for b in mine] == [("rejected", "证明材料不全")]
    # decided applications cannot be decided again; the merchant may apply anew
    assert client.post(f"/api/brands/{brand['id']}/approve", headers=operator).status_code == 409
    assert (
        client.post(
            f"/api/brands/{brand['id']}/revoke", headers=operator, json={"reason": "x"}
        ).status_code
        == 409
    )
    assert _apply(client, owner, world.merchant_a).status_code == 201
    with database.unit_of_work() as db:
        entry = audit.history(db, subject_type="brand", subject_id=brand["id"])[-1]
        assert entry.action == "brand.reject" and entry.detail["reason"] == "证明材料不全"


def test_who_may_apply_and_decide(client, world, token_for):
    brand = _apply(client, token_for(world.owner_a), world.merchant_a).json()
    for user in (world.resident, world.owner_b, world.isv_p, world.isv_q, world.operator):
        assert _apply(client, token_for(user), world.merchant_a).status_code == 403, user.username
    for user in (world.resident, world.owner_a, world.isv_p):
        headers = token_for(user)
        assert client.post(f"/api/brands/{brand['id']}/approve", headers=headers).status_code == 403
        assert (
            client.post(
                f"/api/brands/{brand['id']}/reject", headers=headers, json={"reason": "no"}
            ).status_code
            == 403
        )
        assert client.get("/api/brands", headers=headers).status_code == 403
    # the authorized provider may read the merchant's brands, the others may not
    assert (
        client.get(
            f"/api/merchants/{world.merchant_a}/brands", headers=token_for(world.isv_p)
        ).status_code
        == 200
    )
    for user in (world.resident, world.owner_b, world.isv_q):
        assert (
            client.get(
                f"/api/merchants/{world.merchant_a}/brands", headers=token_for(user)
            ).status_code
            == 403
        )
    assert (
        client.post(
            "/api/brands/brd_doesnotexist/approve", headers=token_for(world.operator)
        ).status_code
        == 404
    )


def test_evidence_is_required(database, world):
    with database.unit_of_work() as db, pytest.raises(ValidationFailed):
        brands.apply(
            db,
            actor=db.get(User, world.owner_a.id),
            merchant_id=world.merchant_a,
            name="Luckin",
            evidence="   ",
        )


@pytest.mark.postgres_only
def test_rival_approvals_at_the_same_moment_certify_one(database, world):
    with database.unit_of_work() as db:
        ids = [
            brands.apply(db, actor=None, merchant_id=m, name=n, evidence="证明").public_id
            for m, n in ((world.merchant_a, "Luckin"), (world.merchant_b, "LUCKIN"))
        ]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def approve(brand_id: str) -> None:
        try:
            with database.unit_of_work() as db:
                operator = db.get(User, world.operator.id)
                barrier.wait()
                brands.approve(db, actor=operator, brand_id=brand_id)
            outcomes.append("certified")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=approve, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["certified", "conflict"]
    with database.unit_of_work() as db:
        statuses = sorted(db.scalars(select(Brand.status)))
    assert statuses == [BrandStatus.CERTIFIED, BrandStatus.PENDING]
