"""Every console chart drawn by the vendored ECharts in Chromium, on the demo city (issue 11 item
11): the chart has a size, named axes, and a table holding the numbers it draws; no page logs a
CSP violation or a script error. And the icons: the services of each hub section, and of the
home feed, show distinct bundled SVG icons. Screenshots (desktop and 390×844) go to
var/screenshots/."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import select

from townsquare.accounts.models import User
from townsquare.community.models import Community
from townsquare.merchants.models import Merchant, MerchantStaff
from townsquare.miniapps.models import MiniApp
from townsquare.scoring.models import MiniAppScore
from townsquare.simulation import demo_city

from .conftest import VIEWPORTS, login, screenshot

pytestmark = pytest.mark.browser

# What each chart page must draw: (login, path, chart ids on it).
READ_CHARTS = """() => Array.from(document.querySelectorAll('figure.echart-figure')).map(f => {
  const el = f.querySelector('.echart');
  const chart = window.echarts && window.echarts.getInstanceByDom(el);
  const drawn = el.querySelector('svg');
  const box = drawn ? drawn.getBoundingClientRect() : {width: 0, height: 0};
  const option = chart ? chart.getOption() : null;
  const name = axes => (axes || []).map(a => a.name || '');
  return {
    id: f.id, width: box.width, height: box.height,
    tableFolded: !f.querySelector('details.chart-data').open,
    x: option ? name(option.xAxis) : [], y: option ? name(option.yAxis) : [],
    tooltip: option ? option.tooltip.length > 0 && option.tooltip[0].show !== false : false,
    series: option ? option.series.map(s => ({type: s.type, data: s.data})) : [],
    header: Array.from(f.querySelectorAll('table thead th')).map(c => c.textContent.trim()),
    rows: Array.from(f.querySelectorAll('table tbody tr')).map(
      r => Array.from(r.children).map(c => c.textContent.trim())),
  };
})"""


def _number(cell: str) -> float | None:
    return None if cell == "–" else float(cell.replace(",", ""))


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, abs_tol=0.051)


def _check_table(chart: dict) -> None:
    """The table holds the numbers the chart draws: one column per series (or, for the Lorenz
    curve, its points as two columns)."""
    rows = chart["rows"]
    assert rows, chart["id"]
    if chart["id"] == "lorenz-chart":
        points = chart["series"][1]["data"]
        assert [[_number(c) for c in row] for row in rows] == [
            [float(x), float(y)] for x, y in points]
        return
    assert len(chart["header"]) == 1 + len(chart["series"])
    for j, series in enumerate(chart["series"]):
        assert len(series["data"]) == len(rows), chart["id"]
        for row, value in zip(rows, series["data"], strict=True):
            assert _same(_number(row[j + 1]), value), (chart["id"], row, value)


def _pages(database) -> list[tuple[str, str, set[str]]]:
    with database.unit_of_work() as db:
        merchant = db.scalar(
            select(Merchant.public_id).join(MerchantStaff, MerchantStaff.merchant_id == Merchant.id)
            .join(User, User.id == MerchantStaff.user_id).where(User.username == "merchant"))
        scored = db.scalar(
            select(MiniApp.public_id).join(MiniAppScore, MiniAppScore.miniapp_id == MiniApp.id)
            .join(Merchant, Merchant.id == MiniApp.merchant_id)
            .where(Merchant.public_id == merchant).limit(1))
        community = db.scalars(select(Community.public_id).order_by(Community.id)).first()
    assert merchant and scored and community
    return [
        ("merchant", f"/console/merchant/{merchant}/traffic",
         {"impressions-chart", "clicks-chart", "promise-chart"}),
        ("merchant", f"/console/miniapps/{scored}/score", {"trend-chart", "pillar-chart"}),
        ("operator", "/console/operator/traffic", {"lorenz-chart"}),
        ("operator", "/console/operator/scoring", {"score-histogram"}),
        ("committee", "/community/committee", {"hour-chart"}),
        ("property", f"/community/{community}/manage", {"hour-chart"}),
        ("property", f"/community/{community}/passages/trends?days=14", {"day-chart"}),
    ]


SHOT_NAMES = {  # stable screenshot names for the pages above (their ids change per build)
    "traffic": "merchant-traffic", "score": "merchant-score", "manage": "property-dashboard",
    "trends": "property-trends", "committee": "committee",
}


def _watch(page) -> list[str]:
    """Console errors (CSP violations among them) and uncaught script errors."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"{m.text} {m.location.get('url', '')}")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def test_console_charts_and_hub_icons(live_server, database, browser):
    pages = _pages(database)
    for viewport_name, viewport in VIEWPORTS.items():
        for username in dict.fromkeys(user for user, _path, _ids in pages):
            context = browser.new_context(locale="zh-CN", viewport=viewport)
            page = context.new_page()
            page.set_default_timeout(20_000)
            errors = _watch(page)
            login(page, live_server, username, demo_city.DEMO_PASSWORD)
            for _user, path, ids in [p for p in pages if p[0] == username]:
                page.goto(live_server + path)
                page.wait_for_selector("figure.echart-figure .echart svg")
                page.wait_for_function(
                    "() => Array.from(document.querySelectorAll('.echart'))"
                    ".every(e => e.classList.contains('echart-ready'))")
                charts = page.evaluate(READ_CHARTS)
                assert ids <= {c["id"] for c in charts}, (path, charts)
                for chart in charts:
                    assert chart["width"] > 100 and chart["height"] > 100, (path, chart["id"])
                    assert all(chart["x"]) and all(chart["y"]), (path, chart["id"], chart)
                    assert chart["tooltip"] and chart["tableFolded"], (path, chart["id"])
                    _check_table(chart)
                last = path.split("?")[0].rsplit("/", 1)[-1]
                name = SHOT_NAMES.get(last, "") if "operator" not in path else f"operator-{last}"
                screenshot(page, f"charts-{viewport_name}-{name}")
            if username == "operator":  # the categories list: one distinct icon per category
                page.goto(live_server + "/console/operator/categories")
                shown = page.evaluate("""() => Array.from(document.querySelectorAll(
                  'tr[data-category] svg.category-icon')).map(i => i.dataset.icon)""")
                assert len(shown) >= 10 and len(set(shown)) == len(shown), shown
            assert errors == [], (username, errors)
            context.close()

        # the hub: distinct icons inside each section and inside the recommended feed
        context = browser.new_context(locale="zh-CN", viewport=viewport)
        page = context.new_page()
        errors = _watch(page)
        login(page, live_server, "resident", demo_city.DEMO_PASSWORD)
        page.goto(live_server + "/")
        sections = page.evaluate("""() => Array.from(document.querySelectorAll('.hub-section'))
          .map(s => Array.from(s.querySelectorAll('.tile svg.icon')).map(i => i.dataset.icon))""")
        assert len(sections) >= 5
        for icons in sections:
            assert len(icons) >= 2 and len(set(icons)) == len(icons), icons
        every = {icon for icons in sections for icon in icons}
        assert len(every) >= 30, every  # not one icon per section
        feed = page.evaluate("""() => Array.from(document.querySelectorAll(
          '#feed .feed-item svg.icon')).map(i => i.dataset.icon)""")
        assert feed and len(set(feed)) == len(feed), feed
        hidden = page.evaluate("""() => Array.from(document.querySelectorAll('svg.ts-icon'))
          .every(i => i.getAttribute('aria-hidden') === 'true' || i.getAttribute('aria-label'))""")
        assert hidden, "every icon is hidden beside its text or labelled"
        screenshot(page, f"hub-icons-{viewport_name}")
        assert errors == [], errors
        context.close()
