"""The demo ISVs' templates for the grocery and restaurant runtimes (as Duoguan published eight
restaurant templates), and the demo shops made from them: data, published and used through the
registry's services exactly as an ISV and a merchant would (the system acting).

A template carries what suits one kind of shop (which fulfilment kinds it offers, packaging fee,
auto-accept and how long a paid order may wait to be accepted, a notice); a merchant making a
shop from one names only the shop and ticks its stores (the "stores" setting is each
merchant's own: miniapps.runtimes.MERCHANT_FIELDS)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core.settings import Settings
from townsquare.merchants.models import Merchant, ServiceProvider
from townsquare.miniapps import review, templates_service
from townsquare.miniapps.models import HubSection, MiniApp, Template, TemplateStatus
from townsquare.miniapps.shell import hub
from townsquare.ordering.stores.models import Store


@dataclass(frozen=True)
class ShopTemplate:
    runtime: str  # "grocery" | "restaurant"
    name: str
    description: str
    category: str
    defaults: dict[str, Any] = field(default_factory=dict)


GROCERY = "grocery"
RESTAURANT = "restaurant"

TEMPLATES: tuple[ShopTemplate, ...] = (
    ShopTemplate(GROCERY, "社区生鲜团购",
                 "社区团购：每晚截单，次日到小区自提点取货，也可到店自提。", "grocery", {
                     "welcome": "今日下单，明天到小区自提点取，新鲜又省心。",
                     "community": True, "pickup": True, "delivery": False,
                     "packaging_fen": 0, "auto_accept": True, "accept_within_minutes": 30,
                     "notice": "每晚 23:00 截单，次日 16:00-20:00 到自提点取货；缺货自动退款。",
                 }),
    ShopTemplate(GROCERY, "水果店", "水果店线上下单：到店自提或 3 公里内送货上门。", "grocery", {
        "welcome": "当季鲜果，现切现装，到店自提不排队。",
        "pickup": True, "delivery": True, "community": False,
        "packaging_fen": 0, "auto_accept": False, "accept_within_minutes": 10,
        "notice": "水果按斤称重，实际重量误差在 5% 以内；坏果包赔。",
    }),
    ShopTemplate(GROCERY, "生鲜超市到家", "蔬菜、肉禽、粮油一站买齐，预约时段送货到家。",
                 "grocery", {
        "welcome": "买菜不出门，预约时段准时送达。",
        "pickup": True, "delivery": True, "community": False,
        "packaging_fen": 100, "auto_accept": True, "accept_within_minutes": 10,
        "notice": "每单收取 1 元环保袋费；冷链商品请按时收货。",
    }),
    ShopTemplate(GROCERY, "菜市场摊位", "菜场摊主的小程序：提前下单，路过摊位直接取。", "grocery", {
        "welcome": "提前下单，路过摊位报取货号即可。",
        "pickup": True, "delivery": False, "community": False,
        "packaging_fen": 0, "auto_accept": False, "accept_within_minutes": 15,
    }),
    ShopTemplate(RESTAURANT, "快餐自提", "快餐店预点单：选好取餐时段，到店报号即取，不用排队。",
                 "restaurant", {
                     "welcome": "提前点单，到店报取餐号，不用排队。",
                     "pickup": True, "dine_in": False, "delivery": False,
                     "packaging_fen": 100, "auto_accept": True, "accept_within_minutes": 5,
                     "notice": "请在所选时段内到店取餐，超过 30 分钟未取餐品可能变凉。",
                 }),
    ShopTemplate(RESTAURANT, "茶饮预点单", "奶茶、咖啡、果茶预点单：选甜度温度，做好了叫号。",
                 "restaurant", {
                     "welcome": "选好甜度和温度，做好了叫你。",
                     "pickup": True, "dine_in": False, "delivery": True,
                     "packaging_fen": 50, "auto_accept": True, "accept_within_minutes": 5,
                 }),
    ShopTemplate(RESTAURANT, "早餐铺", "早餐铺预订：前一晚或出门前下单，上班路上顺手取。",
                 "restaurant", {
                     "welcome": "热干面、豆皮、豆浆，出门前下单，路过就取。",
                     "pickup": True, "dine_in": False, "delivery": False,
                     "packaging_fen": 50, "auto_accept": True, "accept_within_minutes": 5,
                     "notice": "早餐供应 06:30-10:30。",
                 }),
    ShopTemplate(RESTAURANT, "正餐预订堂食", "正餐预订：选到店时间提前点菜，到店即上菜。",
                 "restaurant", {
                     "welcome": "订好到店时间，菜提前备好，到店即上。",
                     "dine_in": True, "pickup": True, "delivery": False,
                     "packaging_fen": 0, "auto_accept": False, "accept_within_minutes": 30,
                     "notice": "到店请报预订号；超过预订时间 30 分钟未到店将视为取消。",
                 }),
    ShopTemplate(RESTAURANT, "外卖自配送", "餐厅自有骑手配送：按距离收配送费，也支持到店自提。",
                 "restaurant", {
                     "welcome": "门店自配送，热菜热送。",
                     "delivery": True, "pickup": True, "dine_in": False,
                     "packaging_fen": 200, "auto_accept": False, "accept_within_minutes": 10,
                 }),
)


def publish_templates(db: Session, *, providers: list[ServiceProvider]) -> dict[str, Template]:
    """Each template created and published by one of `providers` in turn (as its staff would);
    the ones already published by name are left alone. Returns them by name."""
    existing = {t.name: t for t in db.scalars(select(Template).where(
        Template.runtime.in_((GROCERY, RESTAURANT)), Template.status == TemplateStatus.PUBLISHED))}
    for index, spec in enumerate(TEMPLATES):
        if spec.name in existing or not providers:
            continue
        provider = providers[index % len(providers)]
        template = templates_service.create_template(
            db, actor=None, provider_id=provider.public_id, runtime=spec.runtime,
            name=spec.name, description=spec.description, category=spec.category,
            defaults=spec.defaults)
        existing[spec.name] = templates_service.publish_template(
            db, actor=None, template_id=template.public_id)
    return existing


@dataclass(frozen=True)
class DemoShop:
    merchant: Merchant
    template: str  # the template's name
    name: str
    icon: str
    tags: tuple[str, ...]
    config: dict[str, Any]


def open_shop(db: Session, *, settings: Settings, operator: User | None, template: Template,
              shop: DemoShop) -> MiniApp:
    """The merchant's shop mini-app from `template`, with all its stores, reviewed and live."""
    stores = list(db.scalars(select(Store.public_id).where(
        Store.merchant_id == shop.merchant.id, Store.active).order_by(Store.id)))
    created = templates_service.create_from_template(
        db, actor=None, settings=settings, template_id=template.public_id,
        merchant_id=shop.merchant.public_id, name=shop.name, icon=shop.icon,
        tags=list(shop.tags), cities=list(shop.merchant.cities),
        config={**shop.config, "stores": ",".join(stores)}, submit=True,
        publish_on_approval=True)
    review.approve(db, actor=operator, version_id=created.version.public_id)
    return created.miniapp


