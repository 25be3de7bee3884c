"""Metrics on a small handcrafted event set with answers worked out by hand (DuckDB)."""

from __future__ import annotations

from datetime import date

import pytest

from townsquare.scoring import metrics, partitions
from townsquare.scoring.model import catalogue

from .events_fixture import Events

AS_OF = date(2026, 3, 20)  # 14-day window: 7 March .. 20 March inclusive


@pytest.fixture
def world(tmp_path):
    ev = Events()
    # app 1: three orders by two buyers (u1 twice), one fulfilled, one cancelled
    ev.add("order_placed", day=10, amount_fen=1000)
    ev.add("order_placed", day=11, amount_fen=500)
    ev.add("order_placed", day=11, user_sub="u2", amount_fen=200, city="sh", community="c2")
    ev.add("order_fulfilled", day=12, duration_seconds=None)
    ev.add("order_cancelled", day=12, user_sub="u2", cancelled_by="user")
    ev.add("refund", day=13, amount_fen=200)
    resolved = ev.add("complaint", day=12, resolution="resolved")
    dismissed = ev.add("complaint", day=12, resolution="")
    # replies through the platform's messaging (a mini-app's own word about replies is not read)
    ev.add("message_response", day=12, response_seconds=10, event_id="platform:m1")
    ev.add("message_response", day=13, response_seconds=20, event_id="platform:m2")
    ev.add("message_response", day=14, response_seconds=100, event_id="platform:m3")
    ev.add("rating", day=12, rating=5)
    ev.add("rating", day=13, rating=4, user_sub="u2")
    ev.add("visit", day=20, hour=23, user_sub="u3", community="")
    ev.add("visit", day=6, hour=23)  # the day before the window: not counted
    ev.add("visit", day=21, hour=0)  # the day after as_of: not counted
    ev.add("exposure", day=12, user_sub="u9", city="bj", community="c9")  # not activity
    # app 2: only exposures
    ev.add("exposure", day=12, app=2, user_sub="u5", city="bj")
    root = ev.write(tmp_path / "events")
    return root, resolved, dismissed


def _cols(table):
    return {row["miniapp_id"]: row for row in table.to_pylist()}


def test_known_answers(world):
    root, _, _ = world
    rows = _cols(metrics.compute(root, as_of=AS_OF, window_days=14))
    assert sorted(rows) == [1, 2]
    one = rows[1]
    assert one["merchant_id"] == 101 and one["category_code"] == "food"
    assert one["city"] == "hz"  # most events there
    assert (one["orders"], one["gmv_fen"], one["visits"]) == (3, 1700, 1)
    assert (one["unique_buyers"], one["repeat_buyers"]) == (2, 1)
    assert one["repurchase_rate"] == pytest.approx(0.5)
    assert (one["communities"], one["cities"]) == (2, 2)  # exposures do not count
    assert (one["fulfilled"], one["cancelled"], one["refunds"]) == (1, 1, 1)
    assert one["fulfillment_rate"] == pytest.approx(1 / 3)
    assert one["cancellation_rate"] == pytest.approx(1 / 3)
    assert one["refund_rate"] == pytest.approx(1 / 3)
    assert (one["complaints"], one["complaints_resolved"]) == (2, 1)
    assert one["complaint_rate"] == pytest.approx(2 / 3)
    assert one["complaint_resolved_share"] == pytest.approx(0.5)
    assert (one["rating_sum"], one["rating_count"]) == (9, 2)
    assert one["rating_avg"] == pytest.approx(4.5)
    # p90 of 10, 20, 100 (linear interpolation): 20 + 0.8 * 80
    assert one["response_count"] == 3
    assert one["response_p90_seconds"] == pytest.approx(84.0)
    # active user-days: u1 on 10,11,12,13,14; u2 on 11,12,13; u3 on 20 → 9 over 14 days
    assert one["dau_avg"] == pytest.approx(9 / 14)
    # history: activity on days 10, 11, 12, 13, 14 and 20 (exposures do not count)
    assert one["days_active"] == 6
    assert rows[2]["days_active"] == 0


