"""In a real browser with a (fake) camera: a resident verifies and shows the household pass code;
the guard's page reads the QR from the camera, allows the exit, and denies a second exit the
same day with the quota reason.

Chromium's fake camera plays a .y4m file; the file is made here from the segno QR of the code the
resident's page shows (numpy + Pillow, no ffmpeg)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import numpy as np
import segno
from PIL import Image
from sqlalchemy import select

from townsquare.accounts.identity import id_check_char
from townsquare.accounts.models import Role, RoleGrant, User
from townsquare.community.importer import id_digest
from townsquare.community.models import Community, Household, Person, Relation, Room
from townsquare.core.security import hash_password
from townsquare.core.settings import Settings

from .conftest import CHROMIUM, CHROMIUM_ARGS

WIDTH, HEIGHT, FPS = 640, 480, 10
ID_NUMBER_17 = "42010619850312123"
NAME = "王晓测"
PASSWORD = "gate-camera-9"


def write_y4m(text: str, path: Path, frames: int = FPS) -> Path:
    """A short grey-scale clip (the browser loops it) showing the QR of `text`, centred."""
    qr = segno.make(text, error="m", micro=False)
    png = path.with_suffix(".png")
    scale = max(1, (HEIGHT - 40) // (qr.symbol_size(scale=1, border=4)[0]))
    qr.save(str(png), scale=scale, border=4)
    image = Image.open(png).convert("L")
    canvas = Image.new("L", (WIDTH, HEIGHT), 255)
    canvas.paste(image, ((WIDTH - image.width) // 2, (HEIGHT - image.height) // 2))
    luma = np.asarray(canvas, dtype=np.uint8)
    chroma = np.full((HEIGHT // 2, WIDTH // 2), 128, dtype=np.uint8)  # no colour (4:2:0)
    frame = b"FRAME\n" + luma.tobytes() + chroma.tobytes() + chroma.tobytes()
    header = f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{FPS}:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + frame * frames)
    return path


def register_newcomer(database) -> tuple[str, str]:
    """A registered (not yet verified) household head in a fresh room of community 1, and the
    platform account they will verify with. Returns the community id and the ID number."""
    settings = Settings(secret_key="browser-test-secret-key")  # as live_server's
    number = ID_NUMBER_17 + id_check_char(ID_NUMBER_17)
    with database.unit_of_work() as db:
        community = db.scalar(select(Community).where(Community.name == "幸福里小区"))
        room = Room(community_id=community.id, building="9", unit="1", number="101")
        db.add(room)
        db.flush()
        household = Household(community_id=community.id, room_id=room.id)
        db.add(household)
        db.flush()
        db.add(
            Person(
                community_id=community.id,
                household_id=household.id,
                real_name=NAME,
                id_digest=id_digest(settings, number),
                id_masked="4201**********" + number[-4:],
                birth_date=date(1985, 3, 12),
                relation=Relation.HEAD,
            )
        )
        db.add(
            User(
                username="newcomer",
                display_name=NAME,
                password_hash=hash_password(PASSWORD),
                roles=[RoleGrant(role=Role.RESIDENT)],
            )
        )
        return community.public_id, number


def login(page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(re.compile(r"^(?!.*/login)"))


def test_the_guard_scans_the_household_code_from_the_camera(
    live_server, database, browser, page, tmp_path
):
    from townsquare.simulation import demo_city

    com, number = register_newcomer(database)
    # the resident verifies in the mini-app and opens the household pass
    login(page, live_server, "newcomer", PASSWORD)
    page.goto(f"{live_server}/community/{com}")
    page.fill("#verify-form input[name=real_name]", NAME)
    page.fill("#verify-form input[name=id_number]", number)
    page.click("#verify-form button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{live_server}/community/{com}/code")
    code = page.locator("#pass-qr").get_attribute("data-code")
    assert code and page.locator("#pass-qr svg").count() == 1
    video = write_y4m(code, tmp_path / "pass.y4m")

    camera = browser.browser_type.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_ARGS
        + [
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ],
    )
    try:
        context = camera.new_context(locale="zh-CN")
        context.grant_permissions(["camera"], origin=live_server)
        guard = context.new_page()
        guard.set_default_timeout(20_000)
        login(guard, live_server, "guard", demo_city.DEMO_PASSWORD)
        guard.goto(f"{live_server}/community/{com}/gate")
        guard.locator("a.tile").first.click()  # the guard picks their gate
        guard.wait_for_selector("#gate[data-camera=on]")
        result = guard.locator("#gate-result")
        # a household code going out: the guard picks who passes
        guard.wait_for_selector("#gate-result .gate-members button.member")
        assert "choose_member" in result.get_attribute("data-reasons")
        guard.locator("#gate-result .gate-members button.member").first.click()
        guard.wait_for_selector("#gate-result[data-allowed='1']")
        assert result.get_attribute("data-allowed") == "1", result.inner_text()
        assert "放行" in result.inner_text() and "9-1-101" in result.inner_text()
        assert "4201" not in result.inner_text()  # never the ID number
        # the same household tries to go out again the same day
        guard.click("#gate-clear")
        guard.wait_for_selector("#gate-result .gate-members button.member")
        guard.locator("#gate-result .gate-members button.member").first.click()
        guard.wait_for_selector("#gate-result[data-reasons*='quota']")
        assert "quota" in result.get_attribute("data-reasons")
        assert "本户外出次数已用完" in result.inner_text()
    finally:
        camera.close()
