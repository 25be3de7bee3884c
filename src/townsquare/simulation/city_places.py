"""Places of the demo cities: districts and their streets (街道), so that shop names, test sites
and risk areas in a city's feed name that city's places and no other's.

Each district's short name (江汉, 浦东…) and each street's short name (唐家墩, 望京…) belongs to
one city only (tests/simulation check it), so a name can be traced to its city.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class District:
    name: str  # 江汉区
    streets: tuple[str, ...]  # 唐家墩街道 …

    @property
    def short(self) -> str:
        """江汉区 → 江汉, 浦东新区 → 浦东."""
        for suffix in ("新区", "区"):
            if self.name.endswith(suffix):
                return self.name[: -len(suffix)]
        return self.name


def street_short(street: str) -> str:
    """唐家墩街道 → 唐家墩, 张江镇 → 张江."""
    for suffix in ("街道", "街", "新镇", "镇"):
        if street.endswith(suffix):
            return street[: -len(suffix)]
    return street


PLACES: dict[str, tuple[District, ...]] = {
    "武汉": (
        District("江岸区", ("花桥街道", "二七街道", "后湖街道", "永清街道")),
        District("江汉区", ("民族街道", "唐家墩街道", "万松街道", "北湖街道")),
        District("硚口区", ("宝丰街道", "汉中街道", "古田街道")),
        District("汉阳区", ("四新街道", "晴川街道", "江堤街道")),
        District("武昌区", ("中南路街道", "水果湖街道", "积玉桥街道", "首义路街道")),
        District("青山区", ("红卫路街道", "冶金街道")),
        District("洪山区", ("珞南街道", "关山街道", "狮子山街道", "张家湾街道")),
        District("江夏区", ("纸坊街道", "金口街道")),
    ),
    "北京": (
        District("东城区", ("东华门街道", "和平里街道", "建国门街道")),
        District("西城区", ("金融街街道", "德胜街道", "月坛街道")),
        District("朝阳区", ("望京街道", "三里屯街道", "劲松街道", "潘家园街道")),
        District("海淀区", ("中关村街道", "学院路街道", "万寿路街道", "清河街道")),
        District("丰台区", ("方庄街道", "卢沟桥街道")),
        District("通州区", ("新华街道", "梨园镇")),
    ),
    "上海": (
        District("黄浦区", ("外滩街道", "打浦桥街道", "豫园街道")),
        District("徐汇区", ("天平路街道", "田林街道", "漕河泾街道")),
        District("静安区", ("静安寺街道", "曹家渡街道", "大宁路街道")),
        District("浦东新区", ("陆家嘴街道", "张江镇", "花木街道", "川沙新镇")),
        District("闵行区", ("莘庄镇", "古美路街道")),
        District("杨浦区", ("五角场街道", "控江路街道")),
    ),
    "杭州": (
        District("上城区", ("湖滨街道", "清波街道", "小营街道")),
        District("拱墅区", ("米市巷街道", "湖墅街道")),
        District("西湖区", ("北山街道", "文新街道", "翠苑街道", "古荡街道")),
        District("滨江区", ("西兴街道", "长河街道", "浦沿街道")),
        District("萧山区", ("城厢街道", "北干街道")),
        District("余杭区", ("良渚街道", "仓前街道")),
    ),
    "深圳": (
        District("福田区", ("华富街道", "莲花街道", "香蜜湖街道", "沙头街道")),
        District("罗湖区", ("东门街道", "桂园街道", "黄贝街道")),
        District("南山区", ("粤海街道", "蛇口街道", "南头街道", "西丽街道")),
        District("宝安区", ("新安街道", "西乡街道")),
        District("龙岗区", ("布吉街道", "坂田街道")),
        District("龙华区", ("民治街道", "观澜街道")),
    ),
    "广州": (
        District("越秀区", ("农林街道", "东山街道", "流花街道")),
        District("海珠区", ("赤岗街道", "新港街道", "昌岗街道")),
        District("荔湾区", ("沙面街道", "逢源街道", "华林街道")),
        District("天河区", ("石牌街道", "天河南街道", "猎德街道", "员村街道")),
        District("白云区", ("三元里街道", "同和街道")),
        District("番禺区", ("市桥街道", "大石街道")),
    ),
}

# Area codes for the demo's contact numbers (a Wuhan page shows a 027 number).
AREA_CODES = {"武汉": "027", "北京": "010", "上海": "021", "杭州": "0571", "深圳": "0755",
              "广州": "020"}

# Neutral shop-name openings for merchants serving more than one city (no place in the name).
NEUTRAL = ("惠民", "邻里", "安心", "乐家", "康宁", "优选", "阳光", "便民", "嘉和", "益家",
           "暖心", "佳佳")


def place_names(city: str) -> set[str]:
    """Every district and street short name of `city` (what may appear in its shops' names)."""
    names: set[str] = set()
    for district in PLACES[city]:
        names.add(district.short)
        names.update(street_short(s) for s in district.streets)
    return names


def cities_named_in(text: str) -> set[str]:
    """The demo cities whose district or street short names occur in `text`."""
    return {city for city in PLACES if any(name in text for name in place_names(city))}
