"""Known places a resident picks an address from: residential compounds and landmarks with their
location. Pure data.

A delivery address needs a location (the store's delivery zones are circles and polygons on
the map), and people know their compound's name, not its coordinates. So the address book
offers these places, grouped by city and district, and the resident adds the building and room;
anywhere else can be typed with coordinates (a map app shows them) or taken from the phone's
location. Coordinates are WGS-84 degrees, accurate to a compound's gate (a few tens of metres),
far finer than any delivery zone.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Place:
    key: str  # stable, what a form posts
    city: str
    district: str
    name: str  # what the resident recognises: 徐东小区
    address: str  # what the rider reads: 武汉市武昌区徐东大街 …
    lat: float
    lng: float


PLACES: tuple[Place, ...] = (
    # 武昌: around 徐东 and 积玉桥 (the demo grocer's stores deliver within 3 and 5 km of 徐东)
    Place("wh-xudong", "武汉", "武昌区", "徐东小区",
          "武汉市武昌区徐东大街 20 号", 30.5905, 114.3450),
    Place("wh-qinyuan", "武汉", "武昌区", "秦园路社区",
          "武汉市武昌区秦园路 8 号", 30.5950, 114.3520),
    Place("wh-shahu", "武汉", "武昌区", "沙湖公园南门",
          "武汉市武昌区公正路 1 号", 30.5700, 114.3280),
    Place("wh-zhongbei", "武汉", "武昌区", "中北路水岸星城",
          "武汉市武昌区中北路 166 号", 30.5640, 114.3400),
    Place("wh-chuhe", "武汉", "武昌区", "楚河汉街",
          "武汉市武昌区中北路与楚河北路交汇处", 30.5560, 114.3420),
    Place("wh-jiyuqiao", "武汉", "武昌区", "积玉桥万达公馆",
          "武汉市武昌区和平大道 88 号", 30.5620, 114.3110),
    Place("wh-huanghelou", "武汉", "武昌区", "黄鹤楼",
          "武汉市武昌区蛇山西山坡特 1 号", 30.5440, 114.3020),
    Place("wh-whu", "武汉", "武昌区", "武汉大学",
          "武汉市武昌区八一路 299 号", 30.5380, 114.3650),
    # 洪山
    Place("wh-guanggu", "武汉", "洪山区", "光谷广场",
          "武汉市洪山区珞喻路光谷广场", 30.5050, 114.3990),
    # 江岸
    Place("wh-erqi", "武汉", "江岸区", "二七路百步亭",
          "武汉市江岸区二七路 50 号", 30.6240, 114.3150),
    Place("wh-houhu", "武汉", "江岸区", "后湖百步亭花园",
          "武汉市江岸区百步亭花园路", 30.6400, 114.2800),
    # 江汉 (the demo's first restaurant is on 江汉路)
    Place("wh-jianghanlu", "武汉", "江汉区", "江汉路步行街",
          "武汉市江汉区江汉路 60 号", 30.5805, 114.2890),
    Place("wh-tangjiadun", "武汉", "江汉区", "唐家墩",
          "武汉市江汉区唐家墩路 12 号", 30.6060, 114.2620),
    Place("wh-hankou-station", "武汉", "江汉区", "汉口火车站",
          "武汉市江汉区发展大道 1 号", 30.6180, 114.2560),
    # 硚口 and 汉阳
    Place("wh-baofeng", "武汉", "硚口区", "宝丰路",
          "武汉市硚口区宝丰路 9 号", 30.5830, 114.2600),
    Place("wh-zhongjiacun", "武汉", "汉阳区", "钟家村",
          "武汉市汉阳区汉阳大道 139 号", 30.5500, 114.2700),
)

_BY_KEY = {place.key: place for place in PLACES}


def place(key: str) -> Place | None:
    return _BY_KEY.get(key)


def by_district() -> list[tuple[str, list[Place]]]:
    """The places grouped for a select's optgroups: "武汉 · 武昌区", in the table's order."""
    groups: dict[str, list[Place]] = {}
    for known in PLACES:
        groups.setdefault(f"{known.city} · {known.district}", []).append(known)
    return list(groups.items())
