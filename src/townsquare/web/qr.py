"""QR codes in pages: the one way every code a person must scan (pass codes now; pickup and
payment codes later) is drawn, so that it scans at any size the page gives it.

The SVG carries a `viewBox` and no width or height, so CSS sizes the whole symbol (never crops
it); a white background and a four-module quiet zone sit inside the drawing (readers need the
margin, and a page's colour or border must not touch the modules); edges are drawn crisp so the
modules stay black and white when scaled to fractional pixels. Error correction M keeps a code
readable on a cracked or dim phone screen."""

from __future__ import annotations

import io
from html import escape

import segno
from markupsafe import Markup

QUIET_ZONE = 4  # modules of white around the symbol, as ISO/IEC 18004 asks
DARK = "#111827"
LIGHT = "#ffffff"


def qr_svg(payload: str, *, label: str, css_class: str = "qr") -> Markup:
    """`payload` as an inline, scalable SVG QR code with an accessible `label`."""
    buffer = io.BytesIO()
    segno.make(payload, error="m", micro=False).save(
        buffer,
        kind="svg",
        scale=1,
        border=QUIET_ZONE,
        dark=DARK,
        light=LIGHT,
        omitsize=True,  # viewBox only: CSS decides the size
        xmldecl=False,
        svgns=True,
        svgclass=None,
        lineclass=None,
    )
    drawing = buffer.getvalue().decode()
    opening = (
        f'<svg class="{escape(css_class)}" role="img" aria-label="{escape(label)}" '
        'shape-rendering="crispEdges" preserveAspectRatio="xMidYMid meet"'
    )
    return Markup(drawing.replace("<svg", opening, 1))
