"""The two real Alipay SDKs as test clients, each installed once into its own directory under
var/sdk (they both install a top-level package named `alipay`) and run in a subprocess; and the
app served over real HTTP on a loopback address's port 80, because the official SDK connects
only to ports 80 and 443."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn

from townsquare.app import create_app
from townsquare.core.database import Database
from townsquare.core.settings import Settings

SDKS = {
    "official": "alipay-sdk-python==3.7.1411",
    "community": "python-alipay-sdk==3.4.0",
}
ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "var" / "sdk"
CLIENTS = Path(__file__).resolve().parent / "clients"


def sdk_dir(name: str) -> Path:
    """The SDK installed with pip into its own directory (once; concurrent workers race safely)."""
    target = CACHE / SDKS[name].replace("==", "-")
    if (target / ".complete").exists():
        return target
    staging = CACHE / f".{name}-{os.getpid()}-{random.randrange(10**9)}"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--target", str(staging), SDKS[name]],
        check=True, capture_output=True,
    )
    (staging / ".complete").touch()
    try:
        staging.rename(target)
    except OSError:  # another worker finished first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def run_sdk(name: str, job: dict[str, Any], *, tz: str = "Asia/Shanghai",
            script: str = "client") -> list[dict[str, Any]]:
    """Make the job's calls with one SDK (its process's local time zone `tz`) through its
    `clients/{name}_{script}.py`; one result per call."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(sdk_dir(name)),
        "TZ": tz,  # the SDKs stamp calls with local time, as on an ISV's server
        "PYTHONIOENCODING": "utf-8",
    }
    done = subprocess.run(
        [sys.executable, str(CLIENTS / f"{name}_{script}.py")],
        input=json.dumps(job), capture_output=True, text=True, env=env, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def serve_on_port_80(database: Database, settings: Settings) -> Iterator[str]:
    """The app over real HTTP on port 80 of a loopback address of its own (127.x.y.z): yields
    the gateway URL as an ISV would configure it."""
    app = create_app(settings, database)
    for _ in range(20):
        host = ".".join(["127", *(str(random.randrange(1, 255)) for _ in range(3))])
        server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=80, log_level="warning", access_log=False)
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if server.started:
            break
        server.should_exit = True
        thread.join(5)
    else:
        raise RuntimeError("could not serve on port 80 of a loopback address (needs root)")
    try:
        yield f"http://{host}/gateway.do"
    finally:
        server.should_exit = True
        thread.join(10)
