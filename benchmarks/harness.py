"""What the benchmark scripts share: a free local port and a uvicorn process for a server under
test, waiting for it to answer, driving it with keep-alive clients, CPU time and percentiles, and
writing a run's figures between a section's markers in a Markdown page
(docs/benchmarks.md by default)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS_PAGE = ROOT / "docs" / "benchmarks.md"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(base: str, *, seconds: float) -> None:
    """Wait until the server at `base` answers its health check; raise after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(f"{base}/api/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.2)


def write_section(marker: str, heading: str, text: str, *, page: Path = BENCHMARKS_PAGE,
                  title: str = "Benchmarks") -> Path:
    """Replace what stands between `<!-- marker:start -->` and `<!-- marker:end -->`, or append
    the section under `## heading` (a missing page is created with `# title`); returns it."""
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    block = f"{start}\n{text.rstrip()}\n{end}"
    doc = page.read_text(encoding="utf-8") if page.exists() else f"# {title}\n"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    if pattern.search(doc):
        doc = pattern.sub(lambda _: block, doc, count=1)
    else:
        doc = doc.rstrip("\n") + f"\n\n## {heading}\n\n{block}\n"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(doc, encoding="utf-8")
    return page


def cpu_seconds(*pids: int) -> float:
    """User + system CPU time of these processes so far (Linux /proc; NaN when none is read)."""
    total, read = 0.0, False
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        read = True
    return total if read else float("nan")


def server_ms(log: Path, path: str) -> list[float]:
    """The server's own time (ms) of each request to `path`, from its structured request log."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        if '"request"' not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == "request" and entry.get("path") == path:
            found.append(float(entry["ms"]))
    return found


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def drive(base: str, clients: int, count: int,
          send: Callable[[httpx.Client, int], bool | int]) -> dict[str, Any]:
    """`count` requests over `clients` keep-alive threads; `send(session, i)` makes one and
    answers whether it did what was expected (or how many items it served)."""
    latencies: list[float] = []
    good = 0
    lock = threading.Lock()
    counter = iter(range(count))

    def client() -> None:
        nonlocal good
        with httpx.Client(base_url=base, timeout=120) as session:
            for i in counter:
                started = time.perf_counter()
                ok = send(session, i)
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    good += int(ok)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"wall": time.perf_counter() - started, "latencies": latencies, "good": good}


@contextmanager
def uvicorn_server(env: Mapping[str, str], *, log: Path | None = None,
                   seconds: float = 240) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`townsquare.app:create_app` in a uvicorn process of its own on a free local port, with
    these TOWNSQUARE_* settings; yields its base URL and process once it answers."""
    port = free_port()
    sink = log.open("w") if log else None
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "townsquare.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
         "--no-access-log"],
        env={**os.environ, **env}, stdout=subprocess.DEVNULL,
        stderr=sink or subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, seconds=seconds)
        yield base, server
    finally:
        server.terminate()
        server.wait(timeout=30)
        if sink:
            sink.close()
