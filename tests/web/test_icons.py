"""The bundled icon set: every icon the code names is vendored (and nothing else), categories and
the services of each demo hub section get distinct icons, and the inline SVG is accessible."""

from __future__ import annotations

import re

from townsquare.simulation import city_data
from townsquare.web import icons


def test_every_named_icon_is_vendored_and_nothing_more():
    files = {p.stem for p in icons.ICON_DIR.glob("*.svg")}
    assert files == icons.used_icons(), "run `make vendor` after changing web/icons.py"
    assert "ISC License" in (icons.ICON_DIR / "LICENSE").read_text()
    echarts = icons.ICON_DIR.parent / "echarts"
    assert (echarts / "LICENSE").is_file() and (echarts / "echarts.common.min.js").is_file()


def test_the_demo_categories_have_distinct_icons():
    codes = [code for code, *_rest in city_data.CATEGORIES]
    chosen = [icons.category_icon(code) for code in codes]
    assert len(set(chosen)) == len(codes)
    assert icons.FALLBACK not in chosen


def test_a_new_category_is_matched_by_its_name_or_falls_back():
    assert icons.category_icon("pets", "宠物服务") == "paw-print"
    assert icons.category_icon("laundry_2", "洗衣") == icons.FALLBACK


def test_services_in_a_hub_section_get_distinct_icons_from_their_names():
    for title_zh, _title_en, _emoji, services in city_data.HUB:
        taken: list[str] = []
        for name, code, _runtime in services:
            icons.service_svg(name, code, "🧩", taken=taken)
        assert len(set(taken)) == len(taken) == len(services), (title_zh, taken)
    assert icons.service_choices("核酸检测点查询", "info")[0] == "test-tube"
    assert icons.service_choices("宠物代养", "housekeeping")[0] == "paw-print"
    every = {icons.service_choices(name, code)[0] for *_s, services in city_data.HUB
             for name, code, _r in services}
    assert len(every) >= 35  # not one icon per section


def test_hub_sections_get_distinct_icons():
    taken: list[str] = []
    for title_zh, title_en, _emoji, services in city_data.HUB:
        icons.section_icon(title_zh, title_en, categories=[s[1] for s in services], taken=taken)
    assert len(set(taken)) == len(taken) == len(city_data.HUB)


def test_a_bundled_name_in_the_icon_field_wins_and_an_emoji_does_not():
    assert icons.service_choices("社区团购", "grocery", "wrench")[0] == "wrench"
    assert icons.service_choices("社区团购", "grocery", "🥬")[0] == "users"
    assert icons.service_choices("无名", "", "")[0] == icons.FALLBACK  # Undefined-safe defaults


def test_the_inline_svg_is_hidden_beside_text_or_labelled():
    beside = str(icons.svg("pill"))
    assert 'aria-hidden="true"' in beside and 'viewBox="0 0 24 24"' in beside
    assert "<path" in beside and "<!--" not in beside and "<script" not in beside
    alone = str(icons.svg("pill", label="药 <店>"))
    assert 'role="img" aria-label="药 &lt;店&gt;"' in alone
    assert "<title>药 &lt;店&gt;</title>" in alone
    assert 'data-icon="layout-grid"' in str(icons.svg("../../etc/passwd"))  # only bundled names
    assert re.fullmatch(r"<svg [^>]+>.*</svg>", beside, re.S)
