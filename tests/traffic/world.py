"""A small traffic world: two cities' worth of listed mini-apps in two categories, one certified
brand with an uncertified look-alike, merchants at every growth stage, and their scores and tiers
already in `traffic_profiles` (so tests need not run a scoring cycle).

Rows are written straight through the ORM; every traffic test builds on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache

from tests.conftest import PASSWORD
from townsquare.accounts.models import Role, RoleGrant, User
from townsquare.core.clock import clock
from townsquare.core.database import Database
from townsquare.core.security import hash_password
from townsquare.merchants.models import Brand, BrandStatus, Category, Merchant, MerchantStaff
from townsquare.miniapps.models import MiniApp, MiniAppKind
from townsquare.traffic.models import Stage, TrafficProfile

CITY = "武汉"
OTHER_CITY = "杭州"


@dataclass(frozen=True)
class App:
    public_id: str
    id: int
    merchant_public_id: str
    merchant_id: int
    name: str
    stage: Stage
    tier: str | None
    quality: float | None


@dataclass
class World:
    owner: User  # staff of the brand merchant ("鲜丰水果", certified)
    other_owner: User  # staff of the look-alike merchant
    resident: User
    operator: User
    apps: dict[str, App] = field(default_factory=dict)  # by a short key, see build_world

    def app(self, key: str) -> App:
        return self.apps[key]


@lru_cache
def _password_hash() -> str:
    return hash_password(PASSWORD)


# key: (merchant name, app name, description, tags, category, city, stage, tier, quality, age days)
APPS = {
    "brand": ("鲜丰水果", "鲜丰水果官方商城", "新鲜水果当日达", ["水果", "生鲜"], "grocery", CITY,
              Stage.MATURE, "S", 92.0, 400),
    "lookalike": ("鲜丰果业", "鲜丰水果特卖", "水果低价特卖", ["水果"], "grocery", CITY,
                  Stage.GROWING, "C", 55.0, 60),
    "grocer": ("城东菜场", "城东生鲜到家", "蔬菜 meat and fresh vegetables", ["蔬菜"], "grocery",
               CITY, Stage.MATURE, "A", 80.0, 300),
    "newcomer": ("小林蔬果", "小林蔬果铺", "社区新开的蔬果铺", ["蔬菜", "水果"], "grocery", CITY,
                 Stage.NEW, None, None, 5),
    "declining": ("老街粮油", "老街粮油店", "米面粮油", ["粮油"], "grocery", CITY,
                  Stage.DECLINING, "D", 30.0, 700),
    "clinic": ("仁心诊所", "仁心诊所在线问诊", "Online clinic consultation", ["问诊"], "clinic",
               CITY, Stage.MATURE, "B", 70.0, 200),
    "faraway": ("西湖茶社", "西湖茶社", "Tea house in Hangzhou", ["茶"], "grocery", OTHER_CITY,
                Stage.MATURE, "A", 85.0, 300),
}


def build_world(database: Database) -> World:
    now = clock.now()
    with database.unit_of_work() as db:
        users = [
            User(username=name, display_name=f"测试{name}", password_hash=_password_hash(),
                 roles=[RoleGrant(role=role)])
            for name, role in (("owner", Role.MERCHANT_STAFF), ("other_owner", Role.MERCHANT_STAFF),
                               ("resident", Role.RESIDENT), ("operator", Role.OPERATOR))
        ]
        db.add_all(users)
        categories = {
            "grocery": Category(code="grocery", name_zh="生鲜", name_en="Groceries"),
            "clinic": Category(code="clinic", name_zh="诊所", name_en="Clinics"),
        }
        db.add_all(categories.values())
        db.flush()
        world = World(*users)
        for key, (merchant_name, name, description, tags, category, city, stage, tier, quality,
                  age) in APPS.items():
            created = now - timedelta(days=age)
            merchant = Merchant(name=merchant_name, category_id=categories[category].id,
                                cities=[city], created_at=created)
            db.add(merchant)
            db.flush()
            staff = users[0] if key == "brand" else users[1]
            db.add(MerchantStaff(merchant_id=merchant.id, user_id=staff.id, is_owner=True))
            miniapp = MiniApp(
                merchant_id=merchant.id, category_id=categories[category].id,
                kind=MiniAppKind.EXTERNAL, client_secret_digest="0" * 64, name=name, icon="🛒",
                description=description, tags=tags, cities=[city], listed=True,
                created_at=created,
            )
            db.add(miniapp)
            db.flush()
            db.add(TrafficProfile(miniapp_id=miniapp.id, merchant_id=merchant.id, stage=stage,
                                  tier=tier, quality=quality))
            world.apps[key] = App(miniapp.public_id, miniapp.id, merchant.public_id, merchant.id,
                                  name, stage, tier, quality)
        brand_merchant = world.apps["brand"].merchant_id
        db.add(Brand(merchant_id=brand_merchant, name="鲜丰水果", status=BrandStatus.CERTIFIED,
                     decided_at=now))
        for user in users:
            db.refresh(user)
            assert user.roles
    return world
