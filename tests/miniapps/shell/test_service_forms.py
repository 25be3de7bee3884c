"""Forms, directories and donation drives on first-party mini-app pages (/run/{id}): a resident's
submission is checked field by field, needs the CSRF token, is stored only when good and shown
back only to its sender; a directory searches its rows; a drive's progress counts the pledges."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import func, select

from tests.miniapps.shell_data import browser_login, make_miniapp
from townsquare.core.database import Database
from townsquare.miniapps.models import FormSubmission
from townsquare.miniapps.service_forms import FORMS, clean

TODAY = date(2026, 12, 7)
REPAIR = {"headline": "幸福里物业报修", "body": "报修受理时间：每天08:00-20:00。",
          "form": "repair_request"}
GOOD_REPAIR = {"kind": "water", "address": "3栋2单元501", "problem": "厨房水龙头漏水",
               "phone": "13812345678", "when": "morning"}


def _iframe_src(html: str) -> str:
    match = re.search(r'id="miniapp-frame"[^>]*src="([^"]+)"', html)
    assert match, "no mini-app frame"
    return match.group(1).replace("&amp;", "&")


def _stored(database: Database) -> int:
    with database.unit_of_work() as db:
        return db.scalar(select(func.count(FormSubmission.id))) or 0


def _open(client, app_id: str) -> tuple[str, str]:
    """The framed page's URL and its HTML, opened through the container as a resident does."""
    src = _iframe_src(client.get(f"/apps/{app_id}").text)
    page = client.get(src)
    assert page.status_code == 200, page.text
    return src, page.text


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the form carries no CSRF token"
    return match.group(1)


# -- the checks, without a database ------------------------------------------------------------
def test_good_answers_are_cleaned():
    answers, problems = clean(FORMS["health_checkin"], {
        "name": " 张小民 ", "temperature": "36.50"[:4], "symptoms": "none", "contact": "no",
    }, today=TODAY)
    assert problems == {}
    assert answers == {"name": "张小民", "temperature": "36.5", "symptoms": "none",
                       "contact": "no"}


@pytest.mark.parametrize(("form", "field", "value", "problem"), [
    ("health_checkin", "temperature", "45", "34.0"),
    ("health_checkin", "temperature", "abc", "34.0"),
    ("health_checkin", "symptoms", "sneezing", "选项"),
    ("repair_request", "phone", "12345", "11位"),
    ("repair_request", "problem", "", "请填写"),
    ("repair_request", "problem", "漏" * 301, "300"),
    ("repair_request", "address", "3栋\x00501", "控制字符"),
    ("return_registration", "arrival", "2026-13-01", "例如"),
    ("return_registration", "arrival", "2027-06-01", "之间的日期"),
    ("mask_reservation", "quantity", "6", "1 至 5"),
    ("pledge", "amount", "0.5", "¥1.00"),
    ("pledge", "amount", "12.345", "以元为单位"),
])
def test_bad_answers_get_a_problem_for_their_field(form, field, value, problem):
    """(Problems are translated: Chinese is the default language.)"""
    _answers, problems = clean(FORMS[form], {field: value}, today=TODAY)
    assert problem in problems[field]


# -- over HTTP ---------------------------------------------------------------------------------
def test_a_repair_request_is_checked_stored_and_confirmed(client, make_user, database):
    app = make_miniapp(database, name="物业报修", runtime="info", config=REPAIR)
    browser_login(client, make_user())
    src, html = _open(client, app.id)
    assert "幸福里物业报修" in html and 'action="/run/' in html
    csrf = _csrf(html)

    bad = client.post(f"/run/{app.id}/form", data={**GOOD_REPAIR, "phone": "123", "kind": "",
                                                    "csrf_token": csrf})
    assert bad.status_code == 422
    assert re.search(r'id="e-phone"[^>]*>[^<]*11', bad.text)  # beside the field
    assert 'id="e-kind"' in bad.text and 'id="e-address"' not in bad.text
    assert 'value="3栋2单元501"' in bad.text  # what was typed stays
    assert _stored(database) == 0

    forged = client.post(f"/run/{app.id}/form", data={**GOOD_REPAIR, "csrf_token": "forged"})
    assert forged.status_code == 403
    assert _stored(database) == 0

    sent = client.post(f"/run/{app.id}/form", data={**GOOD_REPAIR, "csrf_token": csrf},
                       follow_redirects=False)
    assert sent.status_code == 303
    back = sent.headers["location"]
    assert back.startswith(f"/run/{app.id}?ts_launch=") and "done=fs_" in back
    page = client.get(back)
    assert page.status_code == 200
    assert "报修已受理" in page.text
    reference = re.search(r'id="done-ref">([0-9A-Z]{8})<', page.text).group(1)
    assert 'id="mine"' in page.text  # the resident sees what they sent
    assert _stored(database) == 1
    client.get(back)  # reading the confirmation again records nothing
    assert _stored(database) == 1
    with database.unit_of_work() as db:
        stored = db.scalar(select(FormSubmission))
        assert stored.answers["problem"] == "厨房水龙头漏水" and stored.sub.startswith("ou_")
        assert stored.reference == reference


def test_someone_else_cannot_read_a_confirmation(app, database, make_user):
    from fastapi.testclient import TestClient

    miniapp = make_miniapp(database, name="物业报修", runtime="info", config=REPAIR)
    with TestClient(app) as first, TestClient(app) as second:
        browser_login(first, make_user())
        _src, html = _open(first, miniapp.id)
        sent = first.post(f"/run/{miniapp.id}/form",
                          data={**GOOD_REPAIR, "csrf_token": _csrf(html)}, follow_redirects=False)
        done = re.search(r"done=(fs_[0-9a-z]+)", sent.headers["location"]).group(1)
        browser_login(second, make_user())
        src, _ = _open(second, miniapp.id)
        other = second.get(src + f"&done={done}")
        assert other.status_code == 200
        assert 'id="done-ref"' not in other.text and 'id="mine"' not in other.text