def seed(db: Session, *, settings: Settings, providers: list[ServiceProvider],
         operator: User | None) -> list[MiniApp]:
    """The demo's templates, and a live shop mini-app for each demo merchant that has stores
    (the grocery 城东鲜果店 and the first Wuhan restaurant): listed in their category, so the
    grocery shows in the 买菜 topic and the restaurant among the city's restaurants; the grocery
    also comes first in the hub's 生鲜买菜 section."""
    templates = publish_templates(db, providers=providers)
    with_stores = set(db.scalars(select(Store.merchant_id)))
    made = []
    for merchant in db.scalars(select(Merchant).where(Merchant.id.in_(with_stores))
                               .order_by(Merchant.id)):
        has_shop = db.scalar(select(MiniApp.id).join(Template).where(
            MiniApp.merchant_id == merchant.id, Template.runtime.in_((GROCERY, RESTAURANT))))
        if has_shop:
            continue
        if merchant.category.code == GROCERY:
            shop = DemoShop(merchant, "社区生鲜团购", f"{merchant.name}·买菜", "🥬",
                            ("买菜", "水果", "生鲜", "自提"),
                            {"pickup": True, "delivery": True, "community": True,
                             "auto_accept": False, "accept_within_minutes": 15,
                             "contact_phone": "027-8765 4321"})
        elif merchant.category.code == RESTAURANT:
            shop = DemoShop(merchant, "快餐自提", f"{merchant.name}·点餐", "🍱",
                            ("午餐", "点餐", "自提", "堂食"),
                            {"pickup": True, "dine_in": True, "contact_phone": "027-8765 4321"})
        else:
            continue
        if shop.template in templates:
            made.append(open_shop(db, settings=settings, operator=operator,
                                  template=templates[shop.template], shop=shop))
    for app in made:
        if app.category.code == GROCERY:
            _first_in_hub(db, operator=operator, section_title=HUB_SECTION, miniapp=app)
    return made


HUB_SECTION = "生鲜买菜"  # the demo hub's grocery section (simulation.city_data.HUB)


def _first_in_hub(db: Session, *, operator: User | None, section_title: str,
                  miniapp: MiniApp) -> None:
    """The operator puts the shop first in the hub section of its trade, if there is one."""
    section = db.scalar(select(HubSection).where(HubSection.title_zh == section_title))
    if section is None:
        return
    hub.add_entry(db, actor=operator, section_id=section.public_id,
                  miniapp_id=miniapp.public_id)
    for _ in range(len(section.entries)):
        hub.move_entry(db, actor=operator, section_id=section.public_id,
                       miniapp_id=miniapp.public_id, direction="up")
