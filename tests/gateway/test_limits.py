"""Per-app call limits: token buckets per (app, package) on the injectable clock, their
configuration, and a call over the limit answered in the protocol (signed, HTTP 200, 40005)."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.gateway import gateway_world
from tests.gateway.sdk import run_sdk, sdk_dir, serve_on_port_80
from tests.gateway.test_gateway_http import answer, signed
from tests.miniapps.shell_data import browser_login
from townsquare.app import create_app
from townsquare.core.clock import clock
from townsquare.gateway import limits
from townsquare.gateway.protocol import envelope, signing

T0 = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
APP, OTHER = "2026120700000001", "2026120700000002"


def _taken(limiter: limits.RateLimiter, n: int, at: datetime, app: str = APP,
           package: str = "data") -> list[float]:
    return [limiter.take(app, package, at) for _ in range(n)]


def test_a_burst_then_the_rate():
    limiter = limits.RateLimiter("data=2:4")
    assert _taken(limiter, 4, T0) == [0.0] * 4
    assert limiter.take(APP, "data", T0) == pytest.approx(0.5)  # one call in half a second
    assert limiter.take(APP, "data", T0 + timedelta(seconds=0.5)) == 0.0
    assert limiter.take(APP, "data", T0 + timedelta(seconds=0.5)) > 0
    # a quiet spell refills the bucket up to the burst, never beyond it
    later = T0 + timedelta(hours=1)
    assert _taken(limiter, 4, later) == [0.0] * 4 and limiter.take(APP, "data", later) > 0


def test_buckets_are_per_app_and_per_package():
    limiter = limits.RateLimiter("data=1:1,messaging=1:1")
    assert limiter.take(APP, "data", T0) == 0.0
    assert limiter.take(APP, "data", T0) > 0
    assert limiter.take(APP, "messaging", T0) == 0.0  # another package of the same app
    assert limiter.take(OTHER, "data", T0) == 0.0  # another app on the same package


def test_configuration_defaults_overrides_and_closing():
    limiter = limits.RateLimiter(f"*=5,data=50:100,{APP}/data=1:2,{OTHER}/payment=0")
    assert limiter.limit_for(OTHER, "data") == limits.Limit(50, 100)
    assert limiter.limit_for(OTHER, "messaging") == limits.Limit(5, 10)
    assert limiter.limit_for(APP, "data") == limits.Limit(1, 2)  # the operator's override
    assert limiter.take(OTHER, "payment", T0) == float("inf")  # closed to that app
    default = limits.RateLimiter("")
    assert default.limit_for(APP, "messaging") == limits.DEFAULT_LIMITS["messaging"]


@pytest.mark.parametrize("text", ["data", "nosuch=5", "data=fast", "data=-1", "data=1:0",
                                  "123/data=5", f"{APP}/*=5"])
def test_a_setting_that_cannot_be_read_stops_the_server(text):
    with pytest.raises(ValueError, match="TOWNSQUARE_GATEWAY_RATE_LIMITS|limit"):
        limits.RateLimiter(text)


def test_idle_full_buckets_are_forgotten_beyond_the_bound():
    limiter = limits.RateLimiter("data=1:1", max_buckets=2)
    for n in range(5):
        limiter.take(f"20261207000000{n:02d}", "data", T0 + timedelta(seconds=10 * n))
    assert len(limiter._buckets) <= 2


def test_over_the_limit_is_a_signed_40005_not_a_5xx(database, settings, make_user):
    settings = settings.model_copy(update={"gateway_rate_limits": "identity=1:2"})
    world = gateway_world.build(database, settings, make_user)
    clock.freeze(clock.now())
    try:
        with TestClient(create_app(settings, database)) as client:
            first, second, third = (
                answer(client.post("/gateway.do", data=signed(world))) for _ in range(3)
            )
            assert first["code"] == second["code"] == "20001"  # through the limit, no token
            assert third["code"] == "40005" and third["msg"] == "Call Limited"
            assert third["sub_code"] == "isv.app-call-limited"
            assert "identity" in third["sub_msg"] and "1.0 秒后重试" in third["sub_msg"]
            raw = client.post("/gateway.do", data=signed(world))
            assert raw.status_code == 200
            inner = envelope.inner_bytes(raw.json()["alipay_user_info_share_response"])
            platform = signing.load_public_key(world.platform_public_key)
            assert signing.verify(platform, inner, raw.json()["sign"], "RSA2")
            # a bad signature never spends the app's calls
            stranger = signing.private_key_pkcs1(signing.new_private_key())
            clock.advance(timedelta(seconds=10))
            for _ in range(3):
                refused = answer(client.post("/gateway.do", data=signed(world, key=stranger)))
                assert refused["sub_code"] == "isv.invalid-signature"
            assert answer(client.post("/gateway.do", data=signed(world)))["code"] == "20001"
    finally:
        clock.unfreeze()


def test_concurrent_callers_share_one_bucket_exactly():
    """Threads racing on one bucket: exactly the burst gets through at one instant."""
    limiter = limits.RateLimiter("data=1:25")
    barrier = threading.Barrier(8)
    allowed: list[int] = []

    def caller() -> None:
        barrier.wait()
        allowed.append(sum(limiter.take(APP, "data", T0) == 0.0 for _ in range(10)))

    threads = [threading.Thread(target=caller) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(allowed) == 25


@pytest.mark.parametrize("sdk", ["official", "community"])
def test_an_unmodified_sdk_verifies_and_surfaces_the_limit(sdk, database, settings, make_user):
    settings = settings.model_copy(update={"gateway_rate_limits": "identity=0.001:1"})
    world = gateway_world.build(database, settings, make_user)
    sdk_dir(sdk)
    url_iter = serve_on_port_80(database, settings)
    url = next(url_iter)
    call = {"method": "alipay.user.info.share", "auth_token": "nonsense"}
    try:
        first, second = run_sdk(sdk, {
            "server_url": url, "app_id": world.app_id, "private_key": world.private_key,
            "platform_public_key": world.platform_public_key, "calls": [call, call],
        })
    finally:
        url_iter.close()
    assert first["ok"] and first["response"]["code"] == "20001", first
    assert second["ok"], second  # the SDK verified the signed refusal
    assert (second["response"]["code"], second["response"]["sub_code"]) == (
        "40005", "isv.app-call-limited")


def test_the_console_shows_the_apps_limits(database, settings, make_user):
    world = gateway_world.build(database, settings, make_user)
    settings = settings.model_copy(update={
        "gateway_rate_limits": f"messaging=3,{world.app_id}/data=5:10,{world.app_id}/payment=0"})
    with TestClient(create_app(settings, database)) as client:
        browser_login(client, world.owner)
        page = client.get(f"/console/miniapps/{world.miniapp_id}/gateway").text
    shown = dict(re.findall(r'data-limit="(\w+)">([^<]+)<', page))
    assert shown["data"] == "5 次/秒，突发 10"  # the operator's override for this app
    assert shown["messaging"] == "3 次/秒，突发 6"
    assert shown["identity"] == "20 次/秒，突发 40"
    assert shown["payment"] == "已关闭"
