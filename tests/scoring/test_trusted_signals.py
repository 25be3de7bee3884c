"""Trusted signals and recency (scoring/trusted.py): each rule on a handcrafted event set whose
answers are worked out by hand. Ids beginning `platform:` are the platform's own records; any
other id is a mini-app's word about itself."""

from __future__ import annotations

from datetime import UTC, date, datetime

import ibis
import pyarrow as pa
import pytest

from townsquare.scoring import metrics, trusted

from .events_fixture import Events

AS_OF = date(2026, 3, 20)  # 14-day window: 7 March .. 20 March inclusive


def _rows(ev: Events, tmp_path, **kw):
    table = metrics.compute(ev.write(tmp_path / "events"), as_of=AS_OF, window_days=14, **kw)
    return {row["miniapp_id"]: row for row in table.to_pylist()}


def _paid(ev: Events, n: int, *, user: str = "u1", day: int = 10, app: int = 1,
          prefix: str = "T") -> None:
    for k in range(n):
        ev.add("order_placed", day=day, app=app, user_sub=user, amount_fen=1000,
               order_id=f"{prefix}{k}", event_id=f"platform:trade:{prefix}{k}:paid")


def test_a_misreported_five_star_without_an_order_gains_nothing(tmp_path):
    """App 1 takes payment through the platform. Its buyer u1's reported 3★ counts; twenty 5★
    it reports from residents the platform never saw pay it add nothing, to the mean or to the
    count; a buyer whose rating the platform collected itself counts once, as collected."""
    ev = Events()
    _paid(ev, 2, user="u1")
    _paid(ev, 1, user="u2", prefix="S")
    ev.add("rating", day=11, rating=3, user_sub="u1")
    for k in range(20):
        ev.add("rating", day=12, rating=5, user_sub=f"fake{k}")
    ev.add("rating", day=12, rating=2, user_sub="u2", event_id="platform:rating:S0")
    ev.add("rating", day=12, rating=5, user_sub="u2")  # the same buyer, its own word
    honest = Events()
    _paid(honest, 2, user="u1")
    _paid(honest, 1, user="u2", prefix="S")
    honest.add("rating", day=11, rating=3, user_sub="u1")
    honest.add("rating", day=12, rating=2, user_sub="u2", event_id="platform:rating:S0")
    cheat = _rows(ev, tmp_path / "a", self_report_weight=0.25)[1]
    fair = _rows(honest, tmp_path / "b", self_report_weight=0.25)[1]
    assert (cheat["rating_count"], cheat["rating_sum"]) == (2, 5)
    assert cheat["rating_avg"] == pytest.approx(2.5) == fair["rating_avg"]


def test_uncorroborated_ratings_weigh_less_where_nothing_could_corroborate_them(tmp_path):
    """App 2 takes no payment through the platform: its own ratings count at
    `self_report_weight` each (their mean unchanged, their evidence a quarter)."""
    ev = Events()
    for k in range(8):
        ev.add("rating", day=12, app=2, rating=4 if k % 2 else 5, user_sub=f"r{k}")
    two = _rows(ev, tmp_path, self_report_weight=0.25)[2]
    assert (two["rating_count"], two["rating_sum"]) == (2, 9)
    assert two["rating_avg"] == pytest.approx(4.5)
    assert _rows(ev, tmp_path / "full")[2]["rating_count"] == 8


def test_an_unreported_cancellation_the_platform_saw_counts(tmp_path):
    """The platform saw two cancellations, a refund and a complaint; the mini-app reports
    none of them (and a refund of its own): each count is the larger of the two records."""
    ev = Events()
    _paid(ev, 4)
    for k in range(2):
        ev.add("order_cancelled", day=11, order_id=f"T{k}", cancelled_by="merchant",
               event_id=f"platform:order:T{k}:cancelled")
    ev.add("refund", day=12, order_id="T2", amount_fen=1000,
           event_id="platform:trade:T2:refund:1")
    ev.add("complaint", day=12, complaint_category="late", event_id="platform:c1")
    ev.add("refund", day=12, order_id="T2", amount_fen=1000)  # the same refund, reported
    one = _rows(ev, tmp_path)[1]
    assert (one["cancelled"], one["refunds"], one["complaints"]) == (2, 1, 1)
    assert one["cancellation_rate"] == pytest.approx(0.5)
    assert one["complaint_rate"] == pytest.approx(0.25)


