"""Categories: public list; only operators create, rename and mark them urgent."""

from __future__ import annotations

from townsquare.core import audit


def test_anyone_lists_categories_in_code_order(client, world):
    response = client.get("/api/categories")
    assert response.status_code == 200
    assert [c["code"] for c in response.json()] == ["food", "locksmith"]
    assert response.json()[1] == {
        "code": "locksmith",
        "name_zh": "开锁",
        "name_en": "Locksmith",
        "urgent": True,
    }


def test_operator_creates_renames_and_marks_urgent(client, world, token_for, database):
    headers = token_for(world.operator)
    created = client.post(
        "/api/categories",
        headers=headers,
        json={"code": "pharmacy", "name_zh": "药店", "name_en": "Pharmacy"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["urgent"] is False

    renamed = client.patch(
        "/api/categories/pharmacy", headers=headers, json={"name_en": "Pharmacies", "urgent": True}
    )
    assert renamed.status_code == 200
    assert renamed.json() == {
        "code": "pharmacy",
        "name_zh": "药店",
        "name_en": "Pharmacies",
        "urgent": True,
    }
    with database.unit_of_work() as db:
        actions = [
            e.action for e in audit.history(db, subject_type="category", subject_id="pharmacy")
        ]
    assert actions == ["category.create", "category.rename", "category.urgent"]


def test_only_operators_change_categories(client, world, token_for):
    for user in (world.resident, world.owner_a, world.isv_p):
        headers = token_for(user)
        assert (
            client.post(
                "/api/categories",
                headers=headers,
                json={"code": "spa", "name_zh": "水疗", "name_en": "Spa"},
            ).status_code
            == 403
        )
        for body in ({"urgent": False}, {"name_zh": "吃"}, {}):
            assert (
                client.patch("/api/categories/locksmith", headers=headers, json=body).status_code
                == 403
            )
    assert client.get("/api/categories").json()[1]["urgent"] is True
    assert (
        client.post(
            "/api/categories", json={"code": "spa", "name_zh": "水疗", "name_en": "Spa"}
        ).status_code
        == 401
    )


def test_category_validation_and_conflicts(client, world, token_for):
    headers = token_for(world.operator)
    duplicate = client.post(
        "/api/categories",
        headers=headers,
        json={"code": "food", "name_zh": "美食2", "name_en": "Food 2"},
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["code"] == "conflict"
    for bad in (
        {"code": "Food!", "name_zh": "x", "name_en": "x"},
        {"code": "ok_code", "name_zh": "", "name_en": "x"},
        {"code": "ok_code", "name_zh": "   ", "name_en": "x"},
        {"code": "ok_code", "name_zh": "x" * 33, "name_en": "x"},
    ):
        assert client.post("/api/categories", headers=headers, json=bad).status_code == 422, bad
    assert (
        client.patch("/api/categories/nope", headers=headers, json={"urgent": True}).status_code
        == 404
    )
    assert len(client.get("/api/categories").json()) == 2
