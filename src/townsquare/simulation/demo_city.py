"""The demo city: a deterministic (seeded) city of merchants, ISVs, brands, residents and
mini-apps in every review state, so that every page of a fresh `make demo` shows something real.

It writes rows directly (it is seed data, not user traffic) but keeps the same invariants the
services keep: listing fields mirror the published version, every transition is audited.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.identity import id_check_char, mask_id_number
from townsquare.accounts.models import Identity, Role, RoleGrant, User
from townsquare.community.gate import visitor_demo  # issue 18: visitors
from townsquare.community.repairs import demo as repairs_demo
from townsquare.core import audit
from townsquare.core.clock import clock
from townsquare.core.ids import new_id
from townsquare.core.progress import progress as reporting
from townsquare.core.security import hash_password, keyed_digest, new_token, token_digest
from townsquare.core.settings import Settings
from townsquare.delivery import demo as delivery_demo
from townsquare.merchants.models import (
    Authorization,
    Brand,
    BrandStatus,
    Category,
    Merchant,
    MerchantStaff,
    ProviderStaff,
    ServiceProvider,
)
from townsquare.miniapps.models import (
    HubEntry,
    HubSection,
    MiniApp,
    MiniAppKind,
    MiniAppVersion,
    ReviewLane,
    Template,
    TemplateStatus,
    VersionState,
)
from townsquare.miniapps.runtimes import RUNTIMES
from townsquare.miniapps.sample_backend import sample_client_secret_digest
from townsquare.ordering import demo as ordering_demo
from townsquare.ordering import demo_orders, shop_templates
from townsquare.scoring import cycles
from townsquare.simulation import city_data as data
from townsquare.simulation import city_places as places
from townsquare.simulation import market, service_content

DEMO_PASSWORD = "townsquare-demo"
DEMO_LOGINS = (
    ("operator", "operator", "/console/operator"),
    ("merchant", "merchant", "/console/merchant"),
    ("ISV", "isv", "/console/isv"),
    ("resident", "resident", "/"),
    ("property manager", "property", "/community/staff"),
    ("committee", "committee", "/community/committee"),
    ("guard", "guard", "/community/staff"),
    ("rider (shop's own)", "rider", "/rider"),
    ("repair technician", "technician", "/community/repairs/work"),  # community-repairs
)
# The epidemic-services hub is Wuhan's (the home page's first city): its services are run by
# merchants serving Wuhan and speak of Wuhan's districts, hospitals and test sites.
HUB_CITY = "武汉"
RESIDENTS = 3000
MERCHANTS = 300
REGION_CODES = ("420102", "420106", "110101", "310101", "330102", "440303", "440103")


def ensure(db: Session, *, settings: Settings, seed: int, progress: Console | None = None) -> bool:
    """Build the demo city unless it is there already; True when it was built now."""
    if db.scalar(select(User.id).where(User.username == "operator")):
        return False
    city = _Builder(db, settings, random.Random(seed))
    steps = [
        ("categories", city.categories),
        ("people", city.people),
        ("merchants", city.merchants),
        ("providers", city.providers),
        ("templates", city.templates),
        ("hub", city.hub),
        ("mini-apps", city.miniapps),
        ("shops", lambda: ordering_demo.seed(db, merchants=city.merchant_list,
                                             data_dir=settings.data_dir)),
        ("shop mini-apps", lambda: shop_templates.seed(
            db, settings=settings, providers=city.provider_list, operator=city.operator)),
        ("riders", lambda: delivery_demo.seed(db, merchants_list=city.merchant_list,
                                              password=DEMO_PASSWORD)),
        ("communities", city.communities),
        ("visitors", lambda: visitor_demo.seed(db, settings=settings)),  # issue 18: visitors
        ("wallet", lambda: _demo_wallet(db, settings=settings)),
        ("fee bills", lambda: _fee_bills(db, settings=settings, seed=seed)),  # issue 18
        # community-repairs: technicians and a ticket in every state (pays from the wallet)
        ("repairs", lambda: repairs_demo.seed(db, settings=settings, password=DEMO_PASSWORD)),
        ("orders", lambda: demo_orders.seed(db, settings=settings)),
        # issue 18, community-market: catalogs, an admitted merchant, paid bookings
        ("community services", lambda: _community_services(db, settings=settings)),
        ("history", lambda: market.simulate_history(
            db, settings=settings, seed=seed, showcase=frozenset({city.merchant_list[0].id})
        )),
        ("scores", lambda: cycles.run_recent(db, settings=settings)),
        ("traffic", lambda: _traffic(db, settings=settings, seed=seed)),
    ]
    run_steps(steps, console=progress or Console(), after=db.flush)
    return True


def run_steps(
    steps: Sequence[tuple[str, Callable[[], object]]],
    *,
    console: Console,
    after: Callable[[], object] = lambda: None,
) -> None:
    """Run the build steps in order (`after` each), reporting each as it starts: a progress bar
    on a terminal, a plain line per step when the output is piped (`make demo | tee …`)."""
    with reporting(console, "Building the demo city", total=len(steps), transient=True) as report:
        for number, (label, step) in enumerate(steps, start=1):
            report.update(description=f"Demo city: {label} ({number}/{len(steps)})")
            step()
            after()
            report.update(advance=1)
        report.update(description="Demo city: built")


def _demo_wallet(db: Session, *, settings: Settings) -> None:
    """The demo resident's simulated card, payment PIN and balance (docs/payments.md)."""
    from townsquare.payments.wallet import demo as wallet_demo

    resident = db.scalar(select(User).where(User.username == "resident"))
    if resident is not None:
        wallet_demo.prepare(db, settings=settings, user=resident, password=DEMO_PASSWORD)


