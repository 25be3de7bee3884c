"""The console's table of columns and buttons (pure): every status the board shows has one
column, each status offers only the steps the contract allows, and a delivery order is sent
with a rider where a pickup waits for the counter's scan."""

from __future__ import annotations

from datetime import UTC, date, datetime

from townsquare.ordering.console import board

STATUSES = ("created", "paid", "accepted", "preparing", "ready", "picked_up",
            "out_for_delivery", "delivered", "completed", "cancelled", "rejected")


def test_every_status_but_awaiting_payment_has_one_column():
    for status in STATUSES:
        found = [c.key for c in board.COLUMNS if status in c.statuses]
        assert len(found) == (0 if status == "created" else 1), status
    assert board.column_of("paid") == "new" and board.column_of("created") is None
    assert board.column_of("accepted") == board.column_of("preparing") == "preparing"
    assert set(board.STATUS_LABELS) == set(STATUSES)


def test_buttons_follow_the_allowed_transitions():
    keys = {s: [a.key for a in board.actions_for(s, "pickup")] for s in STATUSES}
    assert keys["paid"] == ["accept", "reject"]
    assert keys["accepted"] == ["start", "ready", "cancel"]
    assert keys["preparing"] == ["ready", "cancel"]
    assert keys["ready"] == [] and board.awaits_scan("ready", "pickup")
    assert [a.key for a in board.actions_for("ready", "delivery")] == ["dispatch"]
    assert not board.awaits_scan("ready", "delivery")
    assert [a.key for a in board.actions_for("out_for_delivery", "delivery")] == ["delivered"]
    for ended in ("created", "picked_up", "delivered", "completed", "cancelled", "rejected"):
        assert board.actions_for(ended, "pickup") == [] or ended == "created"
    assert all(a.needs_reason for a in board.ACTIONS.values() if a.key in ("reject", "cancel"))


def test_local_days_and_waiting_minutes():
    start, end = board.day_bounds(date(2026, 12, 7), "Asia/Shanghai")
    assert start.astimezone(UTC) == datetime(2026, 12, 6, 16, 0, tzinfo=UTC)
    assert (end - start).total_seconds() == 86_400
    paid = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    assert board.minutes_waiting(paid, datetime(2026, 12, 7, 2, 7, 59, tzinfo=UTC)) == 7
    assert board.minutes_waiting(None, paid) is None