def test_app_with_only_exposures_has_zero_counts_and_no_rates(world):
    root, _, _ = world
    two = _cols(metrics.compute(root, as_of=AS_OF, window_days=14))[2]
    assert two["orders"] == two["visits"] == two["unique_buyers"] == 0
    assert two["city"] == ""
    for rate in ("fulfillment_rate", "complaint_rate", "rating_avg", "repurchase_rate",
                 "response_p90_seconds"):
        assert two[rate] is None


def test_dismissed_complaints_are_not_counted(world):
    root, _, dismissed = world
    one = _cols(metrics.compute(root, as_of=AS_OF, window_days=14, excluded=[dismissed]))[1]
    assert (one["complaints"], one["complaints_resolved"]) == (1, 1)
    assert one["complaint_resolved_share"] == 1.0


def test_excluding_a_non_complaint_event_changes_nothing(world):
    root, _, _ = world
    before = metrics.compute(root, as_of=AS_OF, window_days=14)
    after = metrics.compute(root, as_of=AS_OF, window_days=14, excluded=["e1"])
    assert before.equals(after)


def test_window_reads_only_its_day_partitions(world):
    root, _, _ = world
    files = partitions.partition_files(root, as_of=AS_OF, window_days=14)
    days = sorted({f.split("date=")[1][:10] for f in files})
    assert days[0] >= "2026-03-07" and days[-1] <= "2026-03-20"
    assert "2026-03-06" not in days and "2026-03-21" not in days
    # a shorter window drops the older events
    short = _cols(metrics.compute(root, as_of=AS_OF, window_days=1))
    assert list(short) == [1] and short[1]["visits"] == 1 and short[1]["orders"] == 0


def test_no_events_gives_an_empty_table_with_the_schema(tmp_path):
    out = metrics.compute(tmp_path, as_of=AS_OF)
    assert out.num_rows == 0
    assert "complaint_rate" in out.column_names and "response_p90_seconds" in out.column_names


def test_specs_are_consistent():
    names = [s.name for s in catalogue.METRICS]
    assert len(names) == len(set(names))
    assert {s.pillar for s in catalogue.METRICS} == {"volume", "scale", "quality"}
    for spec in catalogue.METRICS:
        if spec.kind in ("rate", "p90") or spec.name == "rating_avg":
            assert spec.denominator


def test_events_outside_their_day_partition_are_still_left_out(world, tmp_path):
    root, _, _ = world
    start, end = metrics.window_bounds(AS_OF, 14)
    files = partitions.partition_files(root, as_of=AS_OF, window_days=14)
    assert partitions.inside(files, start, end)  # the export's UTC days: no time filter needed
    before = metrics.compute(root, as_of=AS_OF, window_days=14)
    # a file in a window day holding events from outside the window (a foreign or broken
    # export): the statistics show it, and the time filter is applied again
    stray = Events()
    stray.add("order_placed", day=3, amount_fen=999)  # before the window
    stray.add("visit", day=25)  # after as_of
    stray.add("visit", day=15, app=7)  # inside: counted
    other = stray.write(tmp_path / "stray")
    target = root / "date=2026-03-15"
    target.mkdir(parents=True, exist_ok=True)
    for i, part in enumerate(sorted(other.rglob("*.parquet"))):
        part.rename(target / f"stray-{i}.parquet")
    files = partitions.partition_files(root, as_of=AS_OF, window_days=14)
    assert not partitions.inside(files, start, end)
    after = _cols(metrics.compute(root, as_of=AS_OF, window_days=14))
    assert sorted(after) == [1, 2, 7] and after[7]["visits"] == 1
    assert {k: v for k, v in after.items() if k != 7} == _cols(before)


