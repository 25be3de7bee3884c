"""The pure parts: status progress, the ranking of quotes, the circuit breaker, the delivery
code and the map."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from townsquare.delivery import codes, tracking
from townsquare.delivery.adapters.base import ProviderQuote
from townsquare.delivery.breaker import Breakers
from townsquare.delivery.policy import rank
from townsquare.delivery.status import TERMINAL, DeliveryStatus, advances

T0 = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)


def q(provider: str, fee: int, minutes: int) -> ProviderQuote:
    return ProviderQuote(provider=provider, quote_id=provider, fee_fen=fee,
                         pickup_eta=T0, dropoff_eta=T0 + timedelta(minutes=minutes),
                         expires_at=T0 + timedelta(minutes=5))


def test_advances():
    s = DeliveryStatus
    assert advances(s.CREATED, s.ASSIGNED) and advances(s.ASSIGNED, s.DELIVERED)
    assert not advances(s.PICKED_UP, s.ASSIGNED) and not advances(s.ASSIGNED, s.ASSIGNED)
    assert advances(s.PICKED_UP, s.RETURNING) and advances(s.RETURNING, s.RETURNED)
    for end in TERMINAL:
        assert advances(s.CREATED, end)
        assert not any(advances(end, other) for other in s)


def test_rank_by_policy():
    quotes = [q("a", 800, 40), q("b", 600, 55), q("c", 1000, 30), q("self", 300, 50)]
    assert [r.quote.provider for r in rank(quotes, policy="cheapest", promised_by=None,
                                           self_first=False)] == ["self", "b", "a", "c"]
    assert rank(quotes, policy="fastest", promised_by=None, self_first=True)[0].reason \
        == "self_first"
    fastest = rank(quotes, policy="fastest", promised_by=None, self_first=False)
    assert [r.quote.provider for r in fastest] == ["c", "a", "self", "b"]
    in_time = rank(quotes, policy="cheapest_in_time", promised_by=T0 + timedelta(minutes=45),
                   self_first=False)
    assert [(r.quote.provider, r.reason) for r in in_time] == [
        ("a", "in_time"), ("c", "in_time"), ("self", "late"), ("b", "late")]
    tie = [q("x", 500, 40), q("y", 500, 40)]
    assert rank(tie, policy="cheapest", promised_by=None, self_first=False,
                preference=["y", "x"])[0].quote.provider == "y"


def test_breaker_opens_half_opens_and_closes():
    b = Breakers(failures=2, open_s=10)
    assert b.allow("p", 0)
    b.failure("p", 0)
    assert b.allow("p", 1)
    b.failure("p", 1)
    assert not b.allow("p", 5) and b.is_open("p", 5)
    assert b.allow("p", 12)  # half-open: one trial
    assert not b.allow("p", 12)  # the others wait for it
    b.failure("p", 12)
    assert not b.allow("p", 20)
    assert b.allow("p", 23)
    b.success("p")
    assert b.allow("p", 23) and b.allow("p", 23)


def test_delivery_code():
    secret = b"k" * 32
    code = codes.dropoff_code(secret, "dlv_1")
    assert len(code) == 6 and code.isdigit() and code == codes.dropoff_code(secret, "dlv_1")
    stored = codes.digest(secret, "dlv_1", code)
    assert codes.matches(secret, "dlv_1", stored, code)
    assert codes.matches(secret, "dlv_1", stored, f" {code[:3]} {code[3:]} ")
    assert not codes.matches(secret, "dlv_2", stored, code)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert not codes.matches(secret, "dlv_1", stored, wrong)


def test_map_is_local_svg():
    track = tracking.Track(
        status="picked_up", provider="self", courier_name="小王",
        courier=tracking.Point(30.51, 114.40), pickup=tracking.Point(30.5052, 114.4085),
        dropoff=tracking.Point(30.52, 114.39),
        trail=[tracking.Point(30.5052, 114.4085), tracking.Point(30.51, 114.40)],
        pickup_eta=None, dropoff_eta=None, picked_up_at=T0, delivered_at=None,
        promised_by=None)
    svg = tracking.svg(track, labels={"courier": "<骑手>"})
    assert svg.startswith("<svg") and "http" not in svg.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    assert 'class="courier"' in svg and 'class="trail"' in svg and "&lt;骑手&gt;" in svg
    x, y = tracking.xy(30.5052, 114.4085)
    assert 0 <= x <= tracking.WIDTH and 0 <= y <= tracking.HEIGHT
    assert tracking.xy(0, 0) == (0.0, tracking.HEIGHT)  # far away: pinned to the edge
