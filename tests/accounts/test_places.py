"""The known places of the address book: keys are unique, every location is in Wuhan, and the
demo's shops deliver to some of them (so a newcomer can order to a place from the list) and
not to others (so the checkout's "outside the zones" can be seen)."""

from __future__ import annotations

from sqlalchemy import select

from townsquare import ordering
from townsquare.accounts import places
from townsquare.core.errors import TownsquareError
from townsquare.merchants import categories
from townsquare.merchants import service as merchants
from townsquare.merchants.models import Merchant
from townsquare.ordering import demo
from townsquare.ordering.stores.models import Store


def test_places_are_distinct_and_in_wuhan():
    keys = [p.key for p in places.PLACES]
    assert len(keys) == len(set(keys))
    assert all(30.3 < p.lat < 30.8 and 114.0 < p.lng < 114.6 for p in places.PLACES)
    assert places.place("wh-xudong") is places.PLACES[0] and places.place("nowhere") is None
    assert sum(len(members) for _group, members in places.by_district()) == len(places.PLACES)


def test_the_demo_shops_deliver_to_some_known_places(database, make_user, tmp_path):
    make_user(username="gro"), make_user(username="chef")
    with database.unit_of_work() as db:
        for code, zh in (("grocery", "生鲜买菜"), ("restaurant", "餐饮美食")):
            categories.create_category(db, actor=None, code=code, name_zh=zh, name_en=code)
        merchants.create_merchant(db, actor=None, owner_username="gro", name="城东鲜果店",
                                  category_code="grocery", cities=["武汉"])
        merchants.create_merchant(db, actor=None, owner_username="chef", name="汉味小馆",
                                  category_code="restaurant", cities=["武汉"])
        demo.seed(db, merchants=list(db.scalars(select(Merchant))), data_dir=tmp_path)
        served: dict[str, set[str]] = {}
        for store in db.scalars(select(Store).where(Store.delivery)):
            for place in places.PLACES:
                try:
                    ordering.zone_for(store, lat=place.lat, lng=place.lng)
                except TownsquareError:
                    continue
                served.setdefault(store.name, set()).add(place.key)
    grocer = next(keys for name, keys in served.items() if name.startswith("城东鲜果店"))
    kitchen = next(keys for name, keys in served.items() if name.startswith("汉味小馆"))
    assert {"wh-xudong", "wh-qinyuan", "wh-shahu"} <= grocer
    assert "wh-guanggu" not in grocer  # 光谷 is too far: the checkout says so
    assert {"wh-jianghanlu", "wh-baofeng"} <= kitchen
