"""The community pass JSON API: verify, declare, household status, notices and figures, each
kept to the roles that may use it."""

from __future__ import annotations

from tests.community.world import HEAD_ID, build


def test_resident_api_flow_and_scoping(client, database, settings, make_user, token_for):
    w = build(database, settings, make_user)
    me, outsider, pm = token_for(w.resident), token_for(w.outsider), token_for(w.manager)
    base = f"/api/community/{w.com}"
    assert client.get(f"{base}/household", headers=me).status_code == 403
    wrong = client.post(f"{base}/verify", json={"real_name": "张三", "id_number": "123"},
                        headers=me)
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "invalid"
    ok = client.post(f"{base}/verify", json={"real_name": "张三", "id_number": HEAD_ID},
                     headers=me)
    assert ok.status_code == 200, ok.text
    household = ok.json()
    assert household["room"] == "1-1-101" and len(household["members"]) == 3
    assert not household["declared_today"] and household["status"]["colour"] == "green"
    child = next(m["id"] for m in household["members"] if m["relation"] == "child")
    declared = client.post(f"{base}/declarations", headers=me, json={
        "temperature_c": 36.4, "case_contact": True, "person": child})
    assert declared.status_code == 200, declared.text
    assert declared.json()["status"]["colour"] == "red"  # the child's contact makes it red
    assert client.post(f"{base}/declarations", headers=outsider,
                       json={"temperature_c": 36.4}).status_code == 403
    assert client.get(f"{base}/notices", headers=me).json() == []
    assert client.get(f"{base}/notices", headers=outsider).status_code == 403
    figures = client.get(f"{base}/dashboard", headers=pm)
    assert figures.status_code == 200 and figures.json()["verified"] == 1
    assert client.get(f"{base}/dashboard", headers=me).status_code == 403
    assert client.get("/api/community/com_nope/dashboard", headers=pm).status_code == 404
