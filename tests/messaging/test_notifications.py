"""Platform notifications to merchants and ISVs: one per event kind, written in the event's own
transaction, rendered in the reader's language, seen only by the people who work there, and
read by each of them for themselves."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.traffic.market_world import authorized_isv
from tests.traffic.support_helpers import freeze
from tests.traffic.world import build_world
from townsquare.accounts.models import Role
from townsquare.core.clock import clock
from townsquare.core.errors import NotFound
from townsquare.core.i18n import current_locale
from townsquare.events import intake
from townsquare.merchants import authorizations
from townsquare.merchants.access import active_authorization, provider_ids_of
from townsquare.merchants.models import MerchantStaff
from townsquare.messaging import notifications
from townsquare.messaging.models import Notification
from townsquare.miniapps.models import MiniApp
from townsquare.scoring import disputes
from townsquare.traffic.market import bids
from townsquare.traffic.models import Promise
from townsquare.traffic.support import campaigns, points

SUB = "ou_" + "0" * 32


@pytest.fixture
def world(database):
    freeze()
    return build_world(database)


def kinds(database, user) -> list[str]:
    with database.unit_of_work() as db:
        return [n.kind for n in notifications.for_reader(db, actor=user)]


def shown(database, user, locale="zh_CN") -> list[notifications.Shown]:
    token = current_locale.set(locale)
    try:
        with database.unit_of_work() as db:
            return notifications.for_reader(db, actor=user)
    finally:
        current_locale.reset(token)


def test_points_earned_spent_refunded_and_adjusted(world, database):
    brand = world.app("brand")
    with database.unit_of_work() as db:
        points.earn(db, merchant_id=brand.merchant_id, rule_code="complete_profile", points=300,
                    reference=f"earn:complete_profile:{brand.public_id}:once",
                    miniapp_id=brand.id)
        # the same reference again pays nothing, and says nothing
        assert points.earn(db, merchant_id=brand.merchant_id, rule_code="complete_profile",
                           points=300, reference=f"earn:complete_profile:{brand.public_id}:once"
                           ) is None
    with database.unit_of_work() as db:
        redemption = points.redeem(
            db, actor=world.owner, merchant_public_id=brand.merchant_public_id,
            miniapp_public_id=brand.public_id, package_code="feed_small", idempotency_key="k-1")
        spent, impressions = redemption.points, redemption.impressions
    with database.unit_of_work() as db:  # a replay spends nothing and says nothing
        points.redeem(db, actor=world.owner, merchant_public_id=brand.merchant_public_id,
                      miniapp_public_id=brand.public_id, package_code="feed_small",
                      idempotency_key="k-1")
    clock.advance(timedelta(days=40))
    with database.unit_of_work() as db:
        assert points.settle(db, now=clock.now()) == 1  # nothing delivered: all refunded
        points.adjust(db, actor=world.operator, merchant_public_id=brand.merchant_public_id,
                      delta=-20, reason="重复奖励更正")
    assert kinds(database, world.owner) == [
        "points.adjusted", "points.refunded", "points.spent", "points.earned"]
    adjusted, refunded, used, earned = shown(database, world.owner)
    assert earned.title == "获得 300 积分"
    assert earned.body == "来自 鲜丰水果官方商城。当前余额：300 积分。"
    assert used.title == f"使用了 {spent} 积分"
    assert f"（{impressions} 次曝光）" in used.body
    assert refunded.title == f"退回 {spent} 积分"
    assert f"实际曝光 0 次（共 {impressions} 次）" in refunded.body
    assert adjusted.title == "积分余额调整 -20" and "重复奖励更正" in adjusted.body
    assert adjusted.link == f"/console/merchant/{brand.merchant_public_id}/traffic#points"
    # the other merchants' staff see none of it
    assert kinds(database, world.other_owner) == []


def test_campaign_enrolment_and_cancellation(world, database):
    today = clock.now().date()
    with database.unit_of_work() as db:
        campaign = campaigns.create(
            db, actor=world.operator, title_zh="春季生鲜节", title_en="Spring fresh food week",
            surfaces=["feed"], starts_on=today, ends_on=today + timedelta(days=6),
            eligible_stages=["mature"], min_tier="B", category_codes=["grocery"],
            impressions_per_miniapp=700, timezone="Asia/Shanghai")
        campaigns.set_state(db, actor=world.operator, campaign_public_id=campaign.public_id,
                            state="open", timezone="Asia/Shanghai")
        cmp = campaign.public_id
    with database.unit_of_work() as db:
        campaigns.enrol(db, actor=world.owner, campaign_public_id=cmp,
                        miniapp_public_id=world.app("brand").public_id, timezone="Asia/Shanghai")
    with database.unit_of_work() as db:  # enrolling again is the same enrolment: no second notice
        campaigns.enrol(db, actor=world.owner, campaign_public_id=cmp,
                        miniapp_public_id=world.app("brand").public_id, timezone="Asia/Shanghai")
        campaigns.set_state(db, actor=world.operator, campaign_public_id=cmp, state="cancelled")
    assert kinds(database, world.owner) == ["campaign.cancelled", "campaign.enrolled"]
    cancelled, enrolled = shown(database, world.owner)
    assert enrolled.title == "鲜丰水果官方商城 已报名活动「春季生鲜节」"
    assert "700 次曝光" in enrolled.body
    cancelled_en, enrolled_en = shown(database, world.owner, "en")
    assert enrolled_en.title == "鲜丰水果官方商城 joined the campaign Spring fresh food week"
    assert cancelled_en.title == "The campaign Spring fresh food week was cancelled"
    assert kinds(database, world.other_owner) == []


def test_the_click_that_spends_a_bids_budget_tells_the_merchant_once(world, database):
    with database.unit_of_work() as db:
        bid = bids.place(db, actor=world.owner, miniapp_public_id=world.app("brand").public_id,
                         target_kind="surface", target="feed", max_cpc_fen=100,
                         daily_budget_fen=250)
        bid_id = bid.id
    for token in ("t1", "t2", "t3", "t4"):
        with database.unit_of_work() as db:
            bids.charge_click(db, bid_id=bid_id, token_digest=token, price_fen=100,
                              now=clock.now(), visitor=token)
    # 100 + 100 + 50 (what was left): the third click spent it; the fourth charged nothing
    assert kinds(database, world.owner) == ["bid.budget_spent"]
    [zh] = shown(database, world.owner)
    [en] = shown(database, world.owner, "en")
    assert zh.title == "鲜丰水果官方商城 今日的竞价预算已用完"
    assert en.body.startswith("The bid on Home feed pauses until tomorrow")
    assert "feed" not in zh.body  # the surface's name, never its code


def test_complaints_and_dispute_decisions(world, database):
    brand = world.app("brand")
    with database.unit_of_work() as db:
        miniapp = db.get(MiniApp, brand.id)
        for n in (1, 2):
            intake.record(db, miniapp=miniapp, type="complaint", event_id=f"c{n}", sub=SUB,
                          occurred_at=clock.now(), complaint_category="quality")
    with database.unit_of_work() as db:  # a re-sent complaint is a duplicate: no notice
        intake.record(db, miniapp=db.get(MiniApp, brand.id), type="complaint", event_id="c1",
                      sub=SUB, occurred_at=clock.now(), complaint_category="quality")
    with database.unit_of_work() as db:
        dispute = disputes.open_dispute(db, actor=world.owner, miniapp_id=brand.public_id,
                                        event_id=intake.first_party_key(brand.public_id, "c1"),
                                        reason="该用户并未下单")
        dispute_id = dispute.public_id
    with database.unit_of_work() as db:
        disputes.decide_dispute(db, actor=world.operator, dispute_id=dispute_id,
                                decision="dismiss", reason="订单记录证实未下单")
    assert kinds(database, world.owner) == [
        "dispute.dismissed", "complaint.received", "complaint.received"]
    dismissed, second, first = shown(database, world.owner)
    assert first.title == "鲜丰水果官方商城 收到新投诉：1 条"
    assert dismissed.title == "您对 鲜丰水果官方商城 的投诉申诉已被采纳"
    assert "订单记录证实未下单" in dismissed.body
    assert dismissed.link == f"/console/miniapps/{brand.public_id}/score#complaints"
    assert kinds(database, world.other_owner) == []


def test_a_rolled_back_change_leaves_no_notification(world, database):
    brand = world.app("brand")
    with pytest.raises(RuntimeError), database.unit_of_work() as db:
        points.earn(db, merchant_id=brand.merchant_id, rule_code="test", points=10,
                    reference="earn:test:x")
        assert db.scalar(select(func.count(Notification.id))) == 1  # written with the change
        raise RuntimeError("the request failed after the award")
    with database.unit_of_work() as db:
        assert db.scalar(select(func.count(Notification.id))) == 0
    assert kinds(database, world.owner) == []


def test_an_authorized_isv_hears_of_the_mini_apps_it_builds(world, database, make_user):
    brand = world.app("brand")
    isv_user = authorized_isv(database, make_user, merchant_public_id=brand.merchant_public_id)
    with database.unit_of_work() as db:  # the ISV built the mini-app
        db.get(MiniApp, brand.id).builder_provider_id = provider_ids_of(db, isv_user)[0]
    with database.unit_of_work() as db:
        points.earn(db, merchant_id=brand.merchant_id, rule_code="test", points=10,
                    reference="earn:test:isv", miniapp_id=brand.id)
    assert kinds(database, isv_user) == ["points.earned"]
    assert kinds(database, world.owner) == ["points.earned"]
    assert kinds(database, world.other_owner) == []
    with database.unit_of_work() as db:  # the authorization ends: the ISV hears no more
        mandate = active_authorization(db, merchant_id=brand.merchant_id,
                                       provider_id=provider_ids_of(db, isv_user)[0])
        authorizations.revoke(db, actor=None, merchant_id=brand.merchant_public_id,
                              authorization_id=mandate.public_id)
        points.earn(db, merchant_id=brand.merchant_id, rule_code="test", points=10,
                    reference="earn:test:after", miniapp_id=brand.id)
    assert kinds(database, world.owner) == ["points.earned", "points.earned"]
    assert len(kinds(database, isv_user)) == 1


def test_each_reader_marks_read_for_themselves(world, database, make_user):
    brand = world.app("brand")
    colleague = make_user(Role.MERCHANT_STAFF, username="colleague")
    with database.unit_of_work() as db:
        db.add(MerchantStaff(merchant_id=brand.merchant_id, user_id=colleague.id))
        for n in range(3):
            points.earn(db, merchant_id=brand.merchant_id, rule_code="test", points=10 + n,
                        reference=f"earn:test:{n}")
    with database.unit_of_work() as db:
        assert notifications.unread_count(db, actor=world.owner) == 3
        first = notifications.for_reader(db, actor=world.owner)[0].id
        assert notifications.mark_read(db, actor=world.owner, notification_id=first) == 1
        assert notifications.mark_read(db, actor=world.owner, notification_id=first) == 0
        with pytest.raises(NotFound):  # another merchant's staff cannot touch it
            notifications.mark_read(db, actor=world.other_owner, notification_id=first)
        with pytest.raises(NotFound):
            notifications.mark_read(db, actor=world.owner, notification_id="ntf_nosuchthing")
    with database.unit_of_work() as db:
        assert notifications.unread_count(db, actor=world.owner) == 2
        assert notifications.unread_count(db, actor=colleague) == 3
        assert notifications.mark_read(db, actor=colleague) == 3
        assert notifications.unread_count(db, actor=colleague) == 0
        assert notifications.unread_count(db, actor=world.owner) == 2


def test_the_door_refuses_what_it_cannot_render(world, database):
    with database.unit_of_work() as db:
        with pytest.raises(ValueError):
            notifications.notify(db, kind="no.such.kind",
                                 merchant_id=world.app("brand").merchant_id)
        with pytest.raises(ValueError):  # a placeholder left without its value
            notifications.notify(db, kind="points.earned",
                                 merchant_id=world.app("brand").merchant_id, params={"points": 1})
        with pytest.raises(ValueError):  # links stay on this site
            notifications.notify(db, kind="points.adjusted",
                                 merchant_id=world.app("brand").merchant_id,
                                 params={"delta": 1, "reason": "x", "balance": 1},
                                 link="https://evil.example/")
        assert db.scalar(select(func.count(Promise.id))) == 0
