"""What each of the demo hub's 48 services shows: its first-party runtime and that runtime's
settings, written for the city the service runs in (its districts, streets, hospitals, area
code), so a resident of Wuhan sees Wuhan's test sites and risk areas.

Deterministic: the same service in the same city on the same day reads the same (a local
generator seeded from the name, not the demo builder's, so the rest of the city is unchanged).
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from townsquare.simulation import service_texts as texts
from townsquare.simulation.city_places import AREA_CODES, PLACES, District, street_short


@dataclass
class City:
    """One city's places, and a generator for this service's numbers."""

    name: str
    today: date
    rng: random.Random

    @property
    def districts(self) -> tuple[District, ...]:
        return PLACES[self.name]

    def streets(self) -> list[tuple[District, str]]:
        return [(d, s) for d in self.districts for s in d.streets]

    def address(self, district: District, street: str) -> str:
        return f"{district.name}{road(street)}{self.rng.randrange(1, 400)}号"

    def phone(self) -> str:
        return f"{AREA_CODES[self.name]}-{self.rng.randrange(8000_0000, 8999_9999)}"

    def day(self, back: int) -> str:
        return (self.today - timedelta(days=back)).isoformat()

    def estate(self, street: str) -> str:
        kinds = ("花园", "新村", "小区", "家园", "公寓", "里")
        return street_short(street) + self.rng.choice(kinds)


def road(street: str) -> str:
    """The road a street (街道) is named after: 唐家墩街道 → 唐家墩路, 中南路街道 → 中南路."""
    short = street_short(street)
    return short if short.endswith("路") else short + "路"


def _rows(rows: list[list[Any]]) -> str:
    return "\n".join(" | ".join(str(cell) for cell in row) for row in rows)


def _directory(headline: str, columns: str, rows: list[list[Any]], **extra: Any) -> dict:
    return {"headline": headline, "columns": columns, "entries": _rows(rows), **extra}


# -- 疫情信息 ------------------------------------------------------------------------------------
def _live_data(c: City) -> tuple[str, dict]:
    rows = []
    for d in c.districts:
        new = c.rng.choice((0, 0, 1, 2, 3, 5))
        rows.append([d.name, new, new + c.rng.randrange(2, 40), c.rng.randrange(80, 900),
                     f"+{new}" if new else "持平"])
    return "directory", _directory(
        f"{c.name}疫情实时数据", "地区|新增本土|现有确诊|累计治愈|较昨日", rows,
        intro=f"数据来源：{c.name}市卫生健康委员会每日通报，截至{c.day(1)} 24时。",
        search_hint=f"输入区名，如{c.districts[0].name}",
        not_found="没有找到这个区的数据，请输入完整的区名。",
        notice="数据每天上午9时更新；各区新增病例的活动轨迹见“确诊行程查询”。")


def _risk_areas(c: City) -> tuple[str, dict]:
    rows = []
    for i, (d, street) in enumerate(c.rng.sample(c.streets(), 7)):
        level, measure = (("高风险", "封控管理，人员足不出户") if i < 2
                          else ("中风险", "管控管理，人不出区、错峰取物"))
        rows.append([f"{c.name}市{d.name}{street}{c.estate(street)}", level,
                     f"{c.day(c.rng.randrange(1, 9))}起", measure])
    return "directory", _directory(
        f"{c.name}中高风险地区查询", "地区|风险等级|管控起始|管控措施", rows,
        intro="输入街道或小区名，查询是否属于中高风险地区。未列入名单的地区为低风险地区。",
        search_hint="输入街道或小区名", not_found=texts.RISK_NOT_FOUND,
        notice=f"名单根据{c.name}市疫情防控指挥部通告动态调整；中高风险地区连续14天无新增病例后降级。")


def _test_sites(c: City) -> tuple[str, dict]:
    rows = []
    for d in c.districts:
        street = c.rng.choice(d.streets)
        rows.append([f"{d.name}人民医院核酸采样点", d.name, c.address(d, street),
                     "24小时", "自费40元 · 6小时出结果"])
        rows.append([f"{street_short(street)}社区卫生服务中心", d.name, c.address(d, street),
                     "08:00-12:00，14:00-18:00", "免费 · 凭健康码“愿检尽检”"])
    return "directory", _directory(
        f"{c.name}核酸检测点", "检测点|所在区|地址|开放时间|说明", rows,
        intro="就近选择采样点，请提前在采样点出示健康码，排队时保持一米间距。",
        search_hint="输入区名或街道名", not_found="这一带暂未设采样点，请换个区或街道查询。")


def _vaccine_sites(c: City) -> tuple[str, dict]:
    rows = [[f"{street_short(s)}社区卫生服务中心接种门诊", d.name, c.address(d, s),
             "周一至周六 08:30-16:30", c.rng.choice(("新冠疫苗第一、二剂及加强针", "新冠疫苗加强针",
                                               "新冠疫苗、流感疫苗"))]
            for d in c.districts for s in d.streets[:1]]
    return "directory", _directory(
        f"{c.name}新冠疫苗接种点", "接种点|所在区|地址|接种时间|可接种", rows,
        intro="18岁以上居民凭身份证接种；接种后请留观30分钟。",
        search_hint="输入区名或接种点", not_found="没有找到这个接种点，请换个关键词。")


def _fever_clinics(c: City) -> tuple[str, dict]:
    rows = [[f"{c.name}市中心医院", c.districts[0].name,
             c.address(c.districts[0], c.districts[0].streets[0]), "24小时", c.phone()]]
    rows += [[f"{d.name}人民医院发热门诊", d.name, c.address(d, d.streets[-1]), "24小时",
              c.phone()] for d in c.districts]
    return "directory", _directory(
        f"{c.name}发热门诊", "医院|所在区|地址|门诊时间|电话", rows,
        intro="体温≥37.3℃或有咳嗽、乏力等症状，请到就近发热门诊就诊。",
        search_hint="输入区名或医院名", not_found="没有找到这家医院，请换个关键词。",
        notice="就诊途中全程佩戴口罩，尽量不乘坐公共交通工具。")


# -- 在线问诊 ------------------------------------------------------------------------------------
def _consultation(department: str, hours: str, mode: str, notice: str) -> Callable:
    def build(c: City) -> tuple[str, dict]:
        return "consultation", {"department": department, "hours": hours, "mode": mode,
                                "notice": notice.format(city=c.name, phone=c.phone()),
                                "form": "consult_request"}
    return build


# -- storefronts -------------------------------------------------------------------------------
def _shop(welcome: str, hours: str, highlights: str, *, store_pickup: bool = True,
          delivery: bool = True, min_order_fen: int = 0, form: str = "order_request"
          ) -> Callable:
    def build(c: City) -> tuple[str, dict]:
        config: dict[str, Any] = {
            "welcome": welcome.format(city=c.name), "opening_hours": hours,
            "store_pickup": store_pickup, "delivery": delivery, "min_order_fen": min_order_fen,
            "contact_phone": c.phone(), "highlights": highlights, "form": form}
        return "storefront", config
    return build


# -- 健康申报, forms -----------------------------------------------------------------------------
def _form_page(headline: str, body: str, form: str) -> Callable:
    def build(c: City) -> tuple[str, dict]:
        return "info", {"headline": headline.format(city=c.name),
                        "body": body.format(city=c.name, district=c.districts[0].name),
                        "contact_phone": c.phone(), "form": form}
    return build


def _mask_reservation(c: City) -> tuple[str, dict]:
    shops = "\n".join(f"· {street_short(s)}大药房（{c.address(d, s)}）"
                      for d in c.districts[:4] for s in d.streets[:1])
    return "info", {"headline": f"{c.name}市民口罩预约", "body": texts.MASKS + shops,
                    "contact_phone": c.phone(), "form": "mask_reservation"}


def _health_code(c: City) -> tuple[str, dict]:
    return "directory", _directory(
        f"{c.name}健康码", "颜色|含义|怎么办", texts.CODE_COLOURS,
        intro="健康码根据您的健康申报和行程自动赋码，进出小区、超市、医院和乘坐公共交通时出示。"
              "对赋码有疑问，可以在下面提交申诉。",
        search_hint="输入颜色，如黄码", not_found="只有绿码、黄码、红码三种颜色。",
        form="code_appeal")


# -- 出行变更 ------------------------------------------------------------------------------------
def _flights(c: City) -> tuple[str, dict]:
    return "directory", _directory(
        "机票免费退改", "航空公司|免费退改范围|客服电话", texts.AIRLINES,
        intro=f"因疫情无法出行的旅客，往返{c.name}的航班可免费退票或改期一次。"
              "在下面提交申请，我们代您向航空公司办理。",
        search_hint="输入航空公司", not_found="没有找到这家航空公司，请拨打其客服电话咨询。",
        form="ticket_refund")


def _trains(c: City) -> tuple[str, dict]:
    return "directory", _directory(
        "火车票退票改签", "情形|规定|办理", texts.TRAIN_RULES,
        intro=f"{c.name}各火车站退票改签规定。因疫情停运的车次，退票不收手续费。",
        search_hint="输入关键词，如改签", not_found="没有找到相关规定，请拨打12306咨询。",
        form="ticket_refund")


def _hotels(c: City) -> tuple[str, dict]:
    hotels = "\n".join(f"· {d.short}{c.rng.choice(('假日', '国际', '锦江', '如家'))}酒店"
                       for d in c.districts[:4])
    return "info", {
        "headline": f"{c.name}酒店免费退订",
        "body": texts.HOTELS.format(city=c.name) + hotels,
        "contact_phone": c.phone(), "form": "hotel_cancellation"}


def _buses(c: City) -> tuple[str, dict]:
    rows = []
    for i, (_, s) in enumerate(c.streets()[:10]):
        state = c.rng.choice(("正常运营", "正常运营", "缩短运营时间", "暂停运营"))
        hours = {"暂停运营": "—", "缩短运营时间": "06:30-20:00"}.get(state, "06:00-22:30")
        other = c.streets()[-1 - i][1]
        rows.append([f"{c.rng.randrange(1, 80) * 10 + i}路", state, hours,
                     f"{street_short(s)}—{street_short(other)}"])
    rows.append(["地铁2号线", "缩短运营时间", "06:30-21:00", "末班车提前1小时，乘车请佩戴口罩"])
    return "directory", _directory(
        f"{c.name}公交地铁运营", "线路|运营状态|首末班|说明", rows,
        intro="乘车请全程佩戴口罩，上车扫码登记。", search_hint="输入线路或站名",
        not_found="没有找到这条线路，请输入线路号，如“2号线”。")


def _scenic(c: City) -> tuple[str, dict]:
    rows = [[spot, c.rng.choice(("有序开放", "有序开放", "暂停开放")), "提前一天实名预约",
             f"每日限{c.rng.choice((3000, 5000, 8000, 12000))}人"]
            for spot in texts.SCENIC[c.name]]
    return "directory", _directory(
        f"{c.name}景区预约与开放", "景区|开放状态|预约方式|限流", rows,
        intro="已预约因疫情无法前往的，可免费取消或改约其他日期；暂停开放景区的预约已全部自动退订。",
        search_hint="输入景区名", not_found="没有找到这个景区。")


# -- 同行查询 ------------------------------------------------------------------------------------
def _same_flight(c: City) -> tuple[str, dict]:
    rows = [[c.day(c.rng.randrange(2, 14)), f"{code}{c.rng.randrange(1000, 9999)}",
             f"{c.name}—{dest}", f"第{c.rng.randrange(5, 40)}排附近"]
            for code, dest in zip(("CZ", "MU", "CA", "HU", "MF", "3U"), texts.OTHER_CITIES,
                                  strict=False)]
    return "directory", _directory(
        "确诊病例同航班查询", "日期|航班|航段|座位", rows,
        intro=texts.SAME_TRIP.format(what="航班"), search_hint="输入航班号，如CZ3367",
        not_found="没有查到这个航班：目前未公布确诊病例同乘信息。")


def _same_train(c: City) -> tuple[str, dict]:
    rows = [[c.day(c.rng.randrange(2, 14)), f"{kind}{c.rng.randrange(10, 2000)}",
             f"{c.name}—{dest}", f"{c.rng.randrange(1, 16)}号车厢"]
            for kind, dest in zip("GGDDKZ", texts.OTHER_CITIES, strict=False)]
    return "directory", _directory(
        "确诊病例同车次查询", "日期|车次|区间|车厢", rows,
        intro=texts.SAME_TRIP.format(what="列车"), search_hint="输入车次，如G1234",
        not_found="没有查到这个车次：目前未公布确诊病例同乘信息。")


def _same_metro(c: City) -> tuple[str, dict]:
    stations = [street_short(s) + "站" for _, s in c.streets()]
    rows = [[c.day(c.rng.randrange(2, 14)), f"地铁{c.rng.randrange(1, 9)}号线",
             f"{a}—{b}", f"{c.rng.randrange(7, 20):02d}:{c.rng.choice(('05', '20', '40'))}前后"]
            for a, b in zip(stations[::2], stations[1::2], strict=False)][:6]
    return "directory", _directory(
        "确诊病例同乘地铁查询", "日期|线路|区间|时间", rows,
        intro=texts.SAME_TRIP.format(what="地铁列车"), search_hint="输入线路或站名",
        not_found="没有查到相关乘车信息。")


def _case_trips(c: City) -> tuple[str, dict]:
    rows = []
    for d, s in c.rng.sample(c.streets(), 6):
        place = c.rng.choice(("超市", "农贸市场", "药店", "餐馆", "银行网点"))
        rows.append([c.day(c.rng.randrange(2, 10)), f"{c.rng.randrange(8, 19):02d}:00前后",
                     f"{d.name}{road(s)}某{place}", "请同时段到过的居民主动报告社区"])
    return "directory", _directory(
        f"{c.name}确诊病例活动轨迹", "日期|时间|地点|提示", rows,
        intro="各区卫生健康部门公布的近14天确诊病例活动地点。", search_hint="输入区名或路名",
        not_found="没有查到与这个地点有关的病例行程。")


# -- 爱心捐赠 ------------------------------------------------------------------------------------
def _fund(c: City) -> tuple[str, dict]:
    return "donation", {
        "headline": f"{c.name}抗疫专项募捐", "story": texts.FUND_STORY.format(city=c.name),
        "beneficiary": f"{c.name}市慈善总会", "goal_fen": 5_000_000_00,
        "raised_fen": c.rng.randrange(2_000_000, 4_000_000) * 100,
        "donors": c.rng.randrange(12_000, 30_000), "uses": texts.FUND_USES,
        "contact_phone": c.phone()}


def _meals(c: City) -> tuple[str, dict]:
    return "donation", {
        "headline": "给一线医护送一份热饭", "story": texts.MEALS_STORY,
        "beneficiary": f"{c.districts[0].name}人民医院等{len(c.districts)}家定点医院的医护人员",
        "goal_fen": 600_000_00, "raised_fen": c.rng.randrange(200_000, 500_000) * 100,
        "donors": c.rng.randrange(4000, 12000), "uses": texts.MEALS_USES,
        "contact_phone": c.phone()}


def _supplies(c: City) -> tuple[str, dict]:
    rows = [[f"{d.name}人民医院", item, f"缺口{qty}", f"{c.rng.choice('王李张刘陈')}主任"]
            for d, (item, qty) in zip(c.districts, texts.SUPPLY_NEEDS, strict=False)]
    return "directory", _directory(
        f"{c.name}防疫物资需求", "需求单位|物资|缺口|对接人", rows,
        intro="以下为定点医院登记的物资缺口。捐赠的物资须有产品合格证明，医用物资须符合国家标准。",
        search_hint="输入物资或医院", not_found="这项物资目前没有缺口，感谢您的关心。",
        form="material_pledge")


# -- 社区服务 · 生活服务 --------------------------------------------------------------------
def _notices(c: City) -> tuple[str, dict]:
    rows = [[title, c.day(back), body.format(district=c.districts[0].name)]
            for back, (title, body) in enumerate(texts.NOTICES)]
    return "directory", _directory(
        "社区公告", "公告|发布日期|内容", rows, intro="本社区最新通知，请居民朋友相互转告。",
        search_hint="输入关键词，如核酸", not_found="没有找到相关公告。")


def _parcels(c: City) -> tuple[str, dict]:
    rows = []
    for d, s in c.streets()[:8]:
        name = c.rng.choice(("菜鸟驿站", "妈妈驿站", "兔喜生活"))
        rows.append([f"{street_short(s)}{name}", c.address(d, s), "08:00-21:00",
                     "凭取件码无接触取件，可代收生鲜"])
    return "directory", _directory(
        "快递代收点", "代收点|地址|开放时间|说明", rows,
        intro="小区封闭管理期间，快递统一放在以下代收点，凭取件码自取；隔离家庭由志愿者送到门口。",
        search_hint="输入街道或路名", not_found="附近没有找到代收点。")


def _courses(c: City) -> tuple[str, dict]:
    return "directory", _directory(
        f"{c.name}“停课不停学”线上课程", "课程|年级|时间|形式", texts.SCHOOL_COURSES,
        intro=f"{c.name}市教育局统一安排的中小学线上课程，电视与网络同步播出。",
        search_hint="输入年级或科目", not_found="没有找到这门课程。")


def _remote_work(c: City) -> tuple[str, dict]:
    return "directory", _directory(
        "远程办公与复工指南", "事项|说明|办理", texts.REMOTE_WORK,
        intro=f"{c.name}企业复工复产期间的线上办事指南。", search_hint="输入事项",
        not_found="没有找到这个事项。")


def _mind_courses(c: City) -> tuple[str, dict]:
    rows = [[title, f"{c.rng.choice('王李张刘陈杨')}老师（国家二级心理咨询师）", when, "线上直播"]
            for title, when in texts.MIND_COURSES]
    return "directory", _directory(
        "心理疏导公益课程", "课程|讲师|时间|形式", rows,
        intro=f"由{c.name}市心理卫生协会的咨询师主讲，免费参加。", search_hint="输入课程名",
        not_found="没有找到这门课程。", form="course_signup")


def _utilities(c: City) -> tuple[str, dict]:
    power = "南方电网" if c.name in ("广州", "深圳") else "国家电网"
    rows = [["电费", f"{power}App、网上国网", f"{power}{c.name}供电局营业厅", "08:30-17:30"],
            ["水费", "微信“城市服务”、银行代扣", f"{c.name}水务集团营业厅", "08:30-17:00"],
            ["燃气费", "燃气公司App、银行代扣", f"{c.name}燃气集团营业厅", "08:30-17:00"]]
    return "directory", _directory(
        "水电燃气缴费", "项目|缴费方式|营业厅|服务时间", rows,
        notice="疫情期间欠费不停水、不停电、不停气，恢复正常后补缴，免收滞纳金。",
        search_hint="输入水费、电费或燃气费", not_found="没有找到这项缴费。")


SERVICES: dict[str, Callable[[City], tuple[str, dict]]] = {
    "实时疫情数据": _live_data, "风险地区查询": _risk_areas, "核酸检测点查询": _test_sites,
    "疫苗接种点查询": _vaccine_sites, "发热门诊查询": _fever_clinics,
    **{name: _consultation(*args) for name, args in texts.CONSULTATIONS.items()},
    **{name: _shop(*args, **kwargs) for name, (args, kwargs) in texts.SHOPS.items()},
    "口罩预约": _mask_reservation, "健康码": _health_code,
    **{name: _form_page(*args) for name, args in texts.FORM_PAGES.items()},
    "机票退改": _flights, "火车票退改": _trains, "酒店退订": _hotels, "公交运营查询": _buses,
    "景区预约调整": _scenic, "同航班查询": _same_flight, "同车次查询": _same_train,
    "同地铁查询": _same_metro, "确诊行程查询": _case_trips, "抗疫捐款": _fund,
    "物资捐赠": _supplies, "医护人员关爱": _meals, "社区公告": _notices, "快递代收": _parcels,
    "在线教育": _courses, "远程办公": _remote_work, "心理疏导课程": _mind_courses,
    "水电缴费": _utilities,
}


def content(name: str, city: str, *, today: date) -> tuple[str, dict[str, Any]] | None:
    """(runtime, settings) of the hub service `name` in `city`, or None for one not written."""
    build = SERVICES.get(name)
    if build is None or city not in PLACES:
        return None
    seed = zlib.crc32(f"{name}\x1f{city}".encode())
    return build(City(city, today, random.Random(seed)))


# -- the feed's own shops (not in the hub): settings that fit their trade -------------------------
def shop_config(runtime: str, *, name: str, category: str, trade: str) -> dict[str, Any] | None:
    """Settings for a merchant's own mini-app of `runtime`, in words of its trade (`category`
    code, `trade` its Chinese name); None for a runtime without written settings."""
    rng = random.Random(zlib.crc32(f"{name}\x1f{runtime}".encode()))
    line = texts.TRADE_LINES.get(category, "用心服务周边居民")
    if runtime == "storefront":
        return {"welcome": f"欢迎光临{name}！{line}。", "opening_hours": rng.choice(
                    ("08:00-20:00", "09:00-21:00", "07:30-19:30", "10:00-22:00")),
                "store_pickup": rng.random() < 0.7, "delivery": True,
                "min_order_fen": rng.choice((0, 1500, 2000, 3000)),
                "contact_phone": f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"}
    if runtime == "consultation":
        department = rng.choice(texts.DEPARTMENTS) if category == "clinic" else f"{trade}咨询"
        config: dict[str, Any] = {
            "department": department, "hours": rng.choice(("09:00-21:00", "08:00-18:00")),
            "mode": rng.choice(("text", "video", "phone")),
            "notice": f"{name}在线解答{trade}方面的问题，{line}。"}
        if category == "clinic":
            config["form"] = "consult_request"
        return config
    if runtime == "info":
        return {"headline": f"{name}服务须知",
                "body": f"{name}：{line}。\n营业时间 {rng.choice(('08:00-20:00', '09:00-18:00'))}，"
                        "疫情期间进店请佩戴口罩、扫码登记。"}
    return None
