"""Vendor the browser libraries the pages use from the npm registry into web/static/vendor/.

Run it when an icon is added to `townsquare.web.icons` or a version below changes (`make vendor`);
it needs npm, the app and CI do not: the files it writes are committed. Only the icons the code
names are copied (the whole set is about 2,500 files), each package with its licence.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from townsquare.web import icons  # noqa: E402 (after the path is set)

VENDOR = ROOT / "src" / "townsquare" / "web" / "static" / "vendor"
ECHARTS = "echarts@6.1.0"
LUCIDE = f"lucide-static@{icons.LUCIDE_VERSION}"


def unpack(spec: str, into: Path) -> Path:
    """`npm pack` the package (a tarball from the registry, no install scripts run) and
    extract it; returns its `package/` folder."""
    name = subprocess.run(
        ["npm", "pack", "--silent", spec], cwd=into, check=True, capture_output=True, text=True
    ).stdout.strip().splitlines()[-1]
    target = into / spec.split("@")[-2].strip("/").replace("/", "-")
    with tarfile.open(into / name) as tar:
        tar.extractall(target, filter="data")
    return target / "package"


def copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    print(f"{target.relative_to(ROOT)}  {target.stat().st_size:,} bytes")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        echarts = unpack(ECHARTS, work)
        out = VENDOR / "echarts"
        shutil.rmtree(out, ignore_errors=True)
        # the "common" build: line, bar, pie and scatter charts, the usual components and both
        # renderers — all the consoles use, at 0.7 MB instead of the full build's 1.1 MB
        copy(echarts / "dist" / "echarts.common.min.js", out / "echarts.common.min.js")
        copy(echarts / "LICENSE", out / "LICENSE")
        copy(echarts / "NOTICE", out / "NOTICE")
        copy(echarts / "licenses" / "LICENSE-d3", out / "LICENSE-d3")

        lucide = unpack(LUCIDE, work)
        out = VENDOR / "lucide"
        shutil.rmtree(out, ignore_errors=True)
        copy(lucide / "LICENSE", out / "LICENSE")
        for name in sorted(icons.used_icons()):
            copy(lucide / "icons" / f"{name}.svg", out / f"{name}.svg")


if __name__ == "__main__":
    main()