def test_a_page_without_a_form_refuses_a_post(client, make_user, database):
    app = make_miniapp(database, runtime="info")
    browser_login(client, make_user())
    _src, html = _open(client, app.id)
    assert 'action="/run/' not in html
    response = client.post(f"/run/{app.id}/form", data={"csrf_token": _csrf(client.get("/me")
                                                                            .text)})
    assert response.status_code == 404
    assert _stored(database) == 0


def test_a_directory_searches_its_rows(client, make_user, database):
    config = {
        "headline": "武汉核酸检测点", "columns": "检测点|所在区|地址|开放时间",
        "entries": "江汉区人民医院采样点 | 江汉区 | 江汉区唐家墩路88号 | 24小时\n"
                   "水果湖社区卫生服务中心 | 武昌区 | 武昌区水果湖路12号 | 08:00-18:00",
        "not_found": "这一带暂未设采样点。",
    }
    app = make_miniapp(database, name="核酸检测点查询", runtime="directory", config=config)
    browser_login(client, make_user())
    src, html = _open(client, app.id)
    assert "江汉区人民医院采样点" in html and "水果湖社区卫生服务中心" in html
    found = client.get(src + "&q=武昌")
    assert "水果湖社区卫生服务中心" in found.text and "江汉区人民医院采样点" not in found.text
    assert 'id="found"' in found.text
    none = client.get(src + "&q=海淀")
    assert "这一带暂未设采样点。" in none.text and "水果湖" not in none.text


def test_a_donation_drive_counts_pledges_in_its_progress(client, make_user, database):
    config = {"headline": "抗疫专项募捐", "story": "善款用于采购防护物资。",
              "beneficiary": "武汉市慈善总会", "goal_fen": 1000_00, "raised_fen": 400_00,
              "donors": 10}
    app = make_miniapp(database, name="抗疫捐款", runtime="donation", config=config)
    browser_login(client, make_user())
    src, html = _open(client, app.id)
    assert "¥400.00" in html and 'aria-valuenow="40"' in html
    bad = client.post(f"/run/{app.id}/form", data={"amount": "-5", "phone": "13812345678",
                                                    "csrf_token": _csrf(html)})
    assert bad.status_code == 422 and 'id="e-amount"' in bad.text
    sent = client.post(f"/run/{app.id}/form", data={"amount": "150.50", "phone": "13812345678",
                                                     "donor": "张先生", "csrf_token": _csrf(html)})
    assert sent.status_code == 200  # followed to the page
    assert "¥550.50" in sent.text and 'aria-valuenow="55"' in sent.text
    assert re.search(r'id="donors">11<', sent.text)


def test_the_merchant_reads_the_submissions_and_the_reading_is_audited(app, database, make_user):
    from fastapi.testclient import TestClient

    from townsquare.accounts.models import Role
    from townsquare.core.audit import AuditEntry
    from townsquare.merchants.models import Merchant, MerchantStaff
    from townsquare.miniapps.models import MiniApp

    miniapp = make_miniapp(database, name="物业报修", runtime="info", config=REPAIR)
    staff, outsider = make_user(Role.MERCHANT_STAFF), make_user(Role.MERCHANT_STAFF)
    with database.unit_of_work() as db:
        merchant = db.scalar(select(Merchant).where(Merchant.public_id == miniapp.merchant_id))
        db.add(MerchantStaff(merchant_id=merchant.id, user_id=staff.id, is_owner=True))
    with TestClient(app) as resident, TestClient(app) as shop, TestClient(app) as other:
        browser_login(resident, make_user())
        _src, html = _open(resident, miniapp.id)
        resident.post(f"/run/{miniapp.id}/form", data={**GOOD_REPAIR, "csrf_token": _csrf(html)})
        browser_login(shop, staff)
        assert 'id="submissions-link"' in shop.get(f"/console/miniapps/{miniapp.id}").text
        page = shop.get(f"/console/miniapps/{miniapp.id}/submissions")
        assert page.status_code == 200
        assert "厨房水龙头漏水" in page.text and "水管、水龙头" in page.text  # the choice's label
        assert "13812345678" in page.text
        browser_login(other, outsider)
        assert other.get(f"/console/miniapps/{miniapp.id}/submissions").status_code == 404
    with database.unit_of_work() as db:
        app_row = db.scalar(select(MiniApp).where(MiniApp.public_id == miniapp.id))
        reads = db.scalars(select(AuditEntry).where(
            AuditEntry.action == "form_submissions.read",
            AuditEntry.subject_id == app_row.public_id)).all()
        assert [r.actor_id for r in reads] == [staff.id]


def test_a_form_takes_at_most_twenty_a_day_from_one_resident(client, make_user, database):
    from townsquare.miniapps.shell.submissions import DAILY_LIMIT

    app = make_miniapp(database, name="物业报修", runtime="info", config=REPAIR)
    browser_login(client, make_user())
    _src, html = _open(client, app.id)
    data = {**GOOD_REPAIR, "csrf_token": _csrf(html)}
    for _ in range(DAILY_LIMIT):
        assert client.post(f"/run/{app.id}/form", data=data,
                           follow_redirects=False).status_code == 303
    refused = client.post(f"/run/{app.id}/form", data=data)
    assert refused.status_code == 429 and 'id="form-error"' in refused.text
    assert _stored(database) == DAILY_LIMIT