def _fee_bills(db: Session, *, settings: Settings, seed: int) -> None:
    """Issue 18: the communities' fee bills, some paid, some overdue (community/bills/demo.py)."""
    from townsquare.community.bills import demo as bills_demo

    bills_demo.seed(db, settings=settings, seed=seed)


def _community_services(db: Session, *, settings: Settings) -> None:
    """The demo communities' service catalogs, admitted merchant and bookings (issue 18)."""
    from townsquare.community.services import demo as services_demo

    services_demo.seed(db, settings=settings)


def _traffic(db: Session, *, settings: Settings, seed: int) -> None:
    """Channels, topics, a campaign, points, bids and the first serving plan."""
    from townsquare.traffic import demo

    demo.seed(db, settings=settings, rng=random.Random(seed))


@dataclass
class _Builder:
    db: Session
    settings: Settings
    rng: random.Random
    now: datetime = field(default_factory=clock.now)
    password_hash: str = ""
    category_by_code: dict[str, Category] = field(default_factory=dict)
    owners: list[User] = field(default_factory=list)
    merchant_list: list[Merchant] = field(default_factory=list)
    provider_list: list[ServiceProvider] = field(default_factory=list)
    template_by_runtime: dict[str, Template] = field(default_factory=dict)
    _operator: User | None = None  # made by the people step
    _lookalike: Merchant | None = None  # made by the merchants step

    def __post_init__(self) -> None:
        # One hash for every demo account: hashing thousands of passwords would take minutes.
        self.password_hash = hash_password(DEMO_PASSWORD)

    @property
    def operator(self) -> User:
        if self._operator is None:
            raise RuntimeError("The demo city's people step makes the operator; run it first.")
        return self._operator

    @property
    def lookalike(self) -> Merchant:
        """A merchant holding no brand that applies for a certified brand's name (pending)."""
        if self._lookalike is None:
            raise RuntimeError("The demo city's merchants step makes the look-alike; run it first.")
        return self._lookalike

    # -- helpers -------------------------------------------------------------------------
    def ago(self, max_days: float, min_days: float = 0.0) -> datetime:
        return self.now - timedelta(days=self.rng.uniform(min_days, max_days))

    def user(self, username: str, name: str, *roles: Role) -> User:
        user = User(
            username=username,
            display_name=name,
            password_hash=self.password_hash,
            roles=[RoleGrant(role=r) for r in roles],
            created_at=self.ago(120, 60),
        )
        self.db.add(user)
        return user

    def person_name(self) -> str:
        return self.rng.choice(data.SURNAMES) + "".join(
            self.rng.choice(data.GIVEN) for _ in range(self.rng.choice((1, 2)))
        )

    def id_number(self) -> str:
        born = datetime(1950, 1, 1) + timedelta(days=self.rng.randrange(0, 55 * 365))
        first17 = f"{self.rng.choice(REGION_CODES)}{born:%Y%m%d}{self.rng.randrange(1000):03d}"
        return first17 + id_check_char(first17)

    def phone(self) -> str:
        return f"1{self.rng.choice('3456789')}{self.rng.randrange(10**9):09d}"

    # -- steps -----------------------------------------------------------------------------
    def categories(self) -> None:
        for code, zh, en, urgent in data.CATEGORIES:
            category = Category(code=code, name_zh=zh, name_en=en, urgent=urgent)
            self.db.add(category)
            self.category_by_code[code] = category

    def people(self) -> None:
        self._operator = self.user("operator", "平台运营小周", Role.OPERATOR, Role.RESIDENT)
        residents = [self.user("resident", "张小民", Role.RESIDENT)]
        residents += [
            self.user(f"r{i:04d}", self.person_name(), Role.RESIDENT) for i in range(1, RESIDENTS)
        ]
        self.db.flush()
        secret = self.settings.effective_secret_key
        for user in residents:
            if user.username != "resident" and self.rng.random() > 0.6:
                continue
            number = self.id_number()
            self.db.add(
                Identity(
                    user_id=user.id,
                    real_name=user.display_name,
                    id_digest=keyed_digest(secret, "id_number", number),
                    id_masked=mask_id_number(number),
                    phone=self.phone(),
                    verified_at=self.ago(60),
                )
            )

    def merchants(self) -> None:
        codes = list(self.category_by_code)
        for i in range(MERCHANTS):
            code = "grocery" if i == 0 else self.rng.choice(codes)
            cities = (["武汉"] if i == 0
                      else self.rng.sample(data.CITIES, self.rng.choice((1, 1, 2))))
            name = (
                "城东鲜果店"
                if i == 0
                else self.shop_place(cities)
                + self.rng.choice(data.TRADE_WORDS[code])
                + self.rng.choice(data.SHOP_SUFFIX)
            )
            owner = self.user(
                "merchant" if i == 0 else f"m{i:04d}",
                self.person_name(),
                Role.MERCHANT_STAFF,
                Role.RESIDENT,
            )
            merchant = Merchant(
                name=name,
                category=self.category_by_code[code],
                created_at=self.ago(400, 10),
                description=f"{name}，服务周边社区居民。",
                cities=cities,
            )
            self.db.add(merchant)
            self.db.flush()
            self.db.add(MerchantStaff(merchant_id=merchant.id, user_id=owner.id, is_owner=True))
            self.owners.append(owner)
            self.merchant_list.append(merchant)
        self.brands()

    def shop_place(self, cities: list[str]) -> str:
        """The place a shop is named after: a district or street of its one city; a shop serving
        several cities takes a neutral name (a 海淀 shop has no place in Wuhan's feed)."""
        if len(cities) != 1:
            return self.rng.choice(places.NEUTRAL)
        district = self.rng.choice(places.PLACES[cities[0]])
        if self.rng.random() < 0.5:
            return district.short
        return places.street_short(self.rng.choice(district.streets))

    def brands(self) -> None:
        holders = self.rng.sample(self.merchant_list[1:], len(data.BRANDS))
        holders[0] = self.merchant_list[0]
        for index, (brand_name, merchant) in enumerate(zip(data.BRANDS, holders, strict=True)):
            status = (
                BrandStatus.CERTIFIED
                if index < 20
                else self.rng.choice((BrandStatus.PENDING, BrandStatus.REJECTED))
            )
            brand = Brand(
                merchant_id=merchant.id,
                name=brand_name,
                status=status,
                evidence=f"商标注册证 第{self.rng.randrange(10**7, 10**8)}号",
                created_at=self.ago(90, 5),
            )
            if status != BrandStatus.PENDING:
                brand.decided_at = self.ago(5)
                brand.decided_by_id = self.operator.id
                if status == BrandStatus.REJECTED:
                    brand.reason = "商标证明与申请主体不一致，请补充授权书。"
            self.db.add(brand)
        # A look-alike: a merchant holding no brand applies for a certified brand's name.
        self._lookalike = next(m for m in self.merchant_list[7:] if m not in holders)
        self.db.add(
            Brand(
                merchant_id=self.lookalike.id,
                name=data.BRANDS[0] + "优选",
                evidence="无",
                status=BrandStatus.PENDING,
                created_at=self.ago(2),
            )
        )

    def providers(self) -> None:
        for i, name in enumerate(data.ISV_NAMES):
            provider = ServiceProvider(
                name=name,
                description=f"{name}：为本地商家开发和运营小程序。",
                created_at=self.ago(500, 100),
            )
            self.db.add(provider)
            self.db.flush()
            staff = self.user(
                "isv" if i == 0 else f"isv{i:02d}",
                self.person_name(),
                Role.ISV_STAFF,
                Role.RESIDENT,
            )
            self.db.flush()
            self.db.add(ProviderStaff(provider_id=provider.id, user_id=staff.id))
            self.provider_list.append(provider)
            clients = self.rng.sample(self.merchant_list[1:], 12)
            if i == 0:
                clients[0] = self.merchant_list[0]
            for j, merchant in enumerate(clients):
                revoked = j == len(clients) - 1  # each ISV has lost one client, kept as history
                self.db.add(
                    Authorization(
                        merchant_id=merchant.id,
                        provider_id=provider.id,
                        granted_by_id=self.owners[self.merchant_list.index(merchant)].id,
                        granted_at=self.ago(200, 30),
                        revoked_at=self.ago(20) if revoked else None,
                    )
                )

    def templates(self) -> None:
        names = {
            "storefront": "社区小店模板",
            "consultation": "在线问诊台模板",
            "info": "信息公告页模板",
            "directory": "便民查询模板",
            "donation": "公益募捐模板",
        }
        for i, (runtime, name) in enumerate(names.items()):
            template = Template(
                provider_id=self.provider_list[i].id,
                runtime=runtime,
                name=name,
                description=f"{RUNTIMES[runtime].label}：几分钟即可上线。",
                category_id=self.category_by_code[
                    {"storefront": "grocery", "consultation": "clinic", "info": "info",
                     "directory": "info", "donation": "charity"}[runtime]
                ].id,
                fields=[
                    {"name": f.name, "default": _default(runtime, f.name)}
                    for f in RUNTIMES[runtime].fields
                ],
                status=TemplateStatus.PUBLISHED,
                created_at=self.ago(300, 100),
            )
            self.db.add(template)
            self.template_by_runtime[runtime] = template
        self.db.add(
            Template(
                provider_id=self.provider_list[3].id,
                runtime="storefront",
                name="餐饮外卖模板（草稿）",
                status=TemplateStatus.DRAFT,
                fields=[],
            )
        )

    def hub(self) -> None:
        for position, (title_zh, title_en, icon, services) in enumerate(data.HUB):
            section = HubSection(title_zh=title_zh, title_en=title_en, icon=icon, position=position)
            self.db.add(section)
            for entry_position, (name, code, runtime) in enumerate(services):
                merchant = self.hub_merchant(code, position * 10 + entry_position)
                # each service opens a first-party page written for its name and city
                city = HUB_CITY if HUB_CITY in merchant.cities else merchant.cities[0]
                written = service_content.content(name, city, today=self.now.date())
                runtime, config = written if written else (runtime, None)
                app = self.new_app(merchant, name, code, runtime, icon)
                self.versions(app, ["published"], config=config)
                section.entries.append(HubEntry(miniapp=app, position=entry_position))

    def hub_merchant(self, code: str, index: int) -> Merchant:
        """The merchant running a hub service: one of its trade serving the hub's city."""
        if code == "grocery" and index % 10 == 1:
            return self.merchant_list[0]  # the demo merchant runs 生鲜到家
        local = [m for m in self.merchant_list[1:] if HUB_CITY in m.cities]
        same = [m for m in local if m.category.code == code] or local
        return same[index % len(same)]

    def communities(self) -> None:
        from townsquare.community import demo as community_demo

        community_demo.build(
            self.db, settings=self.settings, rng=self.rng, password_hash=self.password_hash,
            operator=self.operator, provider_id=self.provider_list[0].id,
        )

    def miniapps(self) -> None:
        demo = self.merchant_list[0]
        for name, state in (
            ("城东鲜果·会员日", "submitted"),
            ("城东鲜果·拼团", "rejected"),
            ("城东鲜果·预售", "draft"),
        ):
            self.versions(self.new_app(demo, name, "grocery", "storefront", "🍎"), [state])
        lifecycles = (
            ["published"],
            ["published"],
            ["published"],
            ["superseded", "published"],
            ["published", "submitted"],
            ["submitted"],
            ["submitted"],
            ["approved"],
            ["rejected"],
            ["draft"],
            ["taken_down"],
            ["superseded", "published", "draft"],
        )
        for merchant in self.merchant_list[1:]:
            runtime = self.rng.choice(("storefront", "consultation", "info", "external"))
            app = self.new_app(merchant, merchant.name, merchant.category.code, runtime, "🏪")
            config = service_content.shop_config(
                runtime, name=merchant.name, category=merchant.category.code,
                trade=merchant.category.name_zh)
            self.versions(app, self.rng.choice(lifecycles), config=config)
        # The look-alike's own listed shop (its brand application is pending): a search for the
        # certified brand must still show the brand's official mini-app first.
        lookalike = self.new_app(self.lookalike, data.BRANDS[0] + "优选特卖", "grocery",
                                 "storefront", "🍊")
        lookalike.cities = ["武汉"]
        lookalike.tags = ["grocery", "水果"]
        self.versions(lookalike, ["published"])

    def new_app(self, merchant: Merchant, name: str, code: str, runtime: str, icon: str) -> MiniApp:
        authorized = self.provider_list[:3] if merchant is self.merchant_list[0] else []
        public_id = new_id("ma")
        app = MiniApp(
            public_id=public_id,
            merchant_id=merchant.id,
            category=self.category_by_code[code],
            kind=MiniAppKind.EXTERNAL if runtime == "external" else MiniAppKind.TEMPLATE,
            template=None if runtime == "external" else self.template_by_runtime[runtime],
            builder_provider_id=authorized[0].id if authorized and runtime != "external" else None,
            client_secret_digest=self.client_secret_digest(runtime, public_id),
            name=name,
            icon=icon,
            description=f"{name}：{merchant.name}提供的线上服务。",
            tags=[code],
            cities=list(merchant.cities),
            created_at=self.ago(200, 30),
        )
        self.db.add(app)
        self.db.flush()
        return app

    def client_secret_digest(self, runtime: str, public_id: str) -> str:
        """External demo apps run on the sample backend, so they get the secret it derives."""
        if runtime == "external":
            return sample_client_secret_digest(self.settings.effective_secret_key, public_id)
        return token_digest(new_token())

    def versions(self, app: MiniApp, states: list[str], config: dict[str, Any] | None = None
                 ) -> None:
        """Versions 1..n of `app`, in the given final states, with an audited history; a template
        app's settings are `config`, or the runtime's demo defaults."""
        start = self.ago(90, 20)
        written = config
        for number, final in enumerate(states, start=1):
            config = {}
            if written is not None:
                config = dict(written)
            elif app.template is not None:
                runtime = app.template.runtime
                config = {f.name: _default(runtime, f.name) for f in RUNTIMES[runtime].fields}
            url = f"{self.settings.base_url}/sample-miniapp/?app={app.public_id}"
            version = MiniAppVersion(
                miniapp_id=app.id,
                number=number,
                label=f"1.{number - 1}.0",
                name=app.name,
                icon=app.icon,
                description=app.description,
                tags=app.tags,
                cities=app.cities,
                external_url=url if app.kind == MiniAppKind.EXTERNAL else "",
                config=config,
                created_at=start,
                changelog="首个版本" if number == 1 else "优化页面与配送说明",
            )
            self.db.add(version)
            self.db.flush()
            self.walk(app, version, final, start)
            start += timedelta(days=self.rng.uniform(3, 10))

    def walk(self, app: MiniApp, version: MiniAppVersion, final: str, at: datetime) -> None:
        path = {
            "draft": [],
            "submitted": ["submitted"],
            "approved": ["submitted", "approved"],
            "rejected": ["submitted", "rejected"],
            "published": ["submitted", "approved", "published"],
            "superseded": ["submitted", "approved", "published", "superseded"],
            "taken_down": ["submitted", "approved", "published", "taken_down"],
        }[final]
        previous = "draft"
        for state in path:
            at = at + timedelta(hours=self.rng.uniform(1, 30))
            if final == "submitted" and state == "submitted":
                at = self.now - timedelta(hours=self.rng.uniform(0.5, 100))  # some overdue
            if state == "submitted":
                version.lane = ReviewLane.EXPEDITED if app.category.urgent else ReviewLane.STANDARD
                hours = (
                    self.settings.review_expedited_hours
                    if app.category.urgent
                    else self.settings.review_standard_hours
                )
                version.submitted_at, version.due_at = at, at + timedelta(hours=hours)
            elif state in ("approved", "rejected"):
                version.decided_at, version.decided_by_id = at, self.operator.id
                if state == "rejected":
                    version.reason = "页面缺少商家资质信息，请补充营业执照后重新提交。"
            elif state == "published":
                app.name, app.icon, app.description = (
                    version.name,
                    version.icon,
                    version.description,
                )
                app.tags, app.cities, app.listed = version.tags, version.cities, True
            elif state == "taken_down":
                version.reason = app.taken_down_reason = "用户投诉较多，经核实存在虚假宣传。"
                app.listed = False
            elif state == "superseded":
                app.listed = True
            version.state = VersionState(state)
            audit.record(
                self.db,
                actor_id=self.operator.id if state not in ("submitted",) else None,
                action=f"version.{state}",
                subject_type="miniapp_version",
                subject_id=version.public_id,
                from_state=previous,
                reason=version.reason,
            ).at = at
            previous = state


# A template's defaults, by runtime: only what fits any page of that kind (no phone number: a
# default would put one city's number on every other city's pages).
_DEFAULTS: dict[str, dict[str, Any]] = {
    "info": {"headline": "最新防疫信息", "body": "请居民朋友做好个人防护，按时完成健康申报。"},
    "storefront": {"welcome": "欢迎光临，新鲜直达社区！", "opening_hours": "08:00-20:00",
                   "store_pickup": True, "delivery": True, "min_order_fen": 2000},
    "consultation": {"department": "全科", "hours": "09:00-21:00", "mode": "text",
                     "notice": "如有发热症状请先线上咨询。"},
}


def _default(runtime: str, field_name: str) -> Any:
    return _DEFAULTS.get(runtime, {}).get(field_name, "")
