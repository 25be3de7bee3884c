"""Console charts: the ECharts option travels as JSON the browser cannot mistake for markup, the
axes are named, and the table beside the chart holds the same numbers."""

from __future__ import annotations

import json
import re
from datetime import date

from townsquare.scoring import charts as scoring_charts
from townsquare.traffic.console import charts as traffic_charts
from townsquare.web import charts


def _option(html: str) -> dict:
    found = re.search(r'<script type="application/json" class="echart-option">(.*?)</script>',
                      html, re.S)
    assert found
    return json.loads(found.group(1))


def _table(html: str) -> list[list[str]]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row) for row in body.split("</tr>") if row]


def test_the_option_cannot_close_its_script_element():
    html = str(charts.bars(["</script><script>alert(1)</script>"], [charts.Series("a&b", [1])],
                           x_name="x", y_name="y", label="<b>"))
    assert html.count("</script>") == 1 and "<script>alert" not in html
    option = _option(html)
    assert option["xAxis"]["data"] == ["</script><script>alert(1)</script>"]
    assert "&lt;b&gt;" in html and "<b>" not in html


def test_bars_name_their_axes_and_the_table_holds_the_numbers():
    html = str(charts.bars(["1", "2", "3"], [charts.Series("进", [4, 0, 7]),
                                             charts.Series("出", [1, 2, None])],
                           x_name="时段", y_name="人次", label="每小时", stacked=True))
    option = _option(html)
    assert option["xAxis"]["name"] == "时段" and option["yAxis"]["name"] == "人次"
    assert [s["data"] for s in option["series"]] == [[4, 0, 7], [1, 2, None]]
    assert all(s["stack"] == "total" for s in option["series"])
    assert _table(html) == [["1", "4", "1"], ["2", "0", "2"], ["3", "7", "–"]]
    assert "<details class=\"chart-data\" open>" in html  # open until the chart is drawn


def test_nothing_to_draw_draws_nothing():
    assert str(charts.bars([], [], x_name="x", y_name="y", label="l")) == ""
    assert str(scoring_charts.trend([], label="l")) == ""
    assert str(traffic_charts.planned_delivered([], label="l", legend=["a", "b", "c"])) == ""


def test_the_wings_charts_keep_their_data_shapes():
    days = [date(2026, 12, 1), date(2026, 12, 2)]
    html = str(traffic_charts.stacked_days(
        days, {days[0]: {"organic": 5, "sponsored": 2}}, sources=[("organic", "自然"),
        ("sponsored", "推广"), ("campaign", "活动")], label="曝光", y_name="曝光"))
    option = _option(html)
    assert [s["name"] for s in option["series"]] == ["自然", "推广"]  # sources never shown drop
    assert _table(html) == [["2026-12-01", "5", "2"], ["2026-12-02", "0", "0"]]
    lorenz = str(traffic_charts.lorenz([(0.0, 0.0), (0.5, 0.2), (1.0, 1.0)], gini=0.3, label="L"))
    assert _option(lorenz)["series"][1]["data"] == [[0.0, 0.0], [50.0, 20.0], [100.0, 100.0]]
    assert "Gini 0.30" in lorenz
    pillars = str(scoring_charts.pillars([("规模", 80.04, 50.0, None)], label="P"))
    assert _table(pillars) == [["规模", "80.0", "50.0", "–"]]
    histogram = _option(str(scoring_charts.histogram([0, 3] + [0] * 8, label="H")))
    assert histogram["xAxis"]["data"][1] == "10–20" and histogram["yAxis"]["name"]
