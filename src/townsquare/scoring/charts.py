"""Small server-rendered SVG charts for the scoring pages, drawn in `web.charts`' frame."""

from __future__ import annotations

from html import escape

from markupsafe import Markup

from townsquare.web.charts import HEIGHT, PAD, WIDTH, percent_grid, percent_y, svg


def trend(points: list[tuple[str, float | None]], *, label: str) -> Markup:
    """Overall score per cycle as a line (cycles without a score leave a gap)."""
    if not points:
        return Markup("")
    step = (WIDTH - PAD - 24) / max(len(points) - 1, 1)
    parts, path, dots = [percent_grid()], [], []
    for i, (name, value) in enumerate(points):
        x = PAD + 8 + i * step
        if i % max(1, len(points) // 8) == 0 or i == len(points) - 1:
            parts.append(
                f'<text x="{x:.1f}" y="{HEIGHT - 10}" text-anchor="middle" class="axis">'
                f"{escape(name)}</text>"
            )
        if value is None:
            path.append("")
            continue
        y = percent_y(value)
        path.append(f"{x:.1f},{y:.1f}")
        dots.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" class="dot"><title>{escape(name)}: '
            f"{value:.1f}</title></circle>"
        )
    for segment in " ".join(path).split("  "):
        if segment.strip():
            parts.append(f'<polyline points="{segment.strip()}" class="line"/>')
    return svg("".join(parts + dots), label)


def pillars(
    rows: list[tuple[str, float | None, float | None, float | None]], *, label: str
) -> Markup:
    """Horizontal bars: the app's value (0..100) with the peer median and top-quartile marks."""
    row_h, height = 34, 34 * max(len(rows), 1) + 24
    left, right = 140, WIDTH - 50
    span = right - left
    parts = []
    for i, (name, value, median, p75) in enumerate(rows):
        y = 12 + i * row_h
        parts.append(
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end" class="axis">'
            f"{escape(name)}</text>"
        )
        parts.append(f'<rect x="{left}" y="{y}" width="{span}" height="20" class="track"/>')
        if value is not None:
            w = span * max(0.0, min(value, 100.0)) / 100
            parts.append(
                f'<rect x="{left}" y="{y}" width="{w:.1f}" height="20" class="bar"/>'
                f'<text x="{left + w + 4:.1f}" y="{y + 15}" class="value">'
                f"{value:.0f}</text>"
            )
        for mark, css in ((median, "median"), (p75, "p75")):
            if mark is not None:
                x = left + span * max(0.0, min(mark, 100.0)) / 100
                parts.append(
                    f'<line x1="{x:.1f}" y1="{y - 3}" x2="{x:.1f}" y2="{y + 23}" class="{css}"/>'
                )
    return svg("".join(parts), label, height)


def histogram(counts: list[int], *, label: str) -> Markup:
    """Scores in ten bands of ten points."""
    top = max(counts) if counts and max(counts) > 0 else 1
    bar_w = (WIDTH - PAD - 16) / max(len(counts), 1)
    parts = []
    for i, count in enumerate(counts):
        h = (HEIGHT - 2 * PAD) * count / top
        x = PAD + i * bar_w
        y = HEIGHT - PAD - h
        band = f"{i * 10}–{i * 10 + 10}"
        parts.append(
            f'<rect x="{x + 2:.1f}" y="{y:.1f}" width="{bar_w - 4:.1f}" height="{h:.1f}" '
            f'class="bar"><title>{band}: {count}</title></rect>'
            f'<text x="{x + bar_w / 2:.1f}" y="{HEIGHT - 12}" text-anchor="middle" class="axis">'
            f"{i * 10}</text>"
        )
        if count:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" '
                f'class="value">{count}</text>'
            )
    return svg("".join(parts), label)
