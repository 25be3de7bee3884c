"""The demo hub's services open real first-party pages, each about what its name says and in its
own city; shops are named after places of their own city. (The demo city is built up to its
mini-apps: the market history, scores and traffic steps do not change what these pages show.)"""

from __future__ import annotations

import random
import re
from collections import Counter
from html import unescape

import pytest
from sqlalchemy import select

from tests.miniapps.shell_data import browser_login
from townsquare.merchants.models import Category, Merchant
from townsquare.miniapps.models import HubSection, MiniApp, MiniAppVersion
from townsquare.simulation import city_data, city_places, demo_city
from townsquare.simulation.demo_city import _Builder

# Something each service's page must say, because its name promises it.
PROMISED = {
    "实时疫情数据": "新增本土", "风险地区查询": "中风险", "核酸检测点查询": "采样",
    "疫苗接种点查询": "接种", "发热门诊查询": "发热门诊", "发热咨询": "发热",
    "心理援助热线": "心理", "儿科在线问诊": "儿科", "慢病续方": "续方", "中医在线问诊": "中医",
    "社区团购": "自提", "生鲜到家": "水产", "蔬菜直供": "蔬菜基地", "粮油配送": "大米",
    "水果到家": "水果", "药店送药": "药师", "处方药配送": "处方", "防疫物资": "口罩",
    "口罩预约": "预约口罩", "健康码": "黄码", "每日健康打卡": "打卡", "返乡人员登记": "返乡",
    "隔离人员申报": "居家隔离", "机票退改": "航空", "火车票退改": "改签", "酒店退订": "酒店",
    "公交运营查询": "运营", "景区预约调整": "景区", "同航班查询": "航班", "同车次查询": "车次",
    "同地铁查询": "地铁", "确诊行程查询": "病例活动", "抗疫捐款": "募捐", "物资捐赠": "物资",
    "志愿者报名": "志愿者", "医护人员关爱": "医护", "社区通行证": "通行", "物业报修": "报修",
    "社区公告": "公告", "居家隔离服务": "隔离", "快递代收": "快递", "跑腿代购": "跑腿",
    "家政消毒": "消毒", "在线教育": "课程", "远程办公": "复工", "心理疏导课程": "心理",
    "宠物代养": "遛狗", "水电缴费": "电费",
}
GROCERY_GREETING = "新鲜直达社区"
# The demo templates' defaults: a hub page showing one has a setting it was never given.
TEMPLATE_TEXT = ("最新防疫信息", "如有发热症状请先线上咨询", "Online ordering opens here soon",
                 "在线下单即将开放", "问诊服务即将开放")
LANDLINE = re.compile(r"\b(0\d{2,3})-?\d{7,8}\b")


def _build(database, settings) -> None:
    """The demo city up to its mini-apps (what the hub and the feed's shops are made of)."""
    with database.unit_of_work() as db:
        city = _Builder(db, settings, random.Random(7))
        for step in (city.categories, city.people, city.merchants, city.providers,
                     city.templates, city.hub, city.miniapps):
            step()
            db.flush()


def _text(html: str) -> str:
    body = html.split('<main class="miniapp-main">', 1)[1].split("</main>", 1)[0]
    body = re.sub(r"<(script|style)\b.*?</\1>", "", body, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", "\n", body))


def _lines(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines() if len(line.strip()) >= 20}


def test_the_places_name_one_city_each():
    owners: dict[str, str] = {}
    for city in city_places.PLACES:
        for name in city_places.place_names(city):
            assert name not in owners, f"{name} is in {owners.get(name)} and {city}"
            owners[name] = city
    for name, city in owners.items():
        others = {c for other, c in owners.items() if c != city and name in other}
        assert not others, f"{name} ({city}) is part of a place name of {others}"
    assert city_places.cities_named_in("江汉生鲜店") == {"武汉"}
    assert city_places.cities_named_in("惠民大药房") == set()


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_every_hub_service_opens_a_page_about_its_name_in_its_city(
    client, database, settings, make_user
):
    _build(database, settings)
    assert set(PROMISED) == {name for *_s, services in city_data.HUB for name, *_ in services}
    with database.unit_of_work() as db:
        apps = [(e.miniapp.public_id, e.miniapp.name, list(e.miniapp.cities),
                 e.miniapp.category.code)
                for section in db.scalars(select(HubSection).order_by(HubSection.position))
                for e in section.entries]
    assert len(apps) == 48
    browser_login(client, make_user())
    texts: dict[str, str] = {}
    for public_id, name, cities, category in apps:
        container = client.get(f"/apps/{public_id}")
        src = re.search(r'id="miniapp-frame"[^>]*src="([^"]+)"', container.text).group(1)
        assert src.startswith(f"/run/{public_id}?"), f"{name} opens {src}"  # first-party
        page = client.get(unescape(src))
        assert page.status_code == 200, name
        assert demo_city.HUB_CITY in cities, (name, cities)  # Wuhan's hub
        text = texts[name] = _text(page.text)
        assert PROMISED[name] in text, f"{name}: {PROMISED[name]!r} not on its page"
        assert "ou_" not in text, f"{name} shows a pseudonymous id"
        if category != "grocery":
            assert GROCERY_GREETING not in text, f"{name} greets with the grocery text"
        for placeholder in TEMPLATE_TEXT:
            assert placeholder not in text, f"{name} shows {placeholder!r}"
        named = city_places.cities_named_in(text)
        assert named <= set(cities), f"{name} ({cities}) names places of {named - set(cities)}"
        codes = {city_places.AREA_CODES[c] for c in cities}
        for code in LANDLINE.findall(text):
            assert code in codes, f"{name} ({cities}) shows a {code} phone number"
    # no text shared between services' pages beyond the page chrome and shared form questions
    shared = Counter(line for text in texts.values() for line in _lines(text))
    repeated = {line: n for line, n in shared.items() if n > 1}
    assert not repeated, repeated
    assert len(set(texts.values())) == len(texts)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_shops_are_named_after_places_of_their_own_city(database, settings):
    _build(database, settings)
    with database.unit_of_work() as db:
        merchants = list(db.scalars(select(Merchant)))
        apps = list(db.scalars(select(MiniApp)))
        assert len(merchants) >= 300
        placed = 0
        for merchant in merchants:
            named = city_places.cities_named_in(merchant.name)
            assert named <= set(merchant.cities), (merchant.name, merchant.cities)
            placed += bool(named)
        assert placed > 100  # most single-city shops carry a place of their city
        for app in apps:
            named = city_places.cities_named_in(app.name)
            assert named <= set(app.cities), (app.name, app.cities)
        # the feed's own shops speak of their trade, not of a placeholder or of groceries
        for version, code in db.execute(
                select(MiniAppVersion, Category.code)
                .join(MiniApp, MiniApp.id == MiniAppVersion.miniapp_id)
                .join(Category, Category.id == MiniApp.category_id)):
            said = str(version.config)
            assert "最新防疫信息" not in said, version.name
            if code != "grocery":
                assert GROCERY_GREETING not in said, (version.name, code)
