"""The reference external backend end to end: open it in the container, ask for the phone,
consent in the shell, and see the backend exchange the code once."""

from __future__ import annotations

import re

from sqlalchemy import select

from tests.miniapps.shell_data import browser_login, make_miniapp, verify_identity
from townsquare.miniapps.models import MiniApp, MiniAppVersion
from townsquare.miniapps.sample_backend import sample_client_secret_digest


def _frame(html: str) -> str:
    return re.search(r'id="miniapp-frame"[^>]*src="([^"]+)"', html).group(1).replace("&amp;", "&")


def _point_at_sample_backend(database, settings, app_id: str) -> None:
    with database.unit_of_work() as db:
        miniapp = db.scalar(select(MiniApp).where(MiniApp.public_id == app_id))
        miniapp.client_secret_digest = sample_client_secret_digest(
            settings.effective_secret_key, app_id
        )
        version = db.scalar(select(MiniAppVersion).where(MiniAppVersion.miniapp_id == miniapp.id))
        version.external_url = f"http://testserver/sample-miniapp/?app={app_id}"


def test_share_my_phone_round_trip(client, database, settings, make_user):
    app = make_miniapp(database, kind="external", external_url="https://placeholder.example")
    _point_at_sample_backend(database, settings, app.id)
    resident = make_user()
    verify_identity(database, settings, resident, phone="13900001111")
    csrf = browser_login(client, resident)

    src = _frame(client.get(f"/apps/{app.id}").text)
    assert src.startswith(f"http://testserver/sample-miniapp/?app={app.id}&ts_launch=")
    sample = client.get(src)
    assert sample.status_code == 200
    sub = re.search(r'id="sub">(ou_[0-9a-f]+)<', sample.text).group(1)
    share = re.search(r'id="share-phone"[^>]*href="([^"]+)"', sample.text).group(1)
    assert share == f"/apps/{app.id}/consent?scopes=phone"
    assert "13900001111" not in sample.text

    allowed = client.post(f"/apps/{app.id}/consent", data={"csrf_token": csrf, "scopes": "phone"},
                          follow_redirects=False)
    back = _frame(client.get(allowed.headers["location"]).text)
    assert "ts_code=" in back
    shared = client.get(back)
    assert re.search(r'id="shared-phone">13900001111<', shared.text)
    assert f'id="sub">{sub}<' in shared.text  # the same pseudonymous user as before
    assert "shared-real-name" not in shared.text

    replay = client.get(back)
    assert "shared-phone" not in replay.text
    assert 'id="exchange-error"' in replay.text and "已被使用" in replay.text


def test_sample_backend_cannot_spend_codes_of_apps_with_their_own_secret(
    client, database, settings, make_user
):
    app = make_miniapp(database, kind="external", external_url="https://placeholder.example")
    resident = make_user()
    verify_identity(database, settings, resident)
    csrf = browser_login(client, resident)
    allowed = client.post(f"/apps/{app.id}/consent", data={"csrf_token": csrf, "scopes": "phone"},
                          follow_redirects=False)
    code = allowed.headers["location"].split("ts_code=")[1]
    token = re.search(r"ts_launch=([^&\"]+)", client.get(f"/apps/{app.id}").text).group(1)
    page = client.get("/sample-miniapp/", params={"app": app.id, "ts_launch": token,
                                                  "ts_code": code})
    assert page.status_code == 200 and 'id="exchange-error"' in page.text
    assert "shared-phone" not in page.text
