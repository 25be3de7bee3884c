"""The same metrics expression on DuckDB and on PySpark gives identical results."""

from __future__ import annotations

import os
import random
import shutil
from datetime import date

import pytest

from townsquare.scoring import metrics, partitions

from .events_fixture import Events, roll_up

pytestmark = [pytest.mark.spark, pytest.mark.filterwarnings("ignore::FutureWarning")]

TYPES = ("visit", "exposure", "click", "order_placed", "order_fulfilled", "order_cancelled",
         "refund", "complaint", "rating", "message_response")
PUNCTUAL = ("order_accepted", "order_ready", "delivery_done", "delivery_incident")


@pytest.fixture(scope="session")
def spark():
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:  # Spark runs on the JVM
        if os.environ.get("CI"):
            pytest.fail("a Java runtime is required in CI (apt-get install default-jre-headless)")
        pytest.skip("no Java runtime for PySpark")
    session = metrics.spark_session(master="local[1]", memory="512m")
    yield session
    session.stop()
    metrics.reset_spark()


def _dataset(root):
    rnd = random.Random(7)
    ev = Events()
    for _ in range(1500):
        kind = rnd.choice(TYPES)
        extra = {}
        if kind == "order_placed":
            extra["amount_fen"] = rnd.randint(100, 9000)
        elif kind == "complaint":
            extra["resolution"] = rnd.choice(["", "resolved", "unresolved"])
        elif kind == "rating":
            extra["rating"] = rnd.randint(1, 5)
        elif kind == "message_response":
            extra["response_seconds"] = rnd.randint(1, 5000)
        ev.add(
            kind, day=rnd.randint(1, 28), hour=rnd.randint(0, 23), app=rnd.randint(1, 12),
            user_sub=f"u{rnd.randint(1, 40)}", city=rnd.choice(["hz", "sh", ""]),
            community=rnd.choice(["", "c1", "c2", "c3"]), **extra,
        )
    # the platform-observed punctuality events, drawn apart (the draws above stay as they were)
    punctual = random.Random(11)
    for _ in range(400):
        kind = punctual.choice(PUNCTUAL)
        extra = {"order_id": f"o{punctual.randint(1, 60)}"}
        if kind == "delivery_incident":
            extra["complaint_category"] = punctual.choice(["cancelled", "returning"])
        else:
            extra["resolution"] = punctual.choice(["on_time", "late", ""])
        ev.add(kind, day=punctual.randint(1, 28), hour=punctual.randint(0, 23),
               app=punctual.randint(1, 12), user_sub=f"u{punctual.randint(1, 40)}", **extra)
    # every other event the platform's own record, the rest a mini-app's word (scoring/trusted.py)
    for i, row in enumerate(ev.rows):
        if i % 2:
            row["event_id"] = "platform:" + row["event_id"]
    ev.write(root)
    complaints = [r["event_id"] for r in ev.rows if r["type"] == "complaint"]
    return root, complaints[::3]


@pytest.mark.parametrize("layout", ["day-partitions", "time-filter", "rolled-up"])
def test_duckdb_and_pyspark_agree(spark, tmp_path, layout):
    root, dismissed = _dataset(tmp_path / "events")
    stray = layout == "time-filter"
    if stray:  # a file with events outside its day: the time filter is applied (see _inside)
        extra = Events()
        extra.add("visit", day=2, app=3)
        extra.add("order_placed", day=26, app=4, amount_fen=50)
        extra.add("visit", day=9, app=5)
        for i, part in enumerate(sorted(extra.write(tmp_path / "extra").rglob("*.parquet"))):
            part.rename(root / "date=2026-03-10" / f"stray-{i}.parquet")
    kwargs = dict(as_of=date(2026, 3, 25), window_days=21, excluded=dismissed,
                  half_life_days=7.0, self_report_weight=0.25)
    start, end = metrics.window_bounds(kwargs["as_of"], kwargs["window_days"])
    files = partitions.partition_files(root, as_of=kwargs["as_of"], window_days=21)
    assert partitions.inside(files, start, end) is not stray
    from_events = metrics.compute(root, backend="duckdb", **kwargs)
    if layout == "rolled-up":  # every day's activity from the export's rollups
        roll_up(root)
    duck = metrics.compute(root, backend="duckdb", **kwargs)
    sparked = metrics.compute(root, backend="pyspark", **kwargs)
    assert duck.schema.equals(sparked.schema)
    assert duck.num_rows == 12
    assert duck.to_pylist() == sparked.to_pylist() == from_events.to_pylist()
