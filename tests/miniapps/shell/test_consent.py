"""Profile consent and one-time codes, through HTTP: the consent page, the code exchange a
mini-app backend makes, replays, wrong secrets, expiry, other apps, revocation."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from tests.miniapps.shell_data import SECRET, browser_login, make_miniapp, verify_identity
from townsquare.core.audit import AuditEntry
from townsquare.core.clock import clock
from townsquare.miniapps.models import AuthCode, Consent
from townsquare.miniapps.shell import launch

PHONE = "13812345678"


def _exchange(client, app_id: str, code: str, secret: str = SECRET):
    return client.post("/api/oauth/token", json={
        "grant_type": "authorization_code", "code": code, "client_id": app_id,
        "client_secret": secret,
    })


def _consent_via_pages(client, csrf: str, app_id: str, scopes: str) -> str:
    """Resident allows on the consent page; returns the code handed to the mini-app."""
    page = client.get(f"/apps/{app_id}/consent", params={"scopes": scopes})
    assert page.status_code == 200, page.text
    allowed = client.post(
        f"/apps/{app_id}/consent", data={"csrf_token": csrf, "scopes": scopes},
        follow_redirects=False,
    )
    assert allowed.status_code == 303, allowed.text
    location = allowed.headers["location"]
    assert location.startswith(f"/apps/{app_id}?ts_code=")
    container = client.get(location)
    src = re.search(r'id="miniapp-frame"[^>]*src="([^"]+)"', container.text).group(1)
    query = parse_qs(urlsplit(src.replace("&amp;", "&")).query)
    assert len(query["ts_launch"]) == 1  # the frame gets a launch context and the code
    return query["ts_code"][0]


@pytest.fixture
def resident(make_user, database, settings):
    user = make_user(display_name="张小民")
    verify_identity(database, settings, user, phone=PHONE, real_name="张小民")
    return user


def test_whole_flow_returns_only_consented_fields(client, database, settings, resident):
    app = make_miniapp(database)
    csrf = browser_login(client, resident)
    page = client.get(f"/apps/{app.id}/consent", params={"scopes": "phone"})
    assert "138****5678" in page.text and PHONE not in page.text  # masked preview
    code = _consent_via_pages(client, csrf, app.id, "phone")

    answer = _exchange(client, app.id, code)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    sub = launch.pseudonymous_id(settings.effective_secret_key, resident.public_id, app.id)
    assert answer.json() == {"sub": sub, "scopes": ["phone"], "phone": PHONE}
    # nothing about the identity document, ever
    assert "id_masked" not in answer.text and "*" not in answer.text
    assert "张小民" not in answer.text  # real name was not consented

    with database.unit_of_work() as db:
        shares = db.scalars(select(AuditEntry).where(AuditEntry.action == "profile.share")).all()
        assert [(e.subject_id, e.detail["fields"]) for e in shares] == [
            (resident.public_id, ["phone"])
        ]


def test_replay_is_refused(client, database, resident):
    app = make_miniapp(database)
    code = _consent_via_pages(client, browser_login(client, resident), app.id, "phone,real_name")
    first = _exchange(client, app.id, code)
    assert first.json()["scopes"] == ["phone", "real_name"]
    assert first.json()["real_name"] == "张小民"
    replay = _exchange(client, app.id, code)
    assert replay.status_code == 400
    assert replay.json()["error"]["code"] == "invalid_grant"
    assert "already been used" in client.post(
        "/api/oauth/token?lang=en",
        json={"code": code, "client_id": app.id, "client_secret": SECRET},
    ).json()["error"]["message"]


def test_wrong_secret_does_not_burn_the_code(client, database, resident):
    app = make_miniapp(database)
    code = _consent_via_pages(client, browser_login(client, resident), app.id, "phone")
    wrong = _exchange(client, app.id, code, secret="not-the-secret")
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_client"
    unknown_client = _exchange(client, "ma_nosuchclient", code)
    assert unknown_client.status_code == 401
    assert unknown_client.json()["error"] == wrong.json()["error"]  # no hint which part was wrong
    assert _exchange(client, app.id, code).status_code == 200


def test_expired_code_is_refused_and_not_marked_used(client, database, settings, resident):
    app = make_miniapp(database)
    code = _consent_via_pages(client, browser_login(client, resident), app.id, "phone")
    clock.freeze(clock.now() + timedelta(seconds=settings.auth_code_ttl_seconds + 1))
    expired = _exchange(client, app.id, code)
    assert expired.status_code == 400 and expired.json()["error"]["code"] == "invalid_grant"
    with database.unit_of_work() as db:
        assert db.scalar(select(AuthCode.used_at)) is None


def test_another_apps_code_and_unknown_codes_are_refused(client, database, resident):
    mine = make_miniapp(database, client_secret="mine-secret")
    theirs = make_miniapp(database, name="药房", client_secret="their-secret")
    code = _consent_via_pages(client, browser_login(client, resident), mine.id, "phone")
    stolen = _exchange(client, theirs.id, code, secret="their-secret")
    assert stolen.status_code == 400 and stolen.json()["error"]["code"] == "invalid_grant"
    assert _exchange(client, mine.id, "made-up-code", secret="mine-secret").status_code == 400
    assert _exchange(client, mine.id, code, secret="mine-secret").status_code == 200  # unharmed


def test_codes_carry_only_what_was_asked_even_after_wider_consent(client, database, resident):
    app = make_miniapp(database)
    csrf = browser_login(client, resident)
    _consent_via_pages(client, csrf, app.id, "phone,real_name")
    narrow = _consent_via_pages(client, csrf, app.id, "phone")
    assert _exchange(client, app.id, narrow).json() == {
        "sub": _exchange(client, app.id, _consent_via_pages(client, csrf, app.id, "phone"))
        .json()["sub"],
        "scopes": ["phone"], "phone": PHONE,
    }
    with database.unit_of_work() as db:
        assert db.scalar(select(Consent.scopes)) == ["phone", "real_name"]


def test_revoking_kills_outstanding_codes(client, database, resident):
    app = make_miniapp(database)
    csrf = browser_login(client, resident)
    code = _consent_via_pages(client, csrf, app.id, "phone")
    listing = client.get("/me/consents")
    assert f'data-miniapp="{app.id}"' in listing.text and "手机号码" in listing.text
    assert client.post(f"/me/consents/{app.id}/revoke", data={}).status_code == 403  # no CSRF
    revoked = client.post(f"/me/consents/{app.id}/revoke", data={"csrf_token": csrf},
                          follow_redirects=False)
    assert revoked.status_code == 303
    after = client.get(revoked.headers["location"])
    assert 'id="no-consents"' in after.text and "已撤回授权" in after.text
    assert _exchange(client, app.id, code).status_code == 400
    with database.unit_of_work() as db:
        assert db.scalar(select(func.count()).select_from(Consent)) == 0
        assert db.scalar(
            select(func.count()).select_from(AuditEntry)
            .where(AuditEntry.action.in_(["consent.grant", "consent.revoke"]))
        ) == 2


def test_consent_api_and_revoke_api(client, database, token_for, resident, make_user):
    app = make_miniapp(database)
    headers = token_for(resident)
    granted = client.post(f"/api/me/consents/{app.id}", json={"scopes": ["real_name"]},
                          headers=headers)
    assert granted.status_code == 201, granted.text
    assert granted.json()["scopes"] == ["real_name"]
    listed = client.get("/api/me/consents", headers=headers).json()
    assert [(c["miniapp_id"], c["scopes"]) for c in listed] == [(app.id, ["real_name"])]

    # another resident sees none of it and cannot revoke it
    other = token_for(make_user())
    assert client.get("/api/me/consents", headers=other).json() == []
    assert client.post(f"/api/me/consents/{app.id}/revoke", headers=other).status_code == 404
    assert len(client.get("/api/me/consents", headers=headers).json()) == 1

    assert client.post(f"/api/me/consents/{app.id}/revoke", headers=headers).status_code == 204
    assert client.get("/api/me/consents", headers=headers).json() == []
    assert _exchange(client, app.id, granted.json()["code"]).status_code == 400
    assert client.post(f"/api/me/consents/{app.id}/revoke", headers=headers).status_code == 404


def test_consent_needs_identity_known_scopes_and_a_listed_app(
    client, database, token_for, make_user, resident
):
    app = make_miniapp(database)
    hidden = make_miniapp(database, listed=False)
    unverified = make_user()
    csrf = browser_login(client, unverified)
    page = client.get(f"/apps/{app.id}/consent", params={"scopes": "phone"})
    assert 'id="consent-needs-identity"' in page.text and 'id="consent-allow"' not in page.text
    refused = client.post(f"/apps/{app.id}/consent", data={"csrf_token": csrf, "scopes": "phone"})
    assert refused.status_code == 422
    assert client.get(f"/apps/{app.id}/consent", params={"scopes": "id_number"}).status_code == 422
    assert client.get(f"/apps/{app.id}/consent").status_code == 422
    headers = token_for(resident)
    for scopes in (["id_number"], [], ["phone"] * 3):
        bad = client.post(f"/api/me/consents/{app.id}", json={"scopes": scopes}, headers=headers)
        assert bad.status_code == 422, scopes
    assert client.post(f"/api/me/consents/{hidden.id}", json={"scopes": ["phone"]},
                       headers=headers).status_code == 404
    client.cookies.clear()
    assert client.post(f"/api/me/consents/{app.id}", json={"scopes": ["phone"]}).status_code == 401
    with database.unit_of_work() as db:
        assert db.scalar(select(func.count()).select_from(Consent)) == 0
        assert db.scalar(select(func.count()).select_from(AuthCode)) == 0


def test_cookie_api_calls_need_the_csrf_header(client, database, resident):
    app = make_miniapp(database)
    csrf = browser_login(client, resident)
    no_header = client.post(f"/api/me/consents/{app.id}", json={"scopes": ["phone"]})
    assert no_header.status_code == 403
    with_header = client.post(f"/api/me/consents/{app.id}", json={"scopes": ["phone"]},
                              headers={"X-CSRF-Token": csrf})
    assert with_header.status_code == 201
