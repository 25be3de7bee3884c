"""The ISV's templates page: list, create with default settings, publish; others are kept out."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.miniapps.registry_world import browser_login, build_world
from townsquare.miniapps.models import Template, TemplateStatus
from townsquare.miniapps.runtimes import defaults_from_fields


@pytest.fixture
def world(database, make_user):
    return build_world(database, make_user)


def test_create_and_publish_a_template(client, world, database):
    csrf = browser_login(client, world.isv_user)
    page = client.get(f"/console/isv/{world.isv}/templates")
    assert page.status_code == 200 and "社区小店模板" in page.text and "草稿模板" in page.text
    assert 'id="template-form"' not in page.text
    form_page = client.get(f"/console/isv/{world.isv}/templates?runtime=consultation")
    assert 'name="cfg_mode"' in form_page.text and "视频" in form_page.text
    bad = client.post(f"/console/isv/{world.isv}/templates", data={
        "csrf_token": csrf, "runtime": "consultation", "name": "问诊台", "cfg_mode": "fax"})
    assert bad.status_code == 422 and "field-error" in bad.text
    # a draft may leave required settings blank; publishing it is refused, naming them
    made = client.post(f"/console/isv/{world.isv}/templates", follow_redirects=False, data={
        "csrf_token": csrf, "runtime": "consultation", "name": "半成品问诊台",
        "cfg_department": "儿科", "cfg_mode": "video", "cfg_hours": ""})
    assert made.status_code == 303
    with database.unit_of_work() as db:
        half = db.scalar(select(Template).where(Template.name == "半成品问诊台"))
        assert defaults_from_fields(half.fields) == {"department": "儿科", "mode": "video"}
        half_id = half.public_id
    refused = client.post(f"/console/templates/{half_id}/publish", data={"csrf_token": csrf})
    assert refused.status_code == 422 and "发布前请填写所有必填设置" in refused.text
    assert "问诊时间" in refused.text
    with database.unit_of_work() as db:
        assert db.scalar(select(Template.status).where(Template.public_id == half_id)) == (
            TemplateStatus.DRAFT
        )
    made = client.post(f"/console/isv/{world.isv}/templates", follow_redirects=False, data={
        "csrf_token": csrf, "runtime": "consultation", "name": "问诊台", "category": "medicine",
        "cfg_department": "儿科", "cfg_mode": "video", "cfg_hours": "9:00-17:00"})
    assert made.status_code == 303
    with database.unit_of_work() as db:
        template = db.scalar(select(Template).where(Template.name == "问诊台"))
        assert template.status == TemplateStatus.DRAFT and template.category.code == "medicine"
        assert defaults_from_fields(template.fields) == {
            "department": "儿科", "mode": "video", "hours": "9:00-17:00"}
        tpl_id = template.public_id
    client.post(f"/console/templates/{tpl_id}/publish", data={"csrf_token": csrf})
    again = client.post(f"/console/templates/{tpl_id}/publish", data={"csrf_token": csrf})
    assert again.status_code == 409 and "flash error" in again.text
    with database.unit_of_work() as db:
        assert db.scalar(select(Template.status).where(Template.public_id == tpl_id)) == (
            TemplateStatus.PUBLISHED
        )
    # merchants now find it on their list page
    browser_login(client, world.owner)
    assert "问诊台" in client.get(f"/console/merchant/{world.merchant}/miniapps").text


def test_others_cannot_see_or_use_the_templates_page(client, world, database):
    for user in (world.stranger_isv_user, world.owner, world.resident):
        csrf = browser_login(client, user)
        assert client.get(f"/console/isv/{world.isv}/templates").status_code == 404
        response = client.post(f"/console/isv/{world.isv}/templates", data={
            "csrf_token": csrf, "runtime": "info", "name": "冒名模板"})
        assert response.status_code == 404
        assert client.post(f"/console/templates/{world.draft_template}/publish",
                           data={"csrf_token": csrf}).status_code == 404
    with database.unit_of_work() as db:
        assert db.scalar(select(Template.id).where(Template.name == "冒名模板")) is None
    browser_login(client, world.operator)
    assert client.get(f"/console/isv/{world.isv}/templates").status_code == 200
