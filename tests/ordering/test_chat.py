"""Messages between a resident and a shop: the resident writes, the merchant's staff see it
waiting and answer; the answer records how long the resident waited as one message_response
behaviour event; retries send once; outsiders see nothing; the pages work in Chinese."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.merchants.conftest import csrf, login
from townsquare.core.clock import clock
from townsquare.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from townsquare.events.models import BehaviourEvent, EventType
from townsquare.merchants.models import Merchant
from townsquare.messaging.models import Notification
from townsquare.miniapps.models import MiniApp, MiniAppKind
from townsquare.ordering.chat import service as chat
from townsquare.ordering.chat.models import ShopConversation, ShopMessage, Side


@pytest.fixture
def app_id(database, shop) -> str:
    """A listed mini-app of the test shop's merchant."""
    with database.unit_of_work() as db:
        merchant = db.scalar(select(Merchant).where(Merchant.public_id == shop.merchant))
        miniapp = MiniApp(merchant_id=merchant.id, category_id=merchant.category_id,
                          kind=MiniAppKind.EXTERNAL, client_secret_digest="0" * 64,
                          name="美菜买菜", icon="🥬", description="买菜", tags=["买菜"],
                          cities=["武汉"], listed=True)
        db.add(miniapp)
        db.flush()
        return miniapp.public_id


@pytest.fixture
def resident(make_user):
    return make_user(username="rita")


def _write(database, user, app_id, body, key):
    with database.unit_of_work() as db:
        subject = chat.miniapp_subject(db, actor=user, miniapp_id=app_id)
        return chat.write(db, actor=user, subject=subject, body=body, idempotency_key=key).body


def _answer(database, settings, user, merchant, conversation, body, key):
    with database.unit_of_work() as db:
        return chat.answer(db, actor=user, settings=settings, merchant_id=merchant,
                           conversation_id=conversation, body=body, idempotency_key=key)


def _conversation(database) -> str:
    with database.unit_of_work() as db:
        return db.scalar(select(ShopConversation.public_id))


def _events(database) -> list[int | None]:
    with database.unit_of_work() as db:
        return list(db.scalars(select(BehaviourEvent.response_seconds).where(
            BehaviourEvent.type == EventType.MESSAGE_RESPONSE)))


def test_an_answer_records_how_long_the_resident_waited(database, settings, shop, app_id,
                                                         resident):
    _write(database, resident, app_id, "菜薹今天有货吗？", "key-0001")
    clock.advance(timedelta(minutes=3))
    _write(database, resident, app_id, "要两斤。", "key-0002")  # still the same wait
    conversation = _conversation(database)
    with database.unit_of_work() as db:
        rows = chat.inbox(db, actor=shop.owner, merchant_id=shop.merchant)
        assert [r.conversation.public_id for r in rows] == [conversation]
        assert rows[0].unread and rows[0].preview == "要两斤。"
        assert chat.waiting_count(db, merchant_id=rows[0].conversation.merchant_id) == 1
        # the merchant is told once, when the conversation started waiting
        assert db.scalar(select(func.count(Notification.id)).where(
            Notification.kind == "shop.message")) == 1
    clock.advance(timedelta(minutes=2))
    _answer(database, settings, shop.owner, shop.merchant, conversation, "有的，给您留两斤。",
            "ans-0001")
    assert _events(database) == [300]  # from the first unanswered message: 5 minutes
    # a second answer with nobody waiting records nothing more
    _answer(database, settings, shop.owner, shop.merchant, conversation, "下午4点后可取。",
            "ans-0002")
    assert _events(database) == [300]
    # the next question starts a new wait, measured on its own
    clock.advance(timedelta(hours=1))
    _write(database, resident, app_id, "能送货吗？", "key-0003")
    clock.advance(timedelta(seconds=45))
    _answer(database, settings, shop.owner, shop.merchant, conversation, "3公里内可以。",
            "ans-0003")
    assert sorted(_events(database)) == [45, 300]
    with database.unit_of_work() as db:
        mine = chat.mine(db, actor=resident)
        assert len(mine) == 1 and mine[0].unread  # the shop's answer is new to the resident
        sides = [m.side for m in chat.messages(db, mine[0].conversation)]
        assert sides == [Side.RESIDENT, Side.RESIDENT, Side.SHOP, Side.SHOP, Side.RESIDENT,
                         Side.SHOP]
        event = db.scalar(select(BehaviourEvent).where(
            BehaviourEvent.type == EventType.MESSAGE_RESPONSE,
            BehaviourEvent.response_seconds == 45))
        assert event.user_sub.startswith("ou_")
        assert event.merchant_id == mine[0].miniapp.merchant_id


