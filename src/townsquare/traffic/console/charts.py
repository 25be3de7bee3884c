"""The traffic consoles' charts (ECharts through `web.charts`): exposure by source per day
(stacked bars), planned against delivered per promise, and the Lorenz curve of exposure
concentration."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from markupsafe import Markup

from townsquare.core.i18n import gettext
from townsquare.web.charts import PALETTE, Series, axis_name, bars, figure

PLANNED, DELIVERED, REQUESTED = "#93c5fd", "#2563eb", "#d1d5db"


def stacked_days(
    days: Sequence[date],
    series: Mapping[date, Mapping[str, int]],
    *,
    sources: Sequence[tuple[str, str]],
    label: str,
    y_name: str = "",
    chart_id: str = "",
) -> Markup:
    """One bar per day, stacked by source. `sources` is (key, shown name), in stacking order;
    `y_name` names what is counted (impressions, clicks)."""
    if not days:
        return Markup("")
    shown = [(key, name) for key, name in sources
             if any(series.get(d, {}).get(key, 0) > 0 for d in days)] or list(sources[:1])
    colours = {key: PALETTE[i % len(PALETTE)] for i, (key, _name) in enumerate(sources)}
    return bars(
        [f"{d.month}/{d.day}" for d in days],
        [Series(name, [series.get(d, {}).get(key, 0) for d in days], colours[key])
         for key, name in shown],
        x_name=gettext("Day"), y_name=axis_name(y_name or gettext("Count"), gettext("times")),
        label=label, stacked=True, table_labels=[d.isoformat() for d in days], chart_id=chart_id,
    )


def planned_delivered(
    rows: Sequence[tuple[str, int, int, int]], *, label: str, legend: Sequence[str]
) -> Markup:
    """Per promise (name, requested, planned, delivered): three bars side by side. `legend`
    names requested, planned and delivered."""
    if not rows:
        return Markup("")
    figures = ([r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows])
    colours = (REQUESTED, PLANNED, DELIVERED)
    return bars(
        [r[0] for r in rows],
        [Series(name, values, colour)
         for name, values, colour in zip(legend, figures, colours, strict=True)],
        x_name=gettext("Promise"),
        y_name=axis_name(gettext("Impressions"), gettext("times")),
        label=label, horizontal=True, height=70 + 46 * len(rows), chart_id="promise-chart",
    )


def lorenz(points: Sequence[tuple[float, float]], *, gini: float, label: str) -> Markup:
    """The Lorenz curve against the line of equality (both axes 0..100 %)."""
    pairs = [[round(px * 100, 1), round(py * 100, 1)] for px, py in points]
    apps = axis_name(gettext("Cumulative share of mini-apps"), "%")
    shown = axis_name(gettext("Cumulative share of impressions"), "%")
    equality = gettext("Equal exposure")
    curve = gettext("Lorenz curve")
    option = {
        "animation": False,
        "title": {"text": f"Gini {gini:.2f}", "right": 8, "top": 0,
                  "textStyle": {"fontSize": 13, "color": "#374151"}},
        "tooltip": {"trigger": "axis", "confine": True},
        "legend": {"top": 0, "left": 0},
        "grid": {"left": 12, "right": 32, "top": 64, "bottom": 34, "containLabel": True},
        "xAxis": {"type": "value", "min": 0, "max": 100, "name": apps,
                  "nameLocation": "middle", "nameGap": 26},
        "yAxis": {"type": "value", "min": 0, "max": 100, "name": shown,
                  "nameLocation": "end", "nameGap": 14,
                  "nameTextStyle": {"align": "left", "fontWeight": "bold"}},
        "series": [
            {"name": equality, "type": "line", "data": [[0, 0], [100, 100]], "symbol": "none",
             "lineStyle": {"color": "#9ca3af", "type": "dashed"},
             "itemStyle": {"color": "#9ca3af"}},
            {"name": curve, "type": "line", "data": pairs, "symbolSize": 5,
             "areaStyle": {"color": "#bfdbfe"}, "lineStyle": {"color": "#2563eb"},
             "itemStyle": {"color": "#2563eb"}},
        ],
    }
    return figure(option, label=f"{label} · Gini {gini:.2f}", columns=[apps, shown],
                  rows=pairs, height=320, chart_id="lorenz-chart")
