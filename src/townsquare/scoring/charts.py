"""The scoring pages' charts (ECharts through `web.charts`): the score trend, the pillars against
the category's peers, and the distribution of scores."""

from __future__ import annotations

from markupsafe import Markup

from townsquare.core.i18n import gettext
from townsquare.web.charts import Series, axis_name, bars, lines

SCORE_AXIS = "0–100"


def trend(points: list[tuple[str, float | None]], *, label: str) -> Markup:
    """Overall score per cycle as a line (cycles without a score leave a gap)."""
    if not points:
        return Markup("")
    values = [None if v is None else round(v, 1) for _name, v in points]
    return lines(
        [name for name, _v in points], [Series(gettext("Overall score"), values)],
        x_name=gettext("Scoring cycle"), y_name=axis_name(gettext("Score"), SCORE_AXIS),
        label=label, top=100, chart_id="trend-chart",
    )


def pillars(
    rows: list[tuple[str, float | None, float | None, float | None]], *, label: str
) -> Markup:
    """Horizontal bars: the app's value (0..100) with the peer median and top-quartile marks."""
    if not rows:
        return Markup("")

    def marks(values: list[float | None]) -> list[float | None]:
        return [None if v is None else round(v, 1) for v in values]

    tick = {"symbol": "rect", "symbolSize": [4, 24], "z": 3}
    return bars(
        [r[0] for r in rows],
        [
            Series(gettext("This mini-app"), marks([r[1] for r in rows]), "#2563eb",
                   extra={"barWidth": 18, "label": {"show": True, "position": "right"}}),
            Series(gettext("Category median"), marks([r[2] for r in rows]), "#6b7280",
                   "scatter", extra=tick),
            Series(gettext("Top quartile"), marks([r[3] for r in rows]), "#16a34a",
                   "scatter", extra=tick),
        ],
        x_name=gettext("Pillar"), y_name=axis_name(gettext("Score"), SCORE_AXIS),
        label=label, horizontal=True, top=100, chart_id="pillar-chart",
    )


def histogram(counts: list[int], *, label: str) -> Markup:
    """Scores in ten bands of ten points."""
    bands = [f"{i * 10}–{i * 10 + 10}" for i in range(len(counts))]
    return bars(
        bands, [Series(gettext("Mini-apps"), list(counts))],
        x_name=axis_name(gettext("Overall score band"), SCORE_AXIS),
        y_name=axis_name(gettext("Mini-apps"), gettext("count")),
        label=label, chart_id="score-histogram",
    )
