"""Shop messages under real concurrency on PostgreSQL: a resident's racing first messages make
one conversation and keep every message; staff answering one waiting resident at once record the
wait once; one key sent by many requests at once is one message."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.ordering.test_chat import _answer, _write, app_id, resident  # noqa: F401 (fixtures)
from townsquare.accounts.models import Role
from townsquare.core.clock import clock
from townsquare.core.errors import Conflict
from townsquare.events.models import BehaviourEvent, EventType
from townsquare.merchants.models import MerchantStaff
from townsquare.ordering.chat.models import ShopConversation, ShopMessage

pytestmark = pytest.mark.postgres_only
THREADS = 10


def _run(count: int, one) -> list[object]:
    barrier = threading.Barrier(count)

    def call(i: int) -> object:
        barrier.wait()
        try:
            return one(i)
        except Conflict as exc:  # a racing copy of the same key
            return exc

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(call, range(count)))


def _count(database, model) -> int:
    with database.unit_of_work() as db:
        return db.scalar(select(func.count()).select_from(model))


def test_racing_first_messages_make_one_conversation(database, shop, app_id, resident):  # noqa: F811
    _run(THREADS, lambda i: _write(database, resident, app_id, f"第{i}条", f"race-key-{i:03d}"))
    assert _count(database, ShopConversation) == 1
    assert _count(database, ShopMessage) == THREADS
    with database.unit_of_work() as db:
        waiting = db.scalar(select(ShopConversation.waiting_since))
        first = db.scalar(select(func.min(ShopMessage.created_at)))
        assert waiting is not None and waiting <= first + timedelta(seconds=1)


def test_one_key_racing_is_one_message(database, shop, app_id, resident):  # noqa: F811
    _run(THREADS, lambda i: _write(database, resident, app_id, "同一条", "same-key-001"))
    assert _count(database, ShopMessage) == 1


def test_staff_answering_at_once_record_the_wait_once(database, settings, shop, app_id,  # noqa: F811
                                                      resident, make_user):  # noqa: F811
    helpers = [make_user(Role.MERCHANT_STAFF, username=f"staff{i}") for i in range(THREADS)]
    with database.unit_of_work() as db:
        owner_link = db.scalar(select(MerchantStaff).where(
            MerchantStaff.user_id == shop.owner.id))
        merchant_id = owner_link.merchant_id
        for user in helpers:
            db.add(MerchantStaff(merchant_id=merchant_id, user_id=user.id, is_owner=False))
    _write(database, resident, app_id, "还有货吗？", "ask-key-001")
    with database.unit_of_work() as db:
        conversation = db.scalar(select(ShopConversation.public_id))
    clock.advance(timedelta(seconds=90))
    _run(THREADS, lambda i: _answer(database, settings, helpers[i], shop.merchant,
                                    conversation, f"有的{i}", f"answer-key-{i:03d}"))
    assert _count(database, ShopMessage) == 1 + THREADS
    with database.unit_of_work() as db:
        seconds = list(db.scalars(select(BehaviourEvent.response_seconds).where(
            BehaviourEvent.type == EventType.MESSAGE_RESPONSE)))
        assert seconds == [90]
        timed = list(db.scalars(select(ShopMessage.response_seconds).where(
            ShopMessage.response_seconds.is_not(None))))
        assert timed == [90]
        assert db.scalar(select(ShopConversation.waiting_since)) is None
