"""Console charts: an ECharts option built here, drawn in the browser by static/charts.js with the
vendored ECharts (no inline script: the option travels in a `<script type="application/json">`
block), above a table of the same numbers that is open when JavaScript is off.

Each wing turns its figures into `Series` and calls `bars` or `lines` (or `figure` with its own
option); axes are always named, with their units.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from html import escape
from typing import Any

from markupsafe import Markup

from townsquare.core.i18n import gettext

Number = int | float | None
PALETTE = ("#2563eb", "#16a34a", "#f59e0b", "#db2777", "#7c3aed", "#6b7280", "#0891b2")
HEIGHT = 300


@dataclass(frozen=True)
class Series:
    """One series: its shown name, one value per label, and how it is drawn."""

    name: str
    values: Sequence[Number]
    colour: str | None = None
    kind: str = "bar"  # bar, line or scatter
    extra: Mapping[str, Any] = field(default_factory=dict)  # more ECharts series options


def axis_name(name: str, unit: str = "") -> str:
    """An axis title with its unit, e.g. 人次 (次) / Score (0–100)."""
    return f"{name} ({unit})" if unit else name


def _json(option: Mapping[str, Any]) -> str:
    """JSON safe inside a <script> element (no `</script>`, no HTML specials)."""
    text = json.dumps(option, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """The chart's numbers as a table: the first column names the row, the others are numbers."""
    head = "".join(
        f'<th scope="col" class="{"num" if i else "name"}">{escape(c)}</th>'
        for i, c in enumerate(columns)
    )
    body = "".join(
        f'<tr><th scope="row">{escape(str(row[0]))}</th>'
        + "".join(f'<td class="num">{escape(_cell(v))}</td>' for v in row[1:])
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def figure(
    option: Mapping[str, Any],
    *,
    label: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    height: int = HEIGHT,
    chart_id: str = "",
) -> Markup:
    """A chart and its data table. static/charts.js draws the option into the div and closes
    the table; without JavaScript the table stays open and the div stays empty."""
    ident = f' id="{escape(chart_id)}"' if chart_id else ""
    return Markup(
        f'<figure class="echart-figure"{ident}>'
        f"<figcaption>{escape(label)}</figcaption>"
        f'<div class="echart" role="img" aria-label="{escape(label)}" '
        f'data-height="{int(height)}"></div>'
        f'<script type="application/json" class="echart-option">{_json(option)}</script>'
        f'<details class="chart-data" open><summary>{escape(gettext("Data table"))}</summary>'
        f"{table(columns, rows)}</details></figure>"
    )


def _base(label: str, legend: bool) -> dict[str, Any]:
    return {
        "animation": False,
        "color": list(PALETTE),
        "title": {"show": False, "text": label},
        "tooltip": {"trigger": "axis", "confine": True},
        "legend": {"show": legend, "top": 0, "type": "scroll"},
        # room above the plot for the legend and the value axis' name
        "grid": {"left": 12, "right": 32, "top": 64 if legend else 40, "bottom": 34,
                 "containLabel": True},
    }


def _category_axis(labels: Sequence[str], name: str, *, vertical: bool = False) -> dict[str, Any]:
    axis: dict[str, Any] = {
        "type": "category", "data": list(labels), "name": name,
        "nameLocation": "middle", "nameGap": 26,
        "axisTick": {"alignWithLabel": True},
    }
    if vertical:  # names down the left, first at the top, the axis' name above them
        axis.update(inverse=True, nameLocation="start", nameGap=14,
                    nameTextStyle={"align": "right", "fontWeight": "bold"},
                    axisLabel={"width": 130, "overflow": "truncate"})
    return axis


def _value_axis(name: str, *, top: float | None = None, vertical: bool = True) -> dict[str, Any]:
    """A value axis from 0; its name (with the unit) above it when upright, below when lying."""
    axis: dict[str, Any] = {
        "type": "value", "name": name, "min": 0,
        "splitLine": {"lineStyle": {"color": "#e5e7eb"}},
    }
    if vertical:
        axis.update(nameLocation="end", nameGap=14,
                    nameTextStyle={"align": "left", "fontWeight": "bold"})
    else:
        axis.update(nameLocation="middle", nameGap=26)
    if top is not None:
        axis["max"] = top
    return axis


def _series(items: Sequence[Series], *, stacked: bool) -> list[dict[str, Any]]:
    out = []
    for s in items:
        entry: dict[str, Any] = {"name": s.name, "type": s.kind, "data": list(s.values)}
        if s.colour:
            entry["itemStyle"] = {"color": s.colour}
            if s.kind == "line":
                entry["lineStyle"] = {"color": s.colour}
        if stacked and s.kind == "bar":
            entry["stack"] = "total"
        if s.kind == "line":
            entry.update(connectNulls=False, symbolSize=7)
        entry.update(s.extra)
        out.append(entry)
    return out


def bars(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    x_name: str,
    y_name: str,
    label: str,
    stacked: bool = False,
    horizontal: bool = False,
    top: float | None = None,
    height: int | None = None,
    table_labels: Sequence[str] | None = None,
    chart_id: str = "",
) -> Markup:
    """Bars per label (grouped, or `stacked`); `horizontal` puts the labels down the left.
    `x_name` names the labels' axis, `y_name` the values' axis. `table_labels` (e.g. full
    dates) replace the labels in the table."""
    if not labels:
        return Markup("")
    option = _base(label, legend=len(series) > 1)
    option["tooltip"]["axisPointer"] = {"type": "shadow"}
    category = _category_axis(labels, x_name, vertical=horizontal)
    value = _value_axis(y_name, top=top, vertical=not horizontal)
    if horizontal:
        option["xAxis"], option["yAxis"] = value, category
        height = height or 110 + 44 * len(labels)
    else:
        option["xAxis"], option["yAxis"] = category, value
    option["series"] = _series(series, stacked=stacked)
    return figure(
        option, label=label, columns=[x_name, *(s.name for s in series)],
        rows=_rows(table_labels or labels, series), height=height or HEIGHT, chart_id=chart_id,
    )


def lines(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    x_name: str,
    y_name: str,
    label: str,
    top: float | None = None,
    chart_id: str = "",
    whole: bool = False,
) -> Markup:
    """Lines over the labels (a gap where a value is None); `whole` numbers (counts) get no
    fractional ticks."""
    if not labels:
        return Markup("")
    option = _base(label, legend=len(series) > 1)
    option["xAxis"] = _category_axis(labels, x_name)
    option["xAxis"]["boundaryGap"] = False
    option["yAxis"] = _value_axis(y_name, top=top)
    if whole:
        option["yAxis"]["minInterval"] = 1
    option["series"] = _series([Series(s.name, s.values, s.colour, "line", s.extra)
                                for s in series], stacked=False)
    return figure(option, label=label, columns=[x_name, *(s.name for s in series)],
                  rows=_rows(labels, series), chart_id=chart_id)


def hour_labels(*, long: bool = False) -> list[str]:
    """The hours of a day as axis labels (0 … 23) or, `long`, for a table (00:00 … 23:00)."""
    return [f"{h:02d}:00" if long else str(h) for h in range(24)]


def day_labels(days: Iterable[date], *, long: bool = False) -> list[str]:
    """Days as axis labels (12-03) or, `long`, as ISO dates for a table."""
    return [d.isoformat() if long else d.strftime("%m-%d") for d in days]


def _rows(labels: Sequence[str], series: Sequence[Series]) -> list[list[Any]]:
    return [[name, *(s.values[i] for s in series)] for i, name in enumerate(labels)]
