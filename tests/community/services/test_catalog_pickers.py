"""The property's catalog form offers pick lists, not typed ids: each provider (the property,
each admitted merchant) with its own delivering stores, items and mini-apps, loaded on the
server; a choice from another provider's list is refused by the server and the form keeps
what was typed."""

from __future__ import annotations

import re

import pytest

from tests.community.services import world as w
from tests.miniapps.shell_data import browser_login
from townsquare.accounts.models import User
from townsquare.community.services import pickers
from townsquare.core.errors import PermissionDenied


@pytest.fixture
def world(database, settings, make_user):
    return w.build(database, settings, make_user)


def _group(html: str, select_id: str, provider: str) -> list[str]:
    select = re.search(rf'<select[^>]*id="{select_id}".*?</select>', html, re.S)
    assert select, select_id
    group = re.search(rf'<optgroup[^>]*data-provider="{provider}">(.*?)</optgroup>',
                      select.group(0), re.S)
    return re.findall(r'<option value="([^"]+)"', group.group(1)) if group else []


def test_each_provider_lists_its_own_stores_items_and_apps(database, world):
    adm, _ = w.admit(database, world)
    with database.unit_of_work() as db:
        community = w.cw.community(db, world.com)
        found = pickers.providers(db, actor=db.get_one(User, world.base.manager.id),
                                  community=community, property_name="物业")
        assert [p.value for p in found] == ["", adm]
        own, water = found
        assert [c.value for c in own.stores] == [world.property_store]
        assert [c.value for c in own.items] == [world.property_sku]
        assert [c.value for c in water.stores] == [world.water_store]
        assert [c.value for c in water.items] == [world.water_sku]
        assert "桶装水配送" in water.items[0].label and "¥0.01" in water.items[0].label
        assert [c.value for c in water.apps] == [world.water_app]
        for stranger in (world.base.other_manager, world.base.committee, world.resident):
            with pytest.raises(PermissionDenied):
                pickers.providers(db, actor=db.get_one(User, stranger.id),
                                  community=community, property_name="物业")


def test_the_form_picks_and_the_server_refuses_another_providers_choice(client, database,
                                                                         world):
    adm, _ = w.admit(database, world)
    csrf = browser_login(client, world.base.manager)
    page = f"/community/{world.com}/manage/services"
    html = client.get(page).text
    assert 'placeholder="sto_' not in html and 'placeholder="sku_' not in html
    assert _group(html, "service-store", "") == [world.property_store]
    assert _group(html, "service-store", adm) == [world.water_store]
    assert _group(html, "service-sku", adm) == [world.water_sku]
    assert _group(html, "service-link", adm) == [world.water_app]
    assert "/static/community-catalog.js" in html
    mixed = client.post(page, data={"csrf_token": csrf, "action": "add", "name": "上门保洁",
                                    "price": "50", "store": world.water_store,
                                    "sku": world.property_sku, "admission": ""})
    assert mixed.status_code == 422
    assert 'value="上门保洁"' in mixed.text  # what was typed is kept
    assert re.search(rf'<option value="{world.water_store}" selected>', mixed.text)
    added = client.post(page, data={"csrf_token": csrf, "action": "add", "name": "上门保洁",
                                    "price": "50", "store": world.property_store,
                                    "sku": world.property_sku, "admission": ""})
    assert added.status_code == 200 and "¥50.00" in added.text
