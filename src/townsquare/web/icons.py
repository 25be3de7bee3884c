"""Icons from the bundled Lucide set (SVG files in static/vendor/lucide/, vendored by
scripts/vendor.py): which icon a category, a hub section or a service gets, and the inline SVG.

A service's icon is chosen from its own name (核酸检测点 → a test tube), then its category; inside
one group (a hub section, a feed grid) a service whose first choice is taken gets its next one,
so neighbours never share an icon. A merchant's own image address (https://…) still wins; an
emoji in the icon field is ignored on pages (that is what made a whole section look the same),
but the name of a bundled icon ("pill") is honoured.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, MutableSequence
from functools import cache, lru_cache
from pathlib import Path

from markupsafe import Markup, escape

LUCIDE_VERSION = "1.87.0"
ICON_DIR = Path(__file__).resolve().parent / "static" / "vendor" / "lucide"
FALLBACK = "layout-grid"

# The demo city's categories (operators may add more: those are matched by name keywords).
CATEGORY_ICONS = {
    "info": "newspaper",
    "clinic": "stethoscope",
    "grocery": "carrot",
    "medicine": "pill",
    "health": "clipboard-check",
    "travel": "plane",
    "charity": "hand-heart",
    "community": "building-2",
    "errands": "bike",
    "restaurant": "utensils",
    "housekeeping": "spray-can",
    "education": "graduation-cap",
}

# Keywords in a service's (or a new category's) name, Chinese and English, most specific first.
KEYWORDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("疫情数据", "数据", "statistic", "data"), "chart-line"),
    (("风险", "risk"), "shield-alert"),
    (("核酸", "检测", "test site", "testing"), "test-tube"),
    (("疫苗", "接种", "vaccin"), "syringe"),
    (("门诊", "医院", "clinic", "hospital"), "hospital"),
    (("发热", "体温", "fever"), "thermometer"),
    (("热线", "电话", "hotline"), "phone"),
    (("心理", "mental", "psycholog"), "brain"),
    (("儿科", "儿童", "母婴", "child", "paediatric", "pediatric"), "baby"),
    (("慢病", "续方", "处方", "prescription", "refill"), "clipboard-plus"),
    (("中医", "草药", "herbal"), "leaf"),
    (("问诊", "咨询", "医生", "doctor", "consult"), "stethoscope"),
    (("团购", "拼团", "group buy"), "users"),
    (("蔬菜", "买菜", "菜场", "vegetable"), "carrot"),
    (("粮油", "米面", "grain", "rice"), "wheat"),
    (("水果", "鲜果", "果园", "fruit"), "apple"),
    (("生鲜", "超市", "fresh", "grocer"), "shopping-basket"),
    (("口罩", "mask"), "shield-check"),
    (("防疫", "消杀", "disinfect"), "shield-plus"),
    (("药", "pharmac", "medicine", "drug"), "pill"),
    (("健康码", "通行码", "二维码", "qr"), "qr-code"),
    (("打卡", "签到", "check-in", "clock in"), "calendar-check"),
    (("返乡", "返程", "回乡", "return"), "luggage"),
    (("隔离", "quarantin", "isolation"), "door-closed"),
    (("申报", "登记", "declar", "regist"), "clipboard-check"),
    (("机票", "航班", "flight", "airline"), "plane"),
    (("火车", "车次", "高铁", "train"), "train-front"),
    (("酒店", "住宿", "hotel"), "hotel"),
    (("公交", "巴士", "bus"), "bus"),
    (("地铁", "metro", "subway"), "tram-front"),
    (("景区", "旅游", "scenic", "tour"), "mountain"),
    (("行程", "同行", "trip", "itinerar"), "route"),
    (("捐款", "善款", "donat", "fundrais"), "hand-coins"),
    (("捐赠", "物资", "礼", "gift", "supplies"), "gift"),
    (("志愿", "volunteer"), "hand-helping"),
    (("医护", "护士", "nurse", "medical staff"), "heart-pulse"),
    (("通行证", "门禁", "pass"), "id-card"),
    (("报修", "维修", "修理", "repair"), "wrench"),
    (("公告", "通知", "notice", "announce"), "megaphone"),
    (("快递", "包裹", "parcel", "courier"), "package"),
    (("跑腿", "代购", "配送", "errand", "deliver"), "bike"),
    (("消毒", "保洁", "家政", "clean", "housekeep"), "spray-can"),
    (("课程", "学习", "course", "lesson"), "book-open"),
    (("教育", "培训", "学堂", "educat", "school"), "graduation-cap"),
    (("办公", "会议", "office", "remote work"), "laptop"),
    (("宠物", "pet"), "paw-print"),
    (("缴费", "水电", "账单", "bill", "utilit"), "receipt"),
    (("餐", "饭", "食", "面馆", "restaurant", "food", "meal"), "utensils"),
    (("社区", "物业", "小区", "community", "property"), "building-2"),
    (("出行", "交通", "travel", "transport"), "route"),
    (("公益", "慈善", "爱心", "charity"), "hand-heart"),
    (("信息", "资讯", "新闻", "info", "news"), "newspaper"),
    (("查询", "搜索", "lookup", "search"), "search"),
    (("生活", "便民", "daily life"), "house"),
)

# Taken in order when every choice of a service is already used in its group.
SPARE = ("store", "heart", "list-checks", "map-pin", "activity", "circle-help")

# The residents' phone tab bar (web/templating.py TABS names them).
TAB_ICONS = ("house", "message-circle", "receipt", "user")


def used_icons() -> set[str]:
    """Every icon the code can show: what scripts/vendor.py copies."""
    return (
        set(CATEGORY_ICONS.values())
        | {icon for _words, icon in KEYWORDS}
        | set(SPARE)
        | set(TAB_ICONS)
        | {FALLBACK}
    )


_BUNDLED = frozenset(used_icons())


def is_bundled(name: str) -> bool:
    return name in _BUNDLED


def _matches(*texts: str) -> list[str]:
    """Icons whose keywords occur in the texts, in the table's order (no repeats)."""
    haystack = " ".join(texts).lower()
    found: list[str] = []
    for words, icon in KEYWORDS:
        if icon not in found and any(word in haystack for word in words):
            found.append(icon)
    return found


