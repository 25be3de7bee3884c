"""Operator console pages: the review queue (lanes, overdue, approve and reject-with-reason) and
the listed mini-apps with their take-down form; the owner then sees the reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.loading import rows_loaded
from tests.miniapps.registry_world import browser_login, build_world, external_app
from townsquare.core.clock import clock
from townsquare.miniapps import registry, review
from townsquare.miniapps.models import MiniApp, MiniAppVersion, VersionState

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
def world(database, make_user):
    clock.freeze(T0)
    return build_world(database, make_user)


def _submitted(database, world, settings, *, publish=True, **overrides) -> tuple[str, str]:
    with database.unit_of_work() as db:
        created = registry.create_miniapp(
            db, actor=world.owner, merchant_id=world.merchant, **external_app(**overrides)
        )
        review.submit(db, actor=world.owner, settings=settings,
                      version_id=created.version.public_id, publish_on_approval=publish)
        return created.miniapp.public_id, created.version.public_id


def _state(database, ver_id):
    with database.unit_of_work() as db:
        return db.scalar(select(MiniAppVersion.state).where(MiniAppVersion.public_id == ver_id))


def test_queue_page_shows_lanes_and_overdue(client, world, database, settings):
    _, standard = _submitted(database, world, settings, name="普通小店")
    clock.advance(timedelta(hours=1))
    _, urgent = _submitted(database, world, settings, name="急送药", category="medicine")
    clock.advance(timedelta(hours=5))
    browser_login(client, world.operator)
    page = client.get("/console/operator/reviews").text
    assert page.index(f'data-version="{urgent}"') < page.index(f'data-version="{standard}"')
    assert 'data-lane="expedited"' in page and 'data-lane="standard"' in page
    assert page.count("badge overdue") == 1  # only the expedited one is past its 4 hours
    assert "6 小时" in page or "6 h" in page


def test_approve_from_the_queue_publishes_when_asked(client, world, database, settings):
    ma_id, ver_id = _submitted(database, world, settings)
    csrf = browser_login(client, world.operator)
    done = client.post(f"/console/versions/{ver_id}/approve", data={"csrf_token": csrf},
                       follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/console/operator/reviews"
    assert _state(database, ver_id) == VersionState.PUBLISHED
    assert 'id="queue-empty"' in client.get("/console/operator/reviews").text
    again = client.post(f"/console/versions/{ver_id}/approve", data={"csrf_token": csrf})
    assert again.status_code == 409 and "flash error" in again.text


def test_reject_needs_a_reason_shown_in_place(client, world, database, settings):
    ma_id, ver_id = _submitted(database, world, settings)
    csrf = browser_login(client, world.operator)
    blank = client.post(f"/console/versions/{ver_id}/reject",
                        data={"csrf_token": csrf, "reason": "  "})
    assert blank.status_code == 422 and 'role="alert"' in blank.text
    assert _state(database, ver_id) == VersionState.SUBMITTED
    client.post(f"/console/versions/{ver_id}/reject",
                data={"csrf_token": csrf, "reason": "缺少食品经营许可证"})
    assert _state(database, ver_id) == VersionState.REJECTED
    browser_login(client, world.owner)
    page = client.get(f"/console/miniapps/{ma_id}").text
    assert "缺少食品经营许可证" in page and 'data-state="rejected"' in page


def test_operator_pages_are_for_operators_only(client, world, database, settings):
    _, ver_id = _submitted(database, world, settings)
    for user in (world.owner, world.isv_user, world.resident):
        csrf = browser_login(client, user)
        assert client.get("/console/operator/reviews").status_code == 403
        assert client.get("/console/operator/miniapps").status_code == 403
        denied = client.post(f"/console/versions/{ver_id}/approve", data={"csrf_token": csrf})
        assert denied.status_code == 403
    assert _state(database, ver_id) == VersionState.SUBMITTED


def test_takedown_from_the_listed_page(client, world, database, settings):
    ma_id, ver_id = _submitted(database, world, settings, name="鲜果到家")
    with database.unit_of_work() as db:
        review.approve(db, actor=world.operator, version_id=ver_id)
    csrf = browser_login(client, world.operator)
    page = client.get("/console/operator/miniapps?q=鲜果").text
    assert f'action="/console/versions/{ver_id}/takedown"' in page
    assert "鲜果到家" not in client.get("/console/operator/miniapps?q=nothing").text
    blank = client.post(f"/console/versions/{ver_id}/takedown",
                        data={"csrf_token": csrf, "reason": ""})
    assert blank.status_code == 422 and _state(database, ver_id) == VersionState.PUBLISHED
    client.post(f"/console/versions/{ver_id}/takedown",
                data={"csrf_token": csrf, "reason": "虚假宣传"})
    with database.unit_of_work() as db:
        miniapp = db.scalar(select(MiniApp).where(MiniApp.public_id == ma_id))
        assert (miniapp.listed, miniapp.taken_down_reason) == (False, "虚假宣传")
    browser_login(client, world.owner)
    owner_page = client.get(f"/console/miniapps/{ma_id}").text
    assert 'id="takedown-reason"' in owner_page and "虚假宣传" in owner_page


def test_owner_publishes_an_approved_version(client, world, database, settings):
    ma_id, ver_id = _submitted(database, world, settings, publish=False)
    with database.unit_of_work() as db:
        review.approve(db, actor=world.operator, version_id=ver_id)
    csrf = browser_login(client, world.owner)
    page = client.get(f"/console/miniapps/{ma_id}").text
    assert f'action="/console/versions/{ver_id}/publish"' in page
    client.post(f"/console/versions/{ver_id}/publish", data={"csrf_token": csrf})
    assert _state(database, ver_id) == VersionState.PUBLISHED
    history = client.get(f"/console/miniapps/{ma_id}?lang=en").text
    for action in ("version.submitted", "version.approved", "version.published"):
        assert f'data-action="{action}"' in history


def _many(database, world, settings, count: int) -> list[str]:
    """`count` submitted versions an hour apart: every third a medicine app (expedited lane)
    named 药…, the others grocery apps named 果…; returns their ids, oldest first."""
    ids = []
    with database.unit_of_work() as db:
        for i in range(count):
            medicine = i % 3 == 0
            created = registry.create_miniapp(
                db, actor=world.owner, merchant_id=world.merchant,
                **external_app(name=f"{'药' if medicine else '果'}{i:03d}",
                               category="medicine" if medicine else "grocery"),
            )
            review.submit(db, actor=world.owner, settings=settings,
                          version_id=created.version.public_id)
            ids.append(created.version.public_id)
            clock.advance(timedelta(hours=1))
    return ids


def _rows(html: str) -> list[str]:
    import re

    return re.findall(r'<tr data-version="(ver_\w+)"', html)


def test_queue_filters_search_and_pages_in_sql(client, world, database, settings):
    ids = _many(database, world, settings, 45)  # 15 expedited, 30 standard
    browser_login(client, world.operator)
    with rows_loaded(MiniAppVersion) as loaded:
        first = client.get("/console/operator/reviews")
    assert len(_rows(first.text)) == 20 and len(loaded) <= 20  # a page, not the queue
    assert _rows(first.text)[:15] == ids[0::3]  # expedited first, oldest first
    assert "45" in first.text and 'rel="next"' in first.text
    third = client.get("/console/operator/reviews?page=3")
    assert len(_rows(third.text)) == 5 and 'rel="next"' not in third.text
    every = set()
    for page in (1, 2, 3):
        every |= set(_rows(client.get(f"/console/operator/reviews?page={page}").text))
    assert every == set(ids)
    lane = client.get("/console/operator/reviews?lane=expedited").text
    assert _rows(lane) == ids[0::3]
    category = client.get("/console/operator/reviews?category=grocery&page=2").text
    grocery = [v for i, v in enumerate(ids) if i % 3]
    assert _rows(category) == grocery[20:]
    assert "category=grocery&amp;page=1" in category  # the filters follow the pages
    searched = client.get("/console/operator/reviews", params={"q": "果04"}).text
    assert _rows(searched) == [ids[40], ids[41], ids[43], ids[44]]
    by_merchant = client.get("/console/operator/reviews", params={"q": "城东鲜果"}).text
    assert len(_rows(by_merchant)) == 20
    # the standard lane is due after 48 h by default, the expedited after 4 h: move on so that
    # everything submitted more than 48 h ago is overdue
    clock.advance(timedelta(hours=settings.review_standard_hours - 45 + 10))
    overdue = client.get("/console/operator/reviews?overdue=1&lane=standard").text
    expected = [v for i, v in enumerate(ids) if i % 3 and i < 10]
    assert _rows(overdue) == expected
    assert client.get("/console/operator/reviews?page=x").status_code == 200


def test_bulk_decisions_are_checked_and_recorded_one_by_one(client, world, database, settings):
    from townsquare.merchants.models import Merchant, MerchantStaff

    ids = _many(database, world, settings, 4)
    with database.unit_of_work() as db:  # the operator also works for the other merchant
        other = db.scalar(select(Merchant).where(Merchant.public_id == world.other_merchant))
        db.add(MerchantStaff(merchant_id=other.id, user_id=world.operator.id, is_owner=False))
        created = registry.create_miniapp(
            db, actor=world.other_owner, merchant_id=world.other_merchant,
            **external_app(name="自家药房", category="medicine"),
        )
        review.submit(db, actor=world.other_owner, settings=settings,
                      version_id=created.version.public_id)
        own = created.version.public_id
    csrf = browser_login(client, world.operator)
    blank = client.post("/console/operator/reviews/bulk",
                        data={"csrf_token": csrf, "action": "reject", "reason": " ",
                              "version": ids[:2]})
    assert blank.status_code == 422 and 'role="alert"' in blank.text
    assert {_state(database, v) for v in ids} == {VersionState.SUBMITTED}
    done = client.post("/console/operator/reviews/bulk",
                       data={"csrf_token": csrf, "action": "approve",
                             "version": [ids[0], ids[1], own]})
    assert done.status_code == 200
    assert f'data-outcome="{ids[0]}" data-done="yes"' in done.text
    assert f'data-outcome="{own}" data-done="no"' in done.text
    assert _state(database, ids[0]) == VersionState.APPROVED
    assert _state(database, ids[1]) == VersionState.APPROVED
    assert _state(database, own) == VersionState.SUBMITTED  # separation of duties, per item
    rejected = client.post("/console/operator/reviews/bulk",
                           data={"csrf_token": csrf, "action": "reject", "reason": "资质不全",
                                 "version": [ids[2], ids[3], ids[0]]})
    assert f'data-outcome="{ids[0]}" data-done="no"' in rejected.text  # already decided
    assert _state(database, ids[2]) == VersionState.REJECTED
    assert _state(database, ids[3]) == VersionState.REJECTED
    with database.unit_of_work() as db:
        from townsquare.core.audit import AuditEntry

        actions = list(db.scalars(select(AuditEntry.action).where(
            AuditEntry.subject_id.in_(ids)
        )))
    assert actions.count("version.approved") == 2 and actions.count("version.rejected") == 2
    assert client.post("/console/operator/reviews/bulk",
                       data={"csrf_token": csrf, "action": "approve"}).status_code == 422
