"""The shared QR drawing: scalable (viewBox, no fixed size), a white quiet zone of four modules
inside the drawing, and a payload that reads back."""

from __future__ import annotations

import re

import segno

from townsquare.web.qr import QUIET_ZONE, qr_svg

PAYLOAD = "k1.eyJjIjoiY29tX2FiYyJ9.c2lnbmF0dXJl"


def test_the_svg_is_sized_by_its_viewbox_only():
    svg = str(qr_svg(PAYLOAD, label="通行码"))
    opening = svg[: svg.index(">")]
    side = segno.make(PAYLOAD, error="m", micro=False).symbol_size(scale=1, border=QUIET_ZONE)[0]
    assert f'viewBox="0 0 {side} {side}"' in opening
    assert not re.search(r'\s(width|height)=', opening)
    assert 'class="qr"' in opening and 'aria-label="通行码"' in opening


def test_the_quiet_zone_is_white_and_inside_the_drawing():
    svg = str(qr_svg(PAYLOAD, label="x"))
    side = segno.make(PAYLOAD, error="m", micro=False).symbol_size(scale=1, border=QUIET_ZONE)[0]
    assert f'<path fill="#fff" d="M0 0h{side}v{side}h-{side}z"/>' in svg
    # the first dark run starts QUIET_ZONE modules in, on the first row of the symbol
    assert re.search(rf'd="M{QUIET_ZONE} {QUIET_ZONE}\.5h', svg)


def test_the_label_is_escaped():
    assert '&lt;b&gt;' in str(qr_svg(PAYLOAD, label="<b>"))
