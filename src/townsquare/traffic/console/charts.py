"""Small server-rendered SVG charts for the traffic consoles: exposure by source per day (stacked
bars), planned against delivered per promise, and the Lorenz curve of exposure concentration.

Same frame and look as the scoring charts (`web.charts`' `svg` frame and sizes); series
colours are inline so the charts need no stylesheet change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from html import escape

from markupsafe import Markup

from townsquare.web.charts import HEIGHT, PAD, WIDTH, svg

PALETTE = ("#2563eb", "#16a34a", "#f59e0b", "#db2777", "#7c3aed", "#6b7280", "#0891b2")
PLANNED, DELIVERED, REQUESTED = "#93c5fd", "#2563eb", "#e5e7eb"


def _nice_top(value: float) -> int:
    """A round axis maximum at or above `value` (1, 2, 5 × a power of ten)."""
    if value <= 0:
        return 1
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= value:
                return m * step
        step *= 10


def _text_width(text: str) -> float:
    """Rough width at the 11px axis font: CJK characters are about twice as wide as Latin."""
    return sum(11.0 if ord(ch) > 0x2E80 else 6.2 for ch in text)


def _legend(items: Sequence[tuple[str, str]], y: int) -> str:
    parts, x = [], float(PAD)
    for name, colour in items:
        parts.append(
            f'<rect x="{x:.0f}" y="{y - 9}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14:.0f}" y="{y}" class="axis">{escape(name)}</text>'
        )
        x += 26 + _text_width(name)
    return "".join(parts)


def stacked_days(
    days: Sequence[date],
    series: Mapping[date, Mapping[str, int]],
    *,
    sources: Sequence[tuple[str, str]],
    label: str,
) -> Markup:
    """One bar per day, stacked by source. `sources` is (key, shown name), in stacking order."""
    if not days:
        return Markup("")
    height = HEIGHT + 24  # room for the legend
    base = HEIGHT - PAD
    top = _nice_top(max((sum(series.get(d, {}).values()) for d in days), default=0))
    colours = {key: PALETTE[i % len(PALETTE)] for i, (key, _name) in enumerate(sources)}
    names = dict(sources)
    bar_w = (WIDTH - PAD - 16) / len(days)
    parts = [
        f'<line x1="{PAD}" y1="{base}" x2="{WIDTH - 8}" y2="{base}" class="grid"/>'
        f'<line x1="{PAD}" y1="{PAD}" x2="{WIDTH - 8}" y2="{PAD}" class="grid"/>'
        f'<text x="{PAD - 6}" y="{PAD + 4}" text-anchor="end" class="axis">{top}</text>'
        f'<text x="{PAD - 6}" y="{base + 4}" text-anchor="end" class="axis">0</text>'
    ]
    for i, day in enumerate(days):
        x, y = PAD + i * bar_w, float(base)
        counts = series.get(day, {})
        for key, _name in sources:
            value = counts.get(key, 0)
            if value <= 0:
                continue
            h = (base - PAD) * value / top
            y -= h
            parts.append(
                f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{max(bar_w - 2, 1):.1f}" '
                f'height="{h:.1f}" fill="{colours[key]}" data-source="{escape(key)}">'
                f"<title>{day.isoformat()} {escape(names[key])}: {value}</title></rect>"
            )
        if i % max(1, len(days) // 7) == 0 or i == len(days) - 1:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{HEIGHT - 12}" text-anchor="middle" '
                f'class="axis">{day.month}/{day.day}</text>'
            )
    shown = {k for counts in series.values() for k, v in counts.items() if v > 0}
    parts.append(_legend([(n, colours[k]) for k, n in sources if k in shown], height - 8))
    return svg("".join(parts), label, height)


def planned_delivered(
    rows: Sequence[tuple[str, int, int, int]], *, label: str, legend: Sequence[str]
) -> Markup:
    """Per promise (name, requested, planned, delivered): a requested track, the planned bar and
    the delivered bar inside it. `legend` names requested, planned and delivered."""
    if not rows:
        return Markup("")
    row_h = 30
    height = row_h * len(rows) + 40
    left, right = 150, WIDTH - 110  # room for the "delivered/planned/requested" figures
    span = right - left
    top = _nice_top(max(max(r[1], r[2], r[3]) for r in rows))
    parts = []
    for i, (name, requested, planned, delivered) in enumerate(rows):
        y = 8 + i * row_h
        short = name if len(name) <= 14 else name[:13] + "…"
        parts.append(
            f'<text x="{left - 8}" y="{y + 14}" text-anchor="end" class="axis">'
            f"<title>{escape(name)}</title>{escape(short)}</text>"
        )
        for value, colour, inset in (
            (requested, REQUESTED, 0), (planned, PLANNED, 2), (delivered, DELIVERED, 6)
        ):
            w = span * value / top
            parts.append(
                f'<rect x="{left}" y="{y + inset}" width="{w:.1f}" height="{20 - 2 * inset}" '
                f'fill="{colour}"/>'
            )
        parts.append(
            f'<text x="{left + span * max(requested, planned, delivered) / top + 4:.1f}" '
            f'y="{y + 14}" class="value">{delivered}/{planned}/{requested}</text>'
        )
    colours = (REQUESTED, PLANNED, DELIVERED)
    parts.append(_legend(list(zip(legend, colours, strict=True)), height - 8))
    return svg("".join(parts), label, height)


def lorenz(points: Sequence[tuple[float, float]], *, gini: float, label: str) -> Markup:
    """The Lorenz curve against the line of equality (a square plot, both axes 0..100%)."""
    size = HEIGHT - 2 * PAD
    left = (WIDTH - size) / 2

    def xy(px: float, py: float) -> str:
        return f"{left + px * size:.1f},{PAD + (1 - py) * size:.1f}"

    curve = " ".join(xy(px, py) for px, py in points)
    parts = [
        f'<rect x="{left}" y="{PAD}" width="{size}" height="{size}" class="track"/>',
        f'<polyline points="{xy(0, 0)} {xy(1, 1)}" class="grid"/>',
        f'<polygon points="{curve} {xy(1, 0)}" fill="#bfdbfe"/>' if len(points) > 1 else "",
        f'<polyline points="{curve}" class="line"/>',
        f'<text x="{left - 6}" y="{PAD + 4}" text-anchor="end" class="axis">100%</text>',
        f'<text x="{left - 6}" y="{PAD + size + 4}" text-anchor="end" class="axis">0</text>',
        f'<text x="{left + size}" y="{PAD + size + 16}" text-anchor="end" class="axis">100%</text>',
        f'<text x="{left + size + 10}" y="{PAD + size / 2}" class="value">'
        f"Gini {gini:.2f}</text>",
    ]
    return svg("".join(parts), label)
