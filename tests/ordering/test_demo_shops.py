"""The demo's shop mini-apps and real orders: the ISVs' templates are published, the grocery and
the restaurant run on them with their stores, listed where residents look (the 买菜 topic takes
the grocery category); the demo resident's orders were placed, paid from the wallet, accepted,
handed over by pickup code, rated, one cancelled and refunded, one refused; a question to the
shop was answered and its response time recorded; the clock is put back as it was."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import func, select

from tests.conftest import PASSWORD
from tests.merchants.conftest import login
from townsquare.accounts.models import Role, User
from townsquare.core.clock import clock
from townsquare.events.models import BehaviourEvent, EventType
from townsquare.merchants import categories, providers
from townsquare.merchants import service as merchants
from townsquare.merchants.models import Merchant, ServiceProvider
from townsquare.miniapps.models import HubEntry, HubSection, MiniApp, MiniAppKind, Template
from townsquare.ordering import demo, demo_orders, shop_templates
from townsquare.ordering.chat import service as chat
from townsquare.ordering.chat.models import ShopConversation, ShopMessage
from townsquare.ordering.orders.models import Order, OrderReview, OrderStatus
from townsquare.payments.trades.models import Trade
from townsquare.payments.wallet import demo as wallet_demo
from townsquare.traffic import topics

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai


def test_demo_shops_run_on_the_templates_and_have_real_orders(database, make_user, settings,
                                                              tmp_path, client):
    clock.freeze(NOW)
    make_user(username="gro"), make_user(username="chef"), make_user(username="dev")
    make_user(Role.OPERATOR, username="operator")
    make_user(username="resident")
    with database.unit_of_work() as db:
        for code, zh in (("grocery", "生鲜买菜"), ("restaurant", "餐饮美食")):
            categories.create_category(db, actor=None, code=code, name_zh=zh, name_en=code)
        merchants.create_merchant(db, actor=None, owner_username="gro", name="城东鲜果店",
                                  category_code="grocery", cities=["武汉"])
        merchants.create_merchant(db, actor=None, owner_username="chef", name="汉味小馆",
                                  category_code="restaurant", cities=["武汉"])
        providers.create_provider(db, actor=None, name="云帆科技", staff_username="dev")
        listed = list(db.scalars(select(Merchant).order_by(Merchant.id)))
        demo.seed(db, merchants=listed, data_dir=tmp_path)
        other = MiniApp(merchant_id=listed[0].id, category_id=listed[0].category_id,
                        kind=MiniAppKind.EXTERNAL, client_secret_digest="0" * 64, name="社区团购",
                        icon="🥬", description="团购", tags=[], cities=["武汉"], listed=True)
        section = HubSection(title_zh="生鲜买菜", title_en="Grocery delivery", icon="🥬",
                             position=0, entries=[HubEntry(miniapp=other, position=0)])
        db.add(section)
        db.flush()
        operator = db.scalar(select(User).where(User.username == "operator"))
        isvs = list(db.scalars(select(ServiceProvider)))
        shops = shop_templates.seed(db, settings=settings, providers=isvs, operator=operator)
        assert shop_templates.seed(db, settings=settings, providers=isvs,
                                   operator=operator) == []  # twice is once
        assert sorted(s.name for s in shops) == ["城东鲜果店·买菜", "汉味小馆·点餐"]
        assert all(s.listed for s in shops)
        db.refresh(section)
        first = min(section.entries, key=lambda e: e.position)
        assert first.miniapp.name == "城东鲜果店·买菜" and len(section.entries) == 2
        runtimes = Counter(db.scalars(select(Template.runtime).where(
            Template.runtime.in_(("grocery", "restaurant")))))
        assert runtimes["grocery"] >= 4 and runtimes["restaurant"] >= 4
        listed_apps = [(a.id, a.category.code, a.tags, a.cities)
                       for a in db.scalars(select(MiniApp).where(MiniApp.listed))]
        grocery = next(s for s in shops if s.category.code == "grocery")
        assert grocery.id in topics.topic_members(listed_apps, codes={"grocery"},
                                                  tags={"买菜"}, states={})
        resident = db.scalar(select(User).where(User.username == "resident"))
        wallet_demo.prepare(db, settings=settings, user=resident, password=PASSWORD)
    with database.unit_of_work() as db:
        made = demo_orders.seed(db, settings=settings)
    assert clock.now() == NOW  # put back as it was
    assert len(made) == len(demo_orders.STORIES)
    with database.unit_of_work() as db:
        statuses = Counter(db.scalars(select(Order.status)))
        assert statuses[OrderStatus.COMPLETED] == 5
        assert statuses[OrderStatus.CANCELLED] == 1 and statuses[OrderStatus.REJECTED] == 1
        assert statuses[OrderStatus.ACCEPTED] == 1 and statuses[OrderStatus.READY] == 1
        assert db.scalar(select(func.count()).select_from(OrderReview)) == 3
        # every order was paid through the cashier's path; the two refused ones refunded
        paid = db.scalar(select(func.count()).select_from(Trade).where(
            Trade.paid_at.is_not(None)))
        assert paid == len(made)
        refunds = db.scalar(select(func.count()).select_from(BehaviourEvent).where(
            BehaviourEvent.type == EventType.REFUND))
        assert refunds == 2
        answers = list(db.scalars(select(BehaviourEvent.response_seconds).where(
            BehaviourEvent.type == EventType.MESSAGE_RESPONSE)))
        assert sorted(answers) == [4 * 60, 12 * 60]
        assert db.scalar(select(func.count()).select_from(ShopMessage)) == 5
        ratings = db.scalar(select(func.count()).select_from(BehaviourEvent).where(
            BehaviourEvent.type == EventType.RATING))
        assert ratings == 3
    # the resident reads the shop's answer about an order; the shop sees the open question
    with database.unit_of_work() as db:
        asked = list(db.scalars(select(Order).join(
            ShopConversation, ShopConversation.order_ref == Order.public_id)
            .order_by(Order.id)))
        merchant = db.get_one(Merchant, asked[0].merchant_id).public_id
        grocer = db.get_one(Merchant, asked[-1].merchant_id).public_id
    login(client, _user(database, "resident"))
    page = client.get(f"/me/orders/{asked[0].public_id}/messages")
    assert page.status_code == 200 and "已备注不放花生" in page.text
    assert "已完成" in page.text and f"取货号 {asked[0].pickup_number}" in page.text
    assert client.get(f"/me/orders/{asked[0].public_id}/messages".replace(
        asked[0].public_id, "ord_doesnotexist0000")).status_code == 404
    login(client, _user(database, "gro"))
    inbox = client.get(f"/console/merchant/{grocer}/messages")
    assert "菜薹能帮我挑嫩一点的吗？" in inbox.text and "待回复：1 个" in inbox.text
    assert client.get(f"/console/merchant/{merchant}/messages").status_code in (403, 404)
    about = client.get(f"/console/merchant/{grocer}/messages?order={asked[-1].public_id}")
    assert "菜薹能帮我挑嫩一点的吗？" in about.text
    with database.unit_of_work() as db:
        open_question = db.scalar(select(ShopConversation.public_id).where(
            ShopConversation.order_ref == asked[-1].public_id))
    thread = client.get(f"/console/merchant/{grocer}/messages/{open_question}")
    assert "已接单" in thread.text and f"/orders/{asked[-1].public_id}" in thread.text
    other = client.get(f"/console/merchant/{grocer}/messages?order={asked[0].public_id}")
    assert "菜薹能帮我挑嫩一点的吗？" not in other.text and "还没有居民发来的消息" in other.text
    with database.unit_of_work() as db:  # the answer the resident has not opened yet
        assert chat.unread_count(db, actor=_user(database, "resident")) == 1


def _user(database, username: str) -> User:
    with database.unit_of_work() as db:
        return db.scalar(select(User).where(User.username == username))
