"""Parquet export: typed schema round trip, day partitions, re-runs replace a day, incremental."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from sqlalchemy import select

from tests.miniapps.shell_data import make_miniapp
from townsquare.core.clock import clock
from townsquare.events import intake
from townsquare.events.export import SCHEMA, day_dir, export_events
from townsquare.miniapps.models import MiniApp

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
SUB = "ou_" + "ef" * 16


def _record(database, app_id: str, event_id: str, at: datetime, **fields) -> None:
    with database.unit_of_work() as db:
        miniapp = db.scalar(select(MiniApp).where(MiniApp.public_id == app_id))
        assert intake.record(db, miniapp=miniapp, event_id=event_id, occurred_at=at, sub=SUB,
                             **fields)


def _read(out) -> pa.Table:
    return ds.dataset(out, format="parquet", partitioning="hive").to_table()


def test_round_trip_by_day(database, tmp_path):
    clock.freeze(NOW)
    app_id = make_miniapp(database).id
    _record(database, app_id, "o1", NOW - timedelta(days=2), type="order_placed",
            order_id="o1", amount_fen=1999)
    _record(database, app_id, "r1", NOW - timedelta(days=1, hours=1), type="rating", rating=4)
    _record(database, app_id, "v1", NOW - timedelta(days=1, hours=2), type="visit",
            city="武汉", community="幸福里")
    out = tmp_path / "events"
    with database.unit_of_work() as db:
        result = export_events(db, out_dir=out)
    assert result.rows == 3 and result.days == [date(2026, 3, 8), date(2026, 3, 9)]
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == [
        "date=2026-03-08", "date=2026-03-09"]
    files = list(day_dir(out, date(2026, 3, 9)).glob("part-*.parquet"))
    assert len(files) == 1 and pq.read_schema(files[0]) == SCHEMA
    rows = {row["type"]: row for row in _read(out).to_pylist()}
    assert rows["order_placed"]["amount_fen"] == 1999 and rows["order_placed"]["rating"] is None
    assert rows["order_placed"]["occurred_at"] == NOW - timedelta(days=2)
    assert rows["rating"]["rating"] == 4 and rows["rating"]["date"] == "2026-03-09"
    assert (rows["visit"]["city"], rows["visit"]["community"]) == ("武汉", "幸福里")
    assert rows["visit"]["event_id"] == intake.first_party_key(app_id, "v1")
    assert rows["visit"]["category_code"] == "grocery" and rows["visit"]["miniapp_id"] > 0


def test_rerun_replaces_a_day_and_incremental_runs_pick_late_events(database, tmp_path):
    clock.freeze(NOW)
    app_id = make_miniapp(database).id
    day1, day2 = NOW - timedelta(days=3), NOW - timedelta(days=1)
    _record(database, app_id, "a", day1, type="visit")
    _record(database, app_id, "b", day2, type="visit")
    out = tmp_path / "events"
    clock.freeze(NOW + timedelta(hours=1))
    with database.unit_of_work() as db:
        export_events(db, out_dir=out)
    clock.freeze(NOW + timedelta(hours=2))
    with database.unit_of_work() as db:
        again = export_events(db, out_dir=out)  # nothing new since the last run
    assert again.days == [] and _read(out).num_rows == 2

    _record(database, app_id, "late", day1 + timedelta(hours=1), type="visit")  # a late arrival
    clock.freeze(NOW + timedelta(hours=3))
    marker = day_dir(out, day2.date()) / "part-00000.parquet"
    untouched = marker.stat().st_mtime_ns
    with database.unit_of_work() as db:
        incremental = export_events(db, out_dir=out)
    assert incremental.days == [day1.date()] and incremental.rows == 2
    assert marker.stat().st_mtime_ns == untouched
    assert _read(out).num_rows == 3

    with database.unit_of_work() as db:  # an explicit re-run replaces, never appends
        export_events(db, out_dir=out, since=day1.date(), until=day2.date())
        export_events(db, out_dir=out, since=day1.date(), until=day1.date())
    table = _read(out)
    assert table.num_rows == 3 and len(set(table.column("event_id").to_pylist())) == 3
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp dirs left


def test_summaries_are_written_beside_each_day_and_not_read_as_events(database, tmp_path):
    from townsquare.scoring.metrics import write_day_activity
    from townsquare.scoring.partitions import ACTIVITY_FILE

    clock.freeze(NOW)
    app_id = make_miniapp(database).id
    _record(database, app_id, "v1", NOW - timedelta(days=1), type="visit")
    _record(database, app_id, "v2", NOW - timedelta(days=1, hours=1), type="visit")
    out = tmp_path / "events"
    with database.unit_of_work() as db:
        export_events(db, out_dir=out, summarise=write_day_activity)
    rollup = pq.read_table(day_dir(out, date(2026, 3, 9)) / ACTIVITY_FILE)
    assert rollup.column("n").to_pylist() == [1]  # one resident, active that day
    assert _read(out).num_rows == 2  # the events only


def test_a_check_re_exports_days_out_of_step_with_the_database(database, tmp_path):
    clock.freeze(NOW)
    app_id = make_miniapp(database).id
    day1, day2 = NOW - timedelta(days=3), NOW - timedelta(days=1)
    _record(database, app_id, "a", day1, type="visit")
    out = tmp_path / "events"
    clock.freeze(NOW + timedelta(hours=1))
    with database.unit_of_work() as db:
        export_events(db, out_dir=out)
    # an event stored with an old receipt time (as the simulator writes history) is not "new"
    clock.freeze(day2)
    _record(database, app_id, "old-receipt", day2, type="visit")
    # and a partition left by another database for a day with no events here
    stray = day_dir(out, (NOW - timedelta(days=2)).date())
    stray.mkdir()
    pq.write_table(pa.Table.from_pylist([{"event_id": "zz", "type": "visit"}], schema=SCHEMA),
                   stray / "part-00000.parquet")
    clock.freeze(NOW + timedelta(hours=2))
    with database.unit_of_work() as db:
        plain = export_events(db, out_dir=out)
    assert plain.days == [] and _read(out).num_rows == 2  # neither is noticed
    with database.unit_of_work() as db:
        checked = export_events(db, out_dir=out, check=(day1.date(), NOW.date()))
    assert checked.days == [day2.date()]  # the stray day is re-exported empty: removed
    assert not stray.exists()
    assert sorted(_read(out).column("event_id").to_pylist()) == sorted(
        intake.first_party_key(app_id, e) for e in ("a", "old-receipt"))


def test_late_events_re_export_their_own_days_only(database, tmp_path):
    clock.freeze(NOW)
    app_id = make_miniapp(database).id
    for n in range(1, 21):
        _record(database, app_id, f"v{n}", NOW - timedelta(days=n), type="visit")
    out = tmp_path / "events"
    clock.freeze(NOW + timedelta(hours=1))
    with database.unit_of_work() as db:
        export_events(db, out_dir=out)
    clock.freeze(NOW + timedelta(hours=2))
    _record(database, app_id, "old", NOW - timedelta(days=19, hours=1), type="visit")
    _record(database, app_id, "new", NOW - timedelta(days=1, hours=1), type="visit")
    clock.freeze(NOW + timedelta(hours=3))
    with database.unit_of_work() as db:
        late = export_events(db, out_dir=out)
    assert late.days == [(NOW - timedelta(days=19)).date(), (NOW - timedelta(days=1)).date()]


def test_a_copied_file_in_a_partition_is_out_of_step(database, tmp_path):
    import shutil

    clock.freeze(NOW)
    app_id = make_miniapp(database).id
    _record(database, app_id, "a", NOW - timedelta(days=1), type="visit")
    out = tmp_path / "events"
    with database.unit_of_work() as db:
        export_events(db, out_dir=out)
    folder = day_dir(out, (NOW - timedelta(days=1)).date())
    shutil.copy(folder / "part-00000.parquet", folder / "copy.parquet")
    assert _read(out).num_rows == 2
    with database.unit_of_work() as db:
        checked = export_events(db, out_dir=out, check=(NOW.date() - timedelta(days=2),
                                                         NOW.date()))
    assert checked.days == [(NOW - timedelta(days=1)).date()]
    assert _read(out).num_rows == 1 and not (folder / "copy.parquet").exists()
