"""The search benchmark's catalogue: `n` listed mini-apps with names, descriptions and tags in the
demo city's style (place + trade word + suffix; a sentence per category), profiles with quality,
a certified brand and a 买菜 topic, bulk inserted (Core executemany, 20,000 rows a statement
batch) so 200,000 mini-apps take seconds, not minutes."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

CITIES = ("武汉", "杭州", "北京")
SENTENCES = {
    "info": "{place}{trade}查询，每日更新",
    "clinic": "{place}社区{trade}，在线问诊与预约挂号",
    "grocery": "新鲜蔬菜水果，{place}当日送达，满39元免配送费",
    "medicine": "{place}{trade}，常用药品送药上门",
    "health": "{place}健康申报与防疫{trade}",
    "travel": "{place}{trade}，车票与行程变更信息",
    "charity": "{place}{trade}项目，捐赠进度公开",
    "community": "{place}{trade}报修、缴费与通知",
    "errands": "{place}{trade}，代买代送，半小时达",
    "restaurant": "{place}{trade}，外卖自取，家常菜与面食",
    "housekeeping": "{place}{trade}，日常保洁与深度清洁",
    "education": "{place}{trade}，少儿课程与成人培训",
}
BATCH = 20_000
# place words of shop names (the demo city's list before it moved to per-city districts)
PLACES = ("城东", "城西", "江汉", "汉口", "武昌", "光谷", "南湖", "东湖", "西湖", "滨江", "浦东",
          "徐汇", "海淀", "朝阳", "天河", "南山", "福田", "钱塘", "青山", "洪山")


def seed(url: str, n: int, rng: random.Random) -> None:
    """A fresh schema holding `n` listed mini-apps (one merchant each)."""
    from sqlalchemy import insert

    from townsquare.core.database import Database
    from townsquare.merchants.models import Brand, BrandStatus, Category, Merchant
    from townsquare.miniapps.models import MiniApp, MiniAppKind
    from townsquare.models import metadata
    from townsquare.simulation.city_data import CATEGORIES, SHOP_SUFFIX, TRADE_WORDS
    from townsquare.traffic.models import Stage, Topic, TrafficProfile

    database = Database(url)
    metadata.drop_all(database.engine)
    metadata.create_all(database.engine)
    now = datetime.now(UTC)
    with database.unit_of_work() as db:
        categories = [Category(code=c, name_zh=zh, name_en=en, urgent=u)
                      for c, zh, en, u in CATEGORIES]
        db.add_all(categories)
        db.flush()
        db.add(Topic(slug="groceries", title_zh="买菜", title_en="Groceries",
                     category_codes=["grocery"], tags=["生鲜"]))
        stages = list(Stage)
        for start in range(0, n, BATCH):
            merchants: list[dict[str, Any]] = []
            apps: list[dict[str, Any]] = []
            profiles: list[dict[str, Any]] = []
            for i in range(start, min(n, start + BATCH)):
                category = rng.choice(categories)
                place = rng.choice(PLACES)
                trade = rng.choice(TRADE_WORDS[category.code])
                name = f"{place}{rng.choice('福顺和兴安康宏泰')}{trade}{rng.choice(SHOP_SUFFIX)}"
                city = CITIES[0] if rng.random() < 0.7 else rng.choice(CITIES[1:])
                merchants.append({"id": i + 1, "public_id": f"mer_bench{i:08d}", "name": name,
                                  "category_id": category.id, "cities": [city],
                                  "created_at": now})
                apps.append({
                    "id": i + 1, "public_id": f"ma_bench{i:08d}", "merchant_id": i + 1,
                    "category_id": category.id, "kind": MiniAppKind.EXTERNAL,
                    "client_secret_digest": "0" * 64, "name": f"{name}{i % 97}号",
                    "icon": "🛒", "cities": [city], "listed": True, "created_at": now,
                    "description": SENTENCES[category.code].format(place=place, trade=trade),
                    "tags": rng.sample(TRADE_WORDS[category.code], 1 + (i % 2)),
                })
                stage = stages[i % len(stages)]
                scored = stage != Stage.NEW
                profiles.append({"miniapp_id": i + 1, "merchant_id": i + 1, "stage": stage,
                                 "quality": round(rng.uniform(30, 95), 1) if scored else None,
                                 "tier": rng.choice("SABC") if scored else None,
                                 "stage_detail": {}, "refreshed_at": now})
            db.execute(insert(Merchant), merchants)
            db.execute(insert(MiniApp), apps)
            db.execute(insert(TrafficProfile), profiles)
        db.add(Brand(merchant_id=1, name="鲜丰水果", status=BrandStatus.CERTIFIED, decided_at=now))
    database.engine.dispose()