def test_a_retried_message_is_sent_once(database, settings, shop, app_id, resident):
    _write(database, resident, app_id, "你好", "key-same-1")
    _write(database, resident, app_id, "你好", "key-same-1")
    with pytest.raises(Conflict):
        _write(database, resident, app_id, "别的内容", "key-same-1")
    conversation = _conversation(database)
    clock.advance(timedelta(seconds=30))
    _answer(database, settings, shop.owner, shop.merchant, conversation, "您好", "ans-same-1")
    _answer(database, settings, shop.owner, shop.merchant, conversation, "您好", "ans-same-1")
    with database.unit_of_work() as db:
        assert db.scalar(select(func.count(ShopMessage.id))) == 2
        assert db.scalar(select(func.count(ShopConversation.id))) == 1
    assert _events(database) == [30]


def test_bad_input_changes_nothing(database, settings, shop, app_id, resident):
    for body, key in (("", "key-empty1"), ("   ", "key-blank1"), ("长" * 1001, "key-long01"),
                      ("a\x00b", "key-ctrl01"), ("好", "short")):
        with pytest.raises(ValidationFailed):
            _write(database, resident, app_id, body, key)
    with pytest.raises(NotFound):
        _write(database, resident, "ma_doesnotexist00000", "你好", "key-nope02")
    with pytest.raises(PermissionDenied):
        _write(database, None, app_id, "你好", "key-anon01")
    with database.unit_of_work() as db:
        assert db.scalar(select(func.count(ShopConversation.id))) == 0
        assert db.scalar(select(func.count(ShopMessage.id))) == 0


def test_only_the_merchants_staff_see_and_answer(database, settings, shop, app_id, resident):
    _write(database, resident, app_id, "在吗？", "key-staff1")
    conversation = _conversation(database)
    for outsider in (shop.outsider, resident):
        with pytest.raises((NotFound, PermissionDenied)):
            _answer(database, settings, outsider, shop.merchant, conversation, "我来答",
                    "ans-out001")
        with database.unit_of_work() as db, pytest.raises((NotFound, PermissionDenied)):
            chat.inbox(db, actor=outsider, merchant_id=shop.merchant)
    with database.unit_of_work() as db:  # another resident cannot open it either
        with pytest.raises(NotFound):
            chat.get_mine(db, actor=shop.outsider, conversation_id=conversation)
        assert chat.mine(db, actor=shop.outsider) == []
    assert _events(database) == []


def test_the_pages_in_chinese(client, database, shop, app_id, resident):
    login(client, resident)
    page = client.get(f"/me/shops/{app_id}/messages")
    assert page.status_code == 200
    assert "与「美菜买菜」的消息" in page.text and "还没有消息" in page.text
    token = csrf(client, f"/me/shops/{app_id}/messages")
    key = page.text.split('name="idempotency_key" value="')[1].split('"')[0]
    sent = client.post(f"/me/shops/{app_id}/messages", follow_redirects=False,
                       data={"csrf_token": token, "body": "西红柿新鲜吗？", "idempotency_key": key})
    assert sent.status_code == 303
    again = client.post(f"/me/shops/{app_id}/messages", follow_redirects=False,
                        data={"csrf_token": token, "body": "西红柿新鲜吗？",
                              "idempotency_key": key})
    assert again.status_code == 303  # the resent form is the same message
    empty = client.post(f"/me/shops/{app_id}/messages",
                        data={"csrf_token": token, "body": " ", "idempotency_key": "key-empty9"})
    assert empty.status_code == 422 and "请输入消息内容" in empty.text
    assert "西红柿新鲜吗？" in client.get("/me/messages").text
    conversation = _conversation(database)

    client.cookies.clear()
    login(client, shop.owner)
    inbox = client.get(f"/console/merchant/{shop.merchant}/messages")
    assert inbox.status_code == 200 and "顾客消息" in inbox.text and "待回复：1 个" in inbox.text
    thread = client.get(f"/console/merchant/{shop.merchant}/messages/{conversation}")
    assert "西红柿新鲜吗？" in thread.text and "已等待回复" in thread.text
    token = csrf(client, f"/console/merchant/{shop.merchant}/messages")
    answered = client.post(f"/console/merchant/{shop.merchant}/messages/{conversation}",
                           data={"csrf_token": token, "body": "今早刚到的。",
                                 "idempotency_key": "ans-page-01"})
    assert answered.status_code == 200 and "消息已发送" in answered.text
    assert "待回复：0 个" in client.get(f"/console/merchant/{shop.merchant}/messages").text
    assert len(_events(database)) == 1

    client.cookies.clear()
    login(client, shop.outsider)
    assert client.get(f"/console/merchant/{shop.merchant}/messages").status_code in (403, 404)
    assert client.get(
        f"/console/merchant/{shop.merchant}/messages/{conversation}").status_code in (403, 404)
    client.cookies.clear()
    login(client, resident)
    mine = client.get(f"/me/shops/{app_id}/messages")
    assert "今早刚到的。" in mine.text
