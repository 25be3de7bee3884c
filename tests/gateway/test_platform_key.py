"""The platform's signing key is made by `townsquare migrate` (so no gateway call pays for RSA
key generation), once: migrating again keeps it, and processes asking at the same moment on
PostgreSQL end with one key between them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from townsquare.cli import app as cli
from townsquare.core.database import Database, advisory_lock
from townsquare.core.settings import get_settings
from townsquare.gateway.models import PlatformKey

SRC = Path(__file__).resolve().parents[2] / "src"
SECRET = "test-secret-key-for-townsquare"


def _keys(database: Database) -> list[str]:
    with database.unit_of_work(read_only=True) as db:
        return list(db.scalars(select(PlatformKey.fingerprint)))


def test_migrate_makes_the_platform_key_once(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    monkeypatch.setenv("TOWNSQUARE_DATABASE_URL", url)
    monkeypatch.setenv("TOWNSQUARE_SECRET_KEY", SECRET)
    monkeypatch.setenv("TOWNSQUARE_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        first = CliRunner().invoke(cli, ["migrate"])
        again = CliRunner().invoke(cli, ["migrate"])
    finally:
        get_settings.cache_clear()
    assert first.exit_code == 0, first.output
    assert again.exit_code == 0, again.output
    database = Database(url)
    try:
        [fingerprint] = _keys(database)
    finally:
        database.dispose()
    assert fingerprint in first.output and fingerprint in again.output


def _waiting_for_locks(database: Database) -> int:
    with database.engine.connect() as conn:
        return conn.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"))


@pytest.mark.postgres_only
def test_processes_starting_at_once_make_one_key(database, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(SRC), "TOWNSQUARE_DATABASE_URL": database.url,
           "TOWNSQUARE_SECRET_KEY": SECRET, "TOWNSQUARE_DATA_DIR": str(tmp_path)}
    holder = database.sessions()
    advisory_lock(holder, "gateway-platform-key")  # both find no key, then queue behind this
    processes = [
        subprocess.Popen([sys.executable, "-m", "townsquare.cli", "gateway", "key"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 120
        while _waiting_for_locks(database) < 2 and time.monotonic() < deadline:
            assert all(p.poll() is None for p in processes), [p.communicate() for p in processes]
            time.sleep(0.05)
        assert _waiting_for_locks(database) == 2
    finally:
        holder.rollback()  # the lock goes with the transaction
        holder.close()
    outputs = [p.communicate(timeout=120)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    [fingerprint] = _keys(database)
    assert all(f"platform key {fingerprint}" in out for out in outputs), outputs
    with database.unit_of_work(read_only=True) as db:
        assert db.scalar(select(func.count()).select_from(PlatformKey)) == 1
