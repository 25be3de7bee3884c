"""A page that is a whole document of its own (not extending base.html) names the site's icon:
otherwise the browser asks for /favicon.ico, which is not served, and logs a 404 on the page
(the order console's printable ticket did). Framed documents are not asked for an icon."""

from __future__ import annotations

import re
from pathlib import Path

import townsquare

PACKAGE = Path(townsquare.__file__).resolve().parent
FRAMED = {"miniapps/templates/miniapps/shell_frame.html"}  # only ever inside the shell's iframe


def test_every_standalone_page_links_the_icon():
    missing = []
    for path in sorted(PACKAGE.glob("*/templates/**/*.html")):
        text = path.read_text(encoding="utf-8")
        if not re.search(r"<!doctype html", text, re.I):
            continue
        where = str(path.relative_to(PACKAGE))
        if where not in FRAMED and 'rel="icon"' not in text:
            missing.append(where)
    assert missing == []