def test_the_platforms_trades_win_over_a_mini_apps_own_word(tmp_path):
    """App 1 takes payment through the platform: its orders, GMV and buyers come from the
    platform's records only, so the orders it reports itself (one real, one invented at ¥999)
    add nothing; its refunds are the larger of the two records (it reports two, the platform
    saw one: two count, never fewer than the platform saw). App 2 takes no payment through
    the platform: its own word counts."""
    ev = Events()
    ev.add("order_placed", day=10, amount_fen=1_000, event_id="platform:trade:T1:paid")
    ev.add("order_placed", day=11, amount_fen=500, user_sub="u2",
           event_id="platform:trade:T2:paid")
    ev.add("refund", day=12, amount_fen=500, user_sub="u2",
           event_id="platform:trade:T2:refund:1")
    ev.add("order_placed", day=10, amount_fen=1_000)  # the same order, self-reported
    ev.add("order_placed", day=11, amount_fen=99_900, user_sub="u7")  # invented
    ev.add("refund", day=12, amount_fen=10)  # the mini-app's own record of refunds: larger
    ev.add("refund", day=13, amount_fen=10)
    ev.add("order_placed", day=10, app=2, amount_fen=300)
    ev.add("refund", day=11, app=2, amount_fen=300)
    rows = _cols(metrics.compute(ev.write(tmp_path / "events"), as_of=AS_OF, window_days=14))
    one, two = rows[1], rows[2]
    assert (one["orders"], one["gmv_fen"], one["unique_buyers"], one["refunds"]) == (
        2, 1_500, 2, 2)
    assert one["refund_rate"] == pytest.approx(1.0)
    assert (two["orders"], two["gmv_fen"], two["refunds"]) == (1, 300, 1)


def test_punctuality_and_delivery_rates(tmp_path):
    """The platform-observed punctuality events give the quality rates, worked out by hand:
    app 1 accepted 3 orders (1 late), readied 4 (1 late), delivered 3 with a promise (2 on
    time) and 1 without; of its 5 delivery orders 2 had a courier incident (one of them twice,
    and one never delivered). App 2 has orders but none of these events: no rates at all."""
    ev = Events()
    for resolution in ("on_time", "on_time", "late"):
        ev.add("order_accepted", day=10, response_seconds=60, resolution=resolution)
    for resolution in ("on_time", "on_time", "on_time", "late"):
        ev.add("order_ready", day=11, duration_seconds=-300, resolution=resolution)
    for order, resolution in (("o1", "on_time"), ("o2", "on_time"), ("o3", "late"),
                              ("o4", "")):
        ev.add("delivery_done", day=12, order_id=order, resolution=resolution)
    ev.add("delivery_incident", day=12, order_id="o3", complaint_category="cancelled")
    ev.add("delivery_incident", day=12, order_id="o3", complaint_category="returning")
    ev.add("delivery_incident", day=13, order_id="o5", complaint_category="rejected")
    ev.add("order_accepted", day=3, resolution="late")  # before the window: not counted
    ev.add("order_placed", day=10, app=2, amount_fen=100)
    rows = _cols(metrics.compute(ev.write(tmp_path / "events"), as_of=AS_OF, window_days=14))
    one, two = rows[1], rows[2]
    assert (one["accepts"], one["accepts_on_time"]) == (3, 2)
    assert one["accept_on_time_rate"] == pytest.approx(2 / 3)
    assert (one["ready_orders"], one["ready_on_time"]) == (4, 3)
    assert one["ready_on_time_rate"] == pytest.approx(0.75)
    assert (one["deliveries_timed"], one["deliveries_on_time"]) == (3, 2)
    assert one["delivery_on_time_rate"] == pytest.approx(2 / 3)
    assert (one["deliveries"], one["deliveries_with_incident"]) == (5, 2)
    assert one["incident_rate"] == pytest.approx(0.4)
    # the merchant and the couriers acted, not a resident: no activity, no places
    assert (one["days_active"], one["dau_avg"], one["cities"]) == (0, 0.0, 0)
    assert (two["accepts"], two["ready_orders"], two["deliveries"]) == (0, 0, 0)
    for rate in ("accept_on_time_rate", "ready_on_time_rate", "delivery_on_time_rate",
                 "incident_rate"):
        assert two[rate] is None  # not enough data: nothing observed, nothing scored
