"""The curated synonym table: what residents type → the words merchants and categories use.

Residents ask for a need ("买菜", "看病", "外卖"); shops name their trade ("生鲜", "诊所", "餐饮").
A query word found here is also looked up as each of its synonyms, at `WEIGHT` of the word
itself, so a shop that uses the resident's own word still ranks first. Keep the table small and
obvious: every entry is a word a resident would type and the trade words that answer it (not
related products: 买菜 → 水果 yes, 买菜 → 厨具 no). Only whole query words are looked up (jieba
cuts the query first), and the page says which synonym it used ("同义词：买菜 → 生鲜").
"""

from __future__ import annotations

WEIGHT = 0.6  # a synonym's match counts 0.6 of the word's own

SYNONYMS: dict[str, tuple[str, ...]] = {
    "买菜": ("生鲜", "蔬菜", "水果", "菜场"),
    "菜市场": ("生鲜", "蔬菜", "菜场"),
    "看病": ("医院", "诊所", "门诊", "医疗"),
    "挂号": ("医院", "门诊", "预约"),
    "买药": ("药店", "药房", "医药"),
    "外卖": ("餐饮", "美食", "快餐"),
    "吃饭": ("餐饮", "美食", "餐厅"),
    "点餐": ("餐饮", "美食"),
    "快递": ("物流", "驿站", "寄件"),
    "寄件": ("快递", "物流"),
    "修理": ("维修", "家政"),
    "维修": ("修理", "家政"),
    "保洁": ("家政", "清洁"),
    "打扫": ("家政", "保洁", "清洁"),
    "理发": ("美发", "美容"),
    "洗衣": ("干洗", "洗护"),
    "宠物": ("宠物医院", "宠物店"),
    "核酸": ("检测", "采样"),
    "疫苗": ("接种", "防疫"),
    "停车": ("车位", "停车场"),
    "充电": ("充电桩", "充电站"),
    "doctor": ("clinic", "hospital", "诊所", "医院"),
    "takeaway": ("餐饮", "food", "restaurant"),
}


def of(word: str) -> tuple[str, ...]:
    """The synonyms of one normalised query word (none for most words)."""
    return SYNONYMS.get(word, ())
