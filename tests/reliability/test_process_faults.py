"""Issue 13, items 8–10: the server's workers get time to start and start cheaply, a killed
export's leftovers are swept by the next export, and write-behind flushes on size as well as
time (what a SIGKILL can lose is bounded by rows, not only by seconds)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import uvicorn
from typer.testing import CliRunner

from townsquare.cli import app as cli
from townsquare.events.export import export_events
from townsquare.traffic.serving import exposure_writer

SRC = Path(__file__).resolve().parents[2] / "src"


def test_serve_gives_workers_a_configurable_start_up_timeout(monkeypatch):
    seen: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.append(kwargs))
    runner = CliRunner()
    assert runner.invoke(cli, ["serve", "--workers", "4"]).exit_code == 0
    assert runner.invoke(cli, ["serve", "--workers", "4", "--worker-timeout", "120"]).exit_code == 0
    assert seen[0]["timeout_worker_healthcheck"] == 60  # uvicorn's own default is 5 s
    assert seen[1]["timeout_worker_healthcheck"] == 120
    assert seen[0]["workers"] == 4
    refused = runner.invoke(cli, ["serve", "--worker-timeout", "0"])
    assert refused.exit_code == 2 and len(seen) == 2


def test_importing_the_app_loads_no_heavy_library_and_hashes_nothing():
    probe = (
        "import sys, json, townsquare.app\n"
        "from townsquare.core import security\n"
        "heavy = ['ortools', 'ibis', 'pyarrow', 'duckdb', 'pandas', 'pyspark', 'scipy']\n"
        "print(json.dumps({'loaded': [m for m in heavy if m in sys.modules],\n"
        "                  'hashed_at_import': security._DUMMY_HASH is not None}))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         env={"PYTHONPATH": str(SRC)}, check=True, timeout=120)
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found == {"loaded": [], "hashed_at_import": False}


def test_the_next_export_sweeps_a_killed_exports_leftovers(database, tmp_path):
    out = tmp_path / "events"
    stale_tmp = out / ".tmp-2024-03-01-deadbeef"
    stale_old = out / ".old-date=2024-03-01-cafebabe"
    for folder in (stale_tmp, stale_old):
        folder.mkdir(parents=True)
        (folder / "part-00000.parquet").write_bytes(b"half a file")
    with database.unit_of_work(read_only=True) as db:
        export_events(db, out_dir=out)
    assert not stale_tmp.exists() and not stale_old.exists()
    assert not [p for p in out.iterdir() if p.name.startswith((".tmp-", ".old-"))]


def test_write_behind_flushes_on_size_before_the_timer(database, monkeypatch):
    written: list[int] = []
    flushed = threading.Event()

    def record(_db, batch):
        written.append(len(batch.events))
        flushed.set()

    monkeypatch.setattr(exposure_writer, "write", record)
    writer = exposure_writer.ExposureWriter(database.engine, interval=3600, max_rows=1000,
                                            flush_rows=10)
    try:
        batch = exposure_writer.Batch()
        batch.events.extend((f"e{i}",) for i in range(4))
        writer.add(batch)  # below the threshold: waits for the (hour-long) timer
        time.sleep(0.05)
        assert written == []
        more = exposure_writer.Batch()
        more.events.extend((f"f{i}",) for i in range(6))
        writer.add(more)  # ten waiting: flushed now, not in an hour
        assert flushed.wait(30)
        assert written == [10] and writer.pending_events() == 0
    finally:
        writer.close()