def test_reported_complaints_beyond_the_platforms_count(tmp_path):
    """Where the mini-app reports more complaints than the platform collected, its record
    counts: a reported complaint is never discarded in the merchant's favour."""
    ev = Events()
    _paid(ev, 4)
    ev.add("complaint", day=12, complaint_category="late", event_id="platform:c1")
    for _k in range(3):
        ev.add("complaint", day=12, complaint_category="late", resolution="resolved")
    one = _rows(ev, tmp_path)[1]
    assert (one["complaints"], one["complaints_resolved"]) == (3, 3)


def test_fulfilments_count_where_they_agree_with_the_platform(tmp_path):
    """A reported fulfilment counts for an order the platform saw paid, once even when the
    platform recorded it too; one for an order it never saw paid adds nothing."""
    ev = Events()
    _paid(ev, 3)
    ev.add("order_fulfilled", day=11, order_id="T0", duration_seconds=60,
           event_id="platform:order:T0:fulfilled")
    ev.add("order_fulfilled", day=11, order_id="T0", duration_seconds=60)  # the same, reported
    ev.add("order_fulfilled", day=11, order_id="T1", duration_seconds=60)  # agrees
    ev.add("order_fulfilled", day=11, order_id="X9", duration_seconds=60)  # never paid
    one = _rows(ev, tmp_path)[1]
    assert one["fulfilled"] == 2
    assert one["fulfillment_rate"] == pytest.approx(2 / 3)


def test_reported_fast_replies_without_platform_messaging_do_not_count(tmp_path):
    ev = Events()
    ev.add("message_response", day=12, response_seconds=600, event_id="platform:m1")
    for _k in range(30):
        ev.add("message_response", day=12, response_seconds=5)
    ev.add("message_response", day=12, app=2, response_seconds=5)
    rows = _rows(ev, tmp_path)
    assert (rows[1]["response_count"], rows[1]["response_p90_seconds"]) == (1, 600.0)
    assert rows[2]["response_count"] == 0 and rows[2]["response_p90_seconds"] is None


def test_recency_weights_halve_every_half_life():
    end = datetime(2026, 3, 21, tzinfo=UTC)
    times = [datetime(2026, 3, 20, 23, 59, tzinfo=UTC), datetime(2026, 3, 20, 0, 0, tzinfo=UTC),
             datetime(2026, 3, 13, 12, tzinfo=UTC), datetime(2026, 3, 6, 1, tzinfo=UTC)]
    t = ibis.memtable(pa.table({"occurred_at": pa.array(times, pa.timestamp("us", tz="UTC"))}))
    con = ibis.duckdb.connect()
    got = con.to_pyarrow(t.select(w=trusted.weight(t, end, 7.0)))["w"].to_pylist()
    unit = trusted.UNIT
    assert got == [unit, unit, unit // 2, unit // 4]
    flat = con.to_pyarrow(t.select(w=trusted.weight(t, end, None)))["w"].to_pylist()
    assert flat == [unit] * 4


def test_recent_days_weigh_more_in_the_rates(tmp_path):
    """Two orders, on the last day (weight 1) and a week before (half-life 7: weight 0.5); the
    complaint about the older one: 0.5 / 1.5 with the half-life, 1 / 2 without. A recent
    complaint weighs twice as much: 1 / 1.5. Counts stay whole."""
    def world(complaint_day: int) -> Events:
        ev = Events()
        _paid(ev, 1, day=20)
        _paid(ev, 1, day=13, prefix="S")
        ev.add("complaint", day=complaint_day, complaint_category="late",
               event_id="platform:c1")
        ev.add("rating", day=20, rating=5, user_sub="u1")
        ev.add("rating", day=13, rating=2, user_sub="u1")
        return ev

    old = _rows(world(13), tmp_path / "a", half_life_days=7)[1]
    assert (old["orders"], old["complaints"]) == (2, 1)
    assert old["complaint_rate"] == pytest.approx(1 / 3)
    assert _rows(world(13), tmp_path / "b")[1]["complaint_rate"] == pytest.approx(0.5)
    recent = _rows(world(20), tmp_path / "c", half_life_days=7)[1]
    assert recent["complaint_rate"] == pytest.approx(2 / 3)
    assert old["rating_avg"] == pytest.approx((5 + 0.5 * 2) / 1.5)