def service_choices(name: str, category: str = "", field: str = "") -> list[str]:
    """A service's icons in order of preference: a bundled icon named in its icon field, the
    icons its name suggests, its category's, then the spares."""
    # Jinja may pass Undefined
    return list(_service_choices(str(name or ""), str(category or ""), str(field or "").strip()))


@lru_cache(maxsize=16384)
def _service_choices(name: str, category: str, field: str) -> tuple[str, ...]:
    """Memoised: every feed item and hub service asks on every page view, and the answer
    depends on nothing but the three strings (a keyword scan of the name: most of a page's
    icon time)."""
    choices = [field] if is_bundled(field) else []
    choices += _matches(name)
    choices.append(category_icon(category))
    choices += SPARE
    return tuple(dict.fromkeys(choices))


def category_icon(code: str, name: str = "") -> str:
    """A category's icon: from the table by code, else from keywords in its code and name."""
    if code in CATEGORY_ICONS:
        return CATEGORY_ICONS[code]
    found = _matches(code, name) if (code or name) else []
    return found[0] if found else FALLBACK


def section_icon(title_zh: str, title_en: str = "", field: str = "",
                 categories: Iterable[str] = (), *,
                 taken: MutableSequence[str] | None = None) -> str:
    """A hub section's icon: a bundled name in its icon field, its titles' keywords, or the
    category of its services; distinct from the sections' in `taken` when one is left."""
    field = str(field or "").strip()
    choices = [field] if is_bundled(field) else []
    choices += _matches(str(title_zh or ""), str(title_en or ""))
    choices += [category_icon(str(code)) for code in categories if code]
    choices += [*SPARE, FALLBACK]
    return pick(list(dict.fromkeys(choices)), taken)


def pick(choices: list[str], taken: MutableSequence[str] | None) -> str:
    """The first choice not in `taken` (which it then joins); the first choice when all are."""
    if taken is None:
        return choices[0]
    chosen = next((c for c in choices if c not in taken), choices[0])
    taken.append(chosen)
    return chosen


_COMMENT = re.compile(r"<!--.*?-->\s*", re.S)
_OPEN_TAG = re.compile(r"<svg\b[^>]*>", re.S)


@cache
def _inner(name: str) -> str:
    """The drawing of a vendored icon (the children of its <svg> element)."""
    text = _COMMENT.sub("", (ICON_DIR / f"{name}.svg").read_text(encoding="utf-8"))
    body = _OPEN_TAG.sub("", text, count=1).rsplit("</svg>", 1)[0]
    return " ".join(line.strip() for line in body.splitlines() if line.strip())


def svg(name: str, *, label: str = "", cls: str = "icon") -> Markup:
    """An icon as inline SVG that takes the text colour. Beside text it is hidden from screen
    readers; alone it needs a `label`."""
    return _svg(str(name), str(label), str(cls))


@lru_cache(maxsize=4096)
def _svg(name: str, label: str, cls: str) -> Markup:
    """Memoised (an immutable string of the three arguments)."""
    if not is_bundled(name):
        name = FALLBACK
    a11y = (
        f'role="img" aria-label="{escape(label)}"' if label
        else 'aria-hidden="true" focusable="false"'
    )
    title = f"<title>{escape(label)}</title>" if label else ""
    return Markup(
        f'<svg class="{escape(cls)} ts-icon" data-icon="{name}" {a11y} '
        'xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="currentColor" '
        'stroke-width="2" stroke-linecap="round" stroke-linejoin="round">'
        f"{title}{_inner(name)}</svg>"
    )


def service_svg(name: str, category: str = "", field: str = "", *,
                taken: MutableSequence[str] | None = None, cls: str = "icon") -> Markup:
    """A service's icon, distinct from those already in `taken` when one is left."""
    choices = _service_choices(str(name or ""), str(category or ""), str(field or "").strip())
    return svg(pick(list(choices), taken), cls=cls)
