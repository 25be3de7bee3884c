"""Chart primitives for small server-rendered SVG charts (no JavaScript needed to read them): the
frame every chart shares, its sizes, and a 0..100 axis. Each wing draws its own series."""

from __future__ import annotations

from html import escape

from markupsafe import Markup

WIDTH, HEIGHT, PAD = 560, 200, 32


def svg(body: str, label: str, height: int = HEIGHT) -> Markup:
    """The chart frame: an accessible SVG of the common width around `body`."""
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">{body}</svg>'
    )


def percent_y(value: float, height: int = HEIGHT) -> float:
    """The y of a 0..100 value (clamped) inside the padded frame."""
    return height - PAD - (height - 2 * PAD) * max(0.0, min(value, 100.0)) / 100


def percent_grid(height: int = HEIGHT) -> str:
    """Grid lines and labels at 0, 50 and 100."""
    lines = []
    for mark in (0, 50, 100):
        y = percent_y(mark, height)
        lines.append(
            f'<line x1="{PAD}" y1="{y:.1f}" x2="{WIDTH - 8}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{PAD - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">{mark}</text>'
        )
    return "".join(lines)
