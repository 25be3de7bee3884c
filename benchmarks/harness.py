"""What the benchmark scripts share: a free local port for a server under test, waiting for that
server to answer, and writing a run's figures between a section's markers in a Markdown page
(docs/benchmarks.md by default)."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

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
