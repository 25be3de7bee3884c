"""The community pass pages through HTTP: a resident verifies and declares, the property
manager imports a register (all or nothing) and sees the dashboard, the committee overview sums
communities, and each role is kept out of what is not theirs."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.community.world import HEAD_ID, REGISTER, build, community
from tests.miniapps.shell_data import browser_login
from townsquare.community.models import HealthDeclaration, HealthRecordView, Person


def test_resident_verifies_and_declares(client, database, settings, make_user):
    w = build(database, settings, make_user)
    csrf = browser_login(client, w.resident)
    home = client.get(f"/community/{w.com}")
    assert home.status_code == 200 and 'id="verify-form"' in home.text
    wrong = client.post(f"/community/{w.com}/verify",
                        data={"csrf_token": csrf, "real_name": "李四", "id_number": HEAD_ID})
    assert wrong.status_code == 422 and "身份证号码" in wrong.text
    ok = client.post(f"/community/{w.com}/verify",
                     data={"csrf_token": csrf, "real_name": "张三", "id_number": HEAD_ID})
    assert ok.status_code == 200 and 'id="household-status"' in ok.text  # after the redirect
    assert "李四" in ok.text and "张小三" in ok.text
    form = client.get(f"/community/{w.com}/declare")
    person = form.text.split('option value="')[1].split('"')[0]
    answer = client.post(f"/community/{w.com}/declare", data={
        "csrf_token": csrf, "person": person, "temperature_c": "38.1", "symptoms": ["cough"]})
    assert answer.status_code == 200 and "status-yellow" in answer.text
    with database.unit_of_work() as db:
        declaration = db.scalar(select(HealthDeclaration))
        assert declaration.temperature_c == 38.1 and declaration.symptoms == ["cough"]
    assert client.get(f"/community/{w.com}/manage").status_code == 403


def test_manager_imports_and_sees_records_audited(client, database, settings, make_user):
    w = build(database, settings, make_user)
    csrf = browser_login(client, w.manager)
    dashboard = client.get(f"/community/{w.com}/manage")
    assert dashboard.status_code == 200 and 'data-figure="households">2<' in dashboard.text
    bad = REGISTER + "坏人,123,13800000000,1-1-101,child\n"
    answer = client.post(f"/community/{w.com}/manage/import", data={"csrf_token": csrf},
                         files={"file": ("r.csv", bad.encode(), "text/csv")})
    assert answer.status_code == 422 and 'id="import-problems"' in answer.text
    good = REGISTER.replace("王五", "王五五")
    answer = client.post(f"/community/{w.com}/manage/import", data={"csrf_token": csrf},
                         files={"file": ("r.csv", good.encode(), "text/csv")})
    assert answer.status_code == 200 and 'id="import-report"' in answer.text
    # the answer is at /manage/import (POST only): its tabs must lead to the console's pages
    tabs = re.findall(r'<nav class="row tabs">(.*?)</nav>', answer.text, re.S)[0]
    for href in re.findall(r'href="([^"]+)"', tabs):
        assert href.startswith("/") and client.get(href).status_code == 200, href
    residents = client.get(f"/community/{w.com}/manage?page=residents")
    assert "王五五" in residents.text
    with database.unit_of_work() as db:
        person = db.scalar(select(Person).where(Person.real_name == "王五五")).public_id
    record = client.get(f"/community/{w.com}/manage/residents/{person}")
    assert record.status_code == 200
    with database.unit_of_work() as db:
        assert db.scalar(select(func.count()).select_from(HealthRecordView)) == 1
    for page in ("setup", "notices", "import"):
        assert client.get(f"/community/{w.com}/manage?page={page}").status_code == 200
    assert client.get(f"/community/{w.other_com}/manage").status_code == 403
    assert client.get(f"/community/{w.other_com}/manage/residents/{person}").status_code == 403


def test_committee_overview_sums_its_communities(client, database, settings, make_user):
    w = build(database, settings, make_user)
    browser_login(client, w.committee)
    page = client.get("/community/committee")
    assert page.status_code == 200
    assert page.text.count("data-community=") == 2
    assert 'data-figure="households">2<' in page.text  # 2 here + 0 in the other
    assert client.get("/community/staff").status_code == 200
    browser_login(client, w.outsider)
    assert "data-community=" not in client.get("/community/committee").text


@pytest.mark.parametrize(
    ("field", "typed", "message"),
    [("exits_per_household", "-5", "0 到 20"), ("exits_per_household", "abc", "请输入整数"),
     ("per_days", "−5", "1 到 30"), ("red_days", "99", "1 到 60")],
)
def test_a_bad_exit_policy_is_shown_beside_its_field(client, database, settings, make_user,
                                                      field, typed, message):
    w = build(database, settings, make_user)
    csrf = browser_login(client, w.manager)
    form = {"csrf_token": csrf, "action": "policy", "exits_per_household": "3", "per_days": "2",
            "max_hours_outside": "6", "who_may_exit": "any_adult", "yellow_days": "7",
            "red_days": "14", field: typed}
    answer = client.post(f"/community/{w.com}/manage/setup", data=form)
    assert answer.status_code == 422
    # the setup page again (not a generic error page), the message right after the field
    assert 'name="exits_per_household"' in answer.text and "社区管理" in answer.text
    beside = re.search(rf'name="{field}"[^>]*aria-invalid="true"[^>]*>\s*'
                       rf'<span class="field-error" id="{field}-error" role="alert">([^<]*)',
                       answer.text)
    assert beside and message in beside.group(1), answer.text
    assert f'value="{typed}"' in answer.text  # what was typed stays to be corrected
    with database.unit_of_work() as db:  # nothing changed
        stored = community(db, w.com)
        assert (stored.exits_per_household, stored.per_days) == (1, 1)


def test_the_notice_form_speaks_of_a_title(client, database, settings, make_user):
    w = build(database, settings, make_user)
    csrf = browser_login(client, w.manager)
    page = client.get(f"/community/{w.com}/manage?page=notices")
    assert "<label>标题" in page.text and "名称" not in page.text
    answer = client.post(f"/community/{w.com}/manage/notices",
                         data={"csrf_token": csrf, "title": "   ", "body": "停水通知"})
    assert answer.status_code == 422
    assert "标题为 1 到 100 个字符" in answer.text and "名称" not in answer.text
    answer = client.post(f"/community/{w.com}/manage/notices",
                         data={"csrf_token": csrf, "title": "停水", "body": "  "})
    assert answer.status_code == 422 and "公告正文为 1 到 4000 个字符" in answer.text
