"""The export's daily activity rollups: the same metrics as from the events, used only while
they match their partition."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from townsquare.scoring import metrics, partitions

from .events_fixture import Events, roll_up
from .test_metrics import AS_OF, _cols, world  # noqa: F401 (a fixture)


def _compute(root, **kwargs):
    return metrics.compute(root, as_of=AS_OF, window_days=14, **kwargs)


def test_rollups_give_the_same_metrics_and_are_read(world):  # noqa: F811
    root, _, _ = world
    from_events = _compute(root)
    roll_up(root)
    assert (root / "date=2026-03-12" / partitions.ACTIVITY_FILE).exists()
    files = partitions.partition_files(root, as_of=AS_OF, window_days=14)
    assert all("_summaries" not in f for f in files)
    assert _compute(root).equals(from_events)
    # the rollup is what is read: change its count, keep its sources
    path = root / "date=2026-03-12" / partitions.ACTIVITY_FILE
    rollup = pq.read_table(path)
    at = rollup.schema.get_field_index("n")
    doubled = rollup.set_column(at, "n", pa.compute.multiply(rollup["n"], 2))
    pq.write_table(doubled.replace_schema_metadata(rollup.schema.metadata), path)
    changed = _cols(_compute(root))[1]
    assert changed["dau_avg"] > _cols(from_events)[1]["dau_avg"]
    assert _compute(root, rollups=False).equals(from_events)


def test_with_every_day_rolled_up_exposures_are_not_read(world):  # noqa: F811
    root, _, _ = world
    roll_up(root)
    assert 2 in _cols(_compute(root))  # app 2 was only shown (day 12)
    path = root / "date=2026-03-12" / partitions.ACTIVITY_FILE
    rollup = pq.read_table(path)
    without = rollup.filter(pa.compute.not_equal(rollup["miniapp_id"], 2))
    pq.write_table(without.replace_schema_metadata(rollup.schema.metadata), path)
    assert 2 not in _cols(_compute(root))  # the rollups alone said it was shown
    assert 2 in _cols(_compute(root, rollups=False))


def test_a_rollup_is_ignored_once_its_partition_changed(world):  # noqa: F811
    root, _, _ = world
    roll_up(root)
    late = Events()
    late.add("visit", day=12, user_sub="u7")  # a new user on a rolled-up day
    for i, part in enumerate(sorted(late.write(root.parent / "late").rglob("*.parquet"))):
        part.rename(root / "date=2026-03-12" / f"late-{i}.parquet")
    one = _cols(_compute(root))[1]
    assert one["dau_avg"] == (9 + 1) / 14  # u1..u3's nine user-days and u7's
    assert _compute(root).equals(_compute(root, rollups=False))


def test_a_partition_holding_another_days_events_turns_rollups_off(world):  # noqa: F811
    root, _, _ = world
    roll_up(root)
    stray = Events()
    stray.add("visit", day=16, user_sub="u8")  # a day-16 event in day 14's partition
    for i, part in enumerate(sorted(stray.write(root.parent / "stray").rglob("*.parquet"))):
        part.rename(root / "date=2026-03-14" / f"stray-{i}.parquet")
    one = _cols(_compute(root))[1]
    assert one["dau_avg"] == (9 + 1) / 14
    assert _compute(root).equals(_compute(root, rollups=False))


def test_a_dismissed_complaint_still_shows_the_resident_was_active(tmp_path):
    ev = Events()
    ev.add("order_placed", day=10, amount_fen=100)
    dismissed = ev.add("complaint", day=11, user_sub="u2")  # u2's only event
    root = ev.write(tmp_path / "events")
    plain = _cols(_compute(root, excluded=[dismissed]))[1]
    assert plain["complaints"] == 0
    assert plain["dau_avg"] == 2 / 14 and plain["days_active"] == 2
    roll_up(root)
    assert _cols(_compute(root, excluded=[dismissed]))[1] == plain


def test_a_rollup_is_ignored_once_a_file_is_rewritten_in_place(world):  # noqa: F811
    root, _, _ = world
    roll_up(root)
    part = root / "date=2026-03-20" / "part-0.parquet"  # u3's visit
    table = pq.read_table(part)
    users = pa.array([""] * table.num_rows, pa.string())  # an unknown visitor now
    pq.write_table(table.set_column(table.schema.get_field_index("user_sub"), "user_sub", users),
                   part)  # same name, same rows, other content
    assert _cols(_compute(root))[1]["dau_avg"] == 8 / 14  # u3's user-day is gone
    assert _compute(root).equals(_compute(root, rollups=False))


def test_a_rollup_of_another_version_is_not_used(world):  # noqa: F811
    root, _, _ = world
    roll_up(root)
    assert partitions.rollup(root / "date=2026-03-12", partitions.event_files(
        root / "date=2026-03-12"))
    path = root / "date=2026-03-12" / partitions.ACTIVITY_FILE
    rollup = pq.read_table(path)
    meta = dict(rollup.schema.metadata)
    meta[b"townsquare.rollup_version"] = b"0"
    pq.write_table(rollup.replace_schema_metadata(meta), path)
    assert partitions.rollup(root / "date=2026-03-12", partitions.event_files(
        root / "date=2026-03-12")) is None
