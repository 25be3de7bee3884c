"""Shell pages: the home hub, search, and the operator's hub console (forms, CSRF, roles)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.miniapps.shell_data import browser_login, make_miniapp, set_listed
from townsquare.accounts.models import Role
from townsquare.miniapps.shell import hub

CONSOLE = "/console/operator/hub"


def _hub(database, *apps, title_zh="生活服务", title_en="Daily life"):
    with database.unit_of_work() as db:
        section = hub.create_section(db, actor=None, title_zh=title_zh, title_en=title_en,
                                     icon="🛒")
        for app in apps:
            hub.add_entry(db, actor=None, section_id=section.public_id, miniapp_id=app.id)
        return section.public_id


def _tiles(html: str) -> list[str]:
    return re.findall(r'class="tile" href="/apps/(ma_[0-9a-z]+)"', html)


def test_home_shows_the_hub_in_chinese_by_default_and_english_on_request(client, database):
    fresh = make_miniapp(database, name="生鲜到家", certified_brand="百果园")
    hidden = make_miniapp(database, name="已下架")
    _hub(database, fresh, hidden)
    set_listed(database, hidden.id, False)
    page = client.get("/")
    assert page.status_code == 200
    assert "生活服务" in page.text and "身边好服务" in page.text
    assert _tiles(page.text) == [fresh.id]
    assert "百果园" in page.text and 'class="badge certified"' in page.text
    assert 'name="q"' in page.text  # the top-bar search box
    english = client.get("/?lang=en")
    assert "Daily life" in english.text and "Local services, one tap away" in english.text


def test_home_without_sections_says_so(client):
    assert 'id="hub-empty"' in client.get("/").text


def test_search_matches_name_description_and_merchant_of_listed_miniapps(client, database):
    by_name = make_miniapp(database, name="鲜花速递", description="同城送花")
    by_description = make_miniapp(database, name="便民服务", description="提供鲜花包装")
    by_merchant = make_miniapp(database, name="蛋糕店", description="", merchant_name="鲜花之家")
    unlisted = make_miniapp(database, name="鲜花批发", listed=False)
    other = make_miniapp(database, name="五金店", description="螺丝")
    page = client.get("/search", params={"q": "鲜花"})
    assert page.status_code == 200
    found = set(re.findall(r'class="result" data-miniapp="(ma_[0-9a-z]+)"', page.text))
    assert found == {by_name.id, by_description.id, by_merchant.id}
    assert unlisted.id not in page.text and other.id not in page.text
    assert "广告均有标注" in page.text  # small print: ranked search, ads labelled
    # LIKE wildcards are literal text, not "match everything"
    wildcard = client.get("/search", params={"q": "%"})
    assert 'id="no-results"' in wildcard.text
    assert 'class="result"' not in client.get("/search").text
    assert client.get("/search", params={"q": "x" * 5000}).status_code == 200


def test_operator_curates_through_the_console_forms(client, make_user, database):
    first, second = make_miniapp(database, name="生鲜到家"), make_miniapp(database, name="药房")
    csrf = browser_login(client, make_user(Role.OPERATOR))
    page = client.get(CONSOLE)
    assert page.status_code == 200 and "服务大厅编排" in page.text
    assert 'name="miniapp_id" list=' not in page.text  # no typing of ma_… ids

    created = client.post(
        f"{CONSOLE}/sections",
        data={"csrf_token": csrf, "title_zh": "生活服务", "title_en": "Daily life", "icon": "🛒"},
        follow_redirects=False,
    )
    assert created.status_code == 303 and created.headers["location"] == CONSOLE
    section = re.search(r'data-section="(hub_[0-9a-z]+)"', client.get(CONSOLE).text).group(1)
    for app in (first, second):
        response = client.post(
            f"{CONSOLE}/sections/{section}/entries",
            data={"csrf_token": csrf, "miniapp_id": app.id}, follow_redirects=False,
        )
        assert response.status_code == 303
    client.post(f"{CONSOLE}/sections/{section}/entries/{second.id}/move",
                data={"csrf_token": csrf, "direction": "up"})
    assert _tiles(client.get("/").text) == [second.id, first.id]

    duplicate = client.post(f"{CONSOLE}/sections/{section}/entries",
                            data={"csrf_token": csrf, "miniapp_id": first.id})
    assert duplicate.status_code == 409 and "已在此栏目中" in duplicate.text
    assert 'data-section="' in duplicate.text  # the console is shown again, with the message

    client.post(f"{CONSOLE}/sections/{section}/rename",
                data={"csrf_token": csrf, "title_zh": "居家", "title_en": "Home", "icon": "🏠"})
    assert "居家" in client.get("/").text
    client.post(f"{CONSOLE}/sections/{section}/entries/{first.id}/remove",
                data={"csrf_token": csrf})
    assert _tiles(client.get("/").text) == [second.id]
    client.post(f"{CONSOLE}/sections/{section}/delete", data={"csrf_token": csrf})
    assert _tiles(client.get("/").text) == []


def test_console_forms_need_the_csrf_token(client, make_user, database):
    browser_login(client, make_user(Role.OPERATOR))
    response = client.post(f"{CONSOLE}/sections", data={"title_zh": "生活", "title_en": "Life"})
    assert response.status_code == 403
    assert client.get("/api/hub").json() == {"sections": []}


def test_console_rejects_bad_input_and_keeps_nothing(client, make_user, database):
    csrf = browser_login(client, make_user(Role.OPERATOR))
    response = client.post(f"{CONSOLE}/sections",
                           data={"csrf_token": csrf, "title_zh": "", "title_en": "Life"})
    assert response.status_code == 422 and 'role="alert"' in response.text
    assert client.get("/api/hub").json() == {"sections": []}


@pytest.mark.parametrize("role", [Role.RESIDENT, Role.MERCHANT_STAFF, Role.ISV_STAFF])
def test_console_is_for_operators_only(app, database, make_user, role):
    app_row = make_miniapp(database)
    section = _hub(database, app_row)
    browser = TestClient(app)
    csrf = browser_login(browser, make_user(role))
    assert browser.get(CONSOLE).status_code == 403
    for path, data in (
        ("/sections", {"title_zh": "x", "title_en": "x"}),
        (f"/sections/{section}/delete", {}),
        (f"/sections/{section}/entries/{app_row.id}/remove", {}),
    ):
        assert browser.post(CONSOLE + path, data={"csrf_token": csrf, **data}).status_code == 403
    assert _tiles(browser.get("/").text) == [app_row.id]
    anonymous = TestClient(app).get(CONSOLE, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


def test_the_hub_console_adds_mini_apps_through_a_search_picker(client, make_user, database):
    apps = [make_miniapp(database, name=f"鲜果{i:02d}") for i in range(25)]
    pharmacy = make_miniapp(database, name="大药房", merchant_name="仁心医药")
    hidden = make_miniapp(database, name="鲜果隐藏", listed=False)
    section = _hub(database)
    csrf = browser_login(client, make_user(Role.OPERATOR))
    page = client.get(CONSOLE).text
    assert f'hx-get="{CONSOLE}/picker?section={section}"' in page and "ma_…" not in page
    assert apps[0].id not in page  # nothing is listed until the operator searches

    def choices(html: str) -> list[str]:
        return re.findall(r'data-choice="(ma_[0-9a-z]+)"', html)

    found = client.get(f"{CONSOLE}/picker", params={"section": section, "q": "鲜果"})
    assert found.status_code == 200 and "<html" not in found.text  # the fragment alone
    assert choices(found.text) == [a.id for a in apps[:20]]  # a handful, by name
    assert hidden.id not in found.text  # only listed mini-apps can be added
    assert choices(client.get(f"{CONSOLE}/picker",
                              params={"section": section, "q": "仁心"}).text) == [pharmacy.id]
    by_category = client.get(f"{CONSOLE}/picker", params={"section": section, "q": "生鲜超市"})
    assert len(choices(by_category.text)) == 20
    assert "没有符合" in client.get(f"{CONSOLE}/picker",
                                    params={"section": section, "q": "%"}).text
    # without script: the console itself shows the results under the section searched
    fallback = client.get(CONSOLE, params={"section": section, "q": "大药"}).text
    assert choices(fallback) == [pharmacy.id]
    assert f'action="{CONSOLE}/sections/{section}/entries"' in fallback
    added = client.post(f"{CONSOLE}/sections/{section}/entries",
                        data={"csrf_token": csrf, "miniapp_id": pharmacy.id},
                        follow_redirects=False)
    assert added.status_code == 303 and _tiles(client.get("/").text) == [pharmacy.id]
    assert "onsubmit" not in client.get(CONSOLE).text  # the CSP forbids inline handlers
