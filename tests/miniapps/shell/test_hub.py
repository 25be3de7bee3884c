"""Service hub curation (services and JSON API): only operators curate, residents see only listed
mini-apps, every change is audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.miniapps.shell_data import make_miniapp, set_listed
from townsquare.accounts.models import Role
from townsquare.core.audit import AuditEntry
from townsquare.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from townsquare.miniapps.shell import hub


def _titles(client) -> list[str]:
    return [section["title_zh"] for section in client.get("/api/hub").json()["sections"]]


def _entries(client, index: int = 0) -> list[str]:
    return [entry["id"] for entry in client.get("/api/hub").json()["sections"][index]["entries"]]


@pytest.fixture
def operator(make_user, token_for):
    return token_for(make_user(Role.OPERATOR))


def test_operator_builds_and_orders_the_hub(client, database, operator):
    fresh = make_miniapp(database, name="生鲜到家", certified_brand="百果园")
    pharmacy = make_miniapp(database, name="药房到家")
    ids = []
    for zh, en, icon in (("生活服务", "Daily life", "🛒"), ("医疗健康", "Health", "🏥")):
        created = client.post(
            "/api/hub/sections", json={"title_zh": zh, "title_en": en, "icon": icon},
            headers=operator,
        )
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    assert _titles(client) == ["生活服务", "医疗健康"]

    for app in (fresh, pharmacy):
        added = client.post(
            f"/api/hub/sections/{ids[0]}/entries", json={"miniapp_id": app.id}, headers=operator
        )
        assert added.status_code == 201, added.text
    assert _entries(client) == [fresh.id, pharmacy.id]

    moved = client.post(
        f"/api/hub/sections/{ids[0]}/entries/{pharmacy.id}/move", json={"direction": "up"},
        headers=operator,
    )
    assert [e["miniapp_id"] for e in moved.json()["entries"]] == [pharmacy.id, fresh.id]
    assert _entries(client) == [pharmacy.id, fresh.id]

    client.post(f"/api/hub/sections/{ids[1]}/move", json={"direction": "up"}, headers=operator)
    assert _titles(client) == ["医疗健康", "生活服务"]
    # moving past either end changes nothing
    client.post(f"/api/hub/sections/{ids[1]}/move", json={"direction": "up"}, headers=operator)
    assert _titles(client) == ["医疗健康", "生活服务"]

    renamed = client.put(
        f"/api/hub/sections/{ids[0]}", json={"title_zh": "居家生活", "title_en": "Home"},
        headers=operator,
    )
    assert renamed.status_code == 200 and renamed.json()["icon"] == ""
    hub_json = client.get("/api/hub?lang=en").json()
    section = hub_json["sections"][1]
    assert section["title"] == "Home" and section["title_zh"] == "居家生活"
    entry = section["entries"][1]
    assert entry == {
        "id": fresh.id, "name": "生鲜到家", "icon": "🍎", "description": "社区生鲜配送",
        "category": {"code": "grocery", "name": "Groceries"}, "certified_brand": "百果园",
    }
    assert section["entries"][0]["certified_brand"] is None

    removed = client.delete(f"/api/hub/sections/{ids[0]}/entries/{pharmacy.id}", headers=operator)
    assert removed.status_code == 204
    assert _entries(client, 1) == [fresh.id]
    assert client.delete(f"/api/hub/sections/{ids[1]}", headers=operator).status_code == 204
    assert _titles(client) == ["居家生活"]

    with database.unit_of_work() as db:
        actions = list(db.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions == [
        "hub.section.create", "hub.section.create", "hub.entry.add", "hub.entry.add",
        "hub.entry.move", "hub.section.move", "hub.section.rename", "hub.entry.remove",
        "hub.section.delete",
    ]


def test_taken_down_miniapp_disappears_but_stays_curated(client, database, operator):
    app = make_miniapp(database)
    section = client.post(
        "/api/hub/sections", json={"title_zh": "生活", "title_en": "Life"}, headers=operator
    ).json()["id"]
    client.post(f"/api/hub/sections/{section}/entries", json={"miniapp_id": app.id},
                headers=operator)
    assert _entries(client) == [app.id]
    set_listed(database, app.id, False)
    assert _entries(client) == []
    curated = client.get("/api/hub/sections", headers=operator).json()
    assert curated[0]["entries"][0] == {
        "miniapp_id": app.id, "name": app.name, "listed": False, "position": 0
    }
    assert app.id not in client.get("/").text
    set_listed(database, app.id, True)
    assert _entries(client) == [app.id]


def test_only_listed_miniapps_can_be_added(client, database, operator):
    hidden = make_miniapp(database, listed=False)
    section = client.post(
        "/api/hub/sections", json={"title_zh": "生活", "title_en": "Life"}, headers=operator
    ).json()["id"]
    url = f"/api/hub/sections/{section}/entries"
    refused = client.post(url, json={"miniapp_id": hidden.id}, headers=operator)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "invalid"
    missing = client.post(url, json={"miniapp_id": "ma_nosuchapp"}, headers=operator)
    assert missing.status_code == 404
    assert client.post(
        "/api/hub/sections/hub_nosuch/entries", json={"miniapp_id": hidden.id}, headers=operator
    ).status_code == 404
    assert client.get("/api/hub/sections", headers=operator).json()[0]["entries"] == []


@pytest.mark.parametrize("role", [Role.RESIDENT, Role.MERCHANT_STAFF, Role.ISV_STAFF, Role.GUARD])
def test_only_operators_curate(client, database, make_user, token_for, operator, role):
    app = make_miniapp(database)
    section = client.post(
        "/api/hub/sections", json={"title_zh": "生活", "title_en": "Life"}, headers=operator
    ).json()["id"]
    client.post(f"/api/hub/sections/{section}/entries", json={"miniapp_id": app.id},
                headers=operator)
    for headers, status in ((token_for(make_user(role)), 403), ({}, 401)):
        attempts = [
            client.get("/api/hub/sections", headers=headers),
            client.post("/api/hub/sections", json={"title_zh": "x", "title_en": "x"},
                        headers=headers),
            client.put(f"/api/hub/sections/{section}", json={"title_zh": "x", "title_en": "x"},
                       headers=headers),
            client.post(f"/api/hub/sections/{section}/move", json={"direction": "up"},
                        headers=headers),
            client.post(f"/api/hub/sections/{section}/entries", json={"miniapp_id": app.id},
                        headers=headers),
            client.post(f"/api/hub/sections/{section}/entries/{app.id}/move",
                        json={"direction": "down"}, headers=headers),
            client.delete(f"/api/hub/sections/{section}/entries/{app.id}", headers=headers),
            client.delete(f"/api/hub/sections/{section}", headers=headers),
        ]
        assert [r.status_code for r in attempts] == [status] * len(attempts)
    assert _titles(client) == ["生活"] and _entries(client) == [app.id]


def test_service_rules(database, make_user):
    operator = make_user(Role.OPERATOR)
    resident = make_user()
    app = make_miniapp(database)
    with database.unit_of_work() as db:
        with pytest.raises(ValidationFailed):
            hub.create_section(db, actor=operator, title_zh="", title_en="Life")
        with pytest.raises(ValidationFailed):
            hub.create_section(db, actor=operator, title_zh="生" * 33, title_en="Life")
        with pytest.raises(ValidationFailed):
            hub.create_section(db, actor=operator, title_zh="生活\x00", title_en="Life")
        with pytest.raises(PermissionDenied):
            hub.create_section(db, actor=resident, title_zh="生活", title_en="Life")
        section = hub.create_section(db, actor=None, title_zh=" 生活 ", title_en="Life")
        assert section.title_zh == "生活"
        hub.add_entry(db, actor=operator, section_id=section.public_id, miniapp_id=app.id)
        with pytest.raises(Conflict):
            hub.add_entry(db, actor=operator, section_id=section.public_id, miniapp_id=app.id)
        with pytest.raises(ValidationFailed):
            hub.move_section(db, actor=operator, section_id=section.public_id, direction="left")
        with pytest.raises(NotFound):
            hub.remove_entry(db, actor=operator, section_id=section.public_id,
                             miniapp_id="ma_notthere")
        with pytest.raises(PermissionDenied):
            hub.curation(db, actor=resident)


def test_api_validates_input(client, operator):
    for body in ({"title_zh": "", "title_en": "x"}, {"title_zh": "x" * 33, "title_en": "x"},
                 {"title_zh": "x", "title_en": "x", "icon": "x" * 17}, {}):
        response = client.post("/api/hub/sections", json=body, headers=operator)
        assert response.status_code == 422, body
    assert client.get("/api/hub").json() == {"sections": []}


def test_curation_costs_two_statements_whatever_the_sections(client, database, operator):
    """The console's curation reads the sections, then every entry at once (with the mini-app,
    its merchant and category), in order: not a statement per section."""
    from sqlalchemy import event

    from townsquare.accounts.models import RoleGrant, User

    apps = [make_miniapp(database, name=f"服务{i}") for i in range(3)]
    sections = []
    for i in range(4):
        created = client.post("/api/hub/sections", json={"title_zh": f"分区{i}",
                                                         "title_en": f"S{i}", "icon": "🛒"},
                              headers=operator)
        sections.append(created.json()["id"])
    for section in sections[:3]:
        for app in reversed(apps):
            client.post(f"/api/hub/sections/{section}/entries", json={"miniapp_id": app.id},
                        headers=operator)
    sent: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        sent.append(statement)

    with database.unit_of_work() as db:
        actor = db.scalars(select(User).join(RoleGrant)
                           .where(RoleGrant.role == Role.OPERATOR)).first()
        assert actor is not None and actor.has_role(Role.OPERATOR)
        event.listen(database.engine, "before_cursor_execute", count)
        try:
            found = hub.curation(db, actor=actor)
            shown = [(section.public_id, [(e.miniapp.public_id, e.miniapp.name,
                                           e.miniapp.merchant.name, e.miniapp.category.code)
                                          for e in entries]) for section, entries in found]
        finally:
            event.remove(database.engine, "before_cursor_execute", count)
    assert len(sent) == 2, sent
    assert [public_id for public_id, _entries in shown] == sections
    expected = [app.id for app in reversed(apps)]
    assert [[e[0] for e in entries] for _s, entries in shown] == [expected] * 3 + [[]]
