"""In a real browser: a resident opens mini-apps from the home hub; the framed pages verify their
launch context inside the container, and a framed external mini-app asks the shell for consent."""

from __future__ import annotations

import re

from sqlalchemy import select

from townsquare.miniapps.models import MiniApp, MiniAppKind
from townsquare.simulation import demo_city


def _login(page, base_url: str, next_path: str = "/") -> None:
    page.goto(f"{base_url}/login?next={next_path}")
    page.fill("input[name=username]", "resident")
    page.fill("input[name=password]", demo_city.DEMO_PASSWORD)
    page.click("form.stack button[type=submit]")


def test_template_miniapp_verifies_inside_the_container(live_server, page):
    _login(page, live_server)
    page.wait_for_url(f"{live_server}/")
    page.locator("a.tile").first.click()
    page.wait_for_url(re.compile(r"/apps/ma_"))
    frame = page.frame_locator("#miniapp-frame")
    status = frame.locator("#launch-status")
    status.wait_for(state="attached")
    assert status.get_attribute("data-sub").startswith("ou_")
    assert status.get_attribute("data-verified") == "true"
    assert "启动凭证" not in frame.locator("body").inner_text()  # no jargon for residents


def test_framed_external_miniapp_asks_the_shell_for_consent(live_server, page, database):
    # the hub's services are all first-party pages; a shop in the feed runs its own web app
    with database.unit_of_work() as db:
        external = db.scalars(select(MiniApp.public_id).where(
            MiniApp.listed, MiniApp.kind == MiniAppKind.EXTERNAL).order_by(MiniApp.id)).first()
    assert external
    _login(page, live_server, f"/apps/{external}")
    page.wait_for_url(re.compile(r"/apps/ma_"))
    frame = page.frame_locator("#miniapp-frame")
    frame.locator("#launch-status").wait_for(state="attached")
    sub = frame.locator("#sub").inner_text()
    frame.locator("#share-phone").click()  # postMessage to the shell
    page.wait_for_url(re.compile(r"/apps/ma_[0-9a-z]+/consent\?scopes=phone"))
    page.click("#consent-allow")
    page.wait_for_url(re.compile(r"/apps/ma_[0-9a-z]+\?ts_code="))
    back = page.frame_locator("#miniapp-frame")
    assert back.locator("#sub").inner_text() == sub
    assert "ts_code=" in page.locator("#miniapp-frame").get_attribute("src")
