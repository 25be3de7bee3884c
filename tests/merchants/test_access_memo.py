"""Access answers are remembered for one unit of work (merchants/access.py) and never outlive a
change: a pending or flushed change of staff or authorizations is seen by the next question."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event, select

from townsquare.accounts.models import User
from townsquare.merchants import access, authorizations
from townsquare.merchants.models import Merchant, MerchantStaff, ServiceProvider


@contextmanager
def statements(database):
    sent: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        sent.append(statement)

    event.listen(database.engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(database.engine, "before_cursor_execute", count)


def _ids(db, world):
    a = db.scalar(select(Merchant).where(Merchant.public_id == world.merchant_a))
    b = db.scalar(select(Merchant).where(Merchant.public_id == world.merchant_b))
    p = db.scalar(select(ServiceProvider).where(ServiceProvider.public_id == world.provider_p))
    return a, b, p


def test_repeated_questions_ask_the_database_once(database, world):
    with database.unit_of_work() as db:
        a, _b, p = _ids(db, world)
        alice = db.get(User, world.owner_a.id)
        pat = db.get(User, world.isv_p.id)
        with statements(database) as sent:
            for _ in range(5):
                assert access.can_act_for(db, alice, a)
                assert access.can_act_for(db, pat, a)
                assert access.active_authorization(db, merchant_id=a.id, provider_id=p.id)
        # alice: her merchants; pat: his merchants (none), his providers, the authorization
        # and the provider row (an identity-map hit after the first time)
        assert len(sent) <= 5, sent


def test_a_change_in_the_same_unit_of_work_is_seen(database, world):
    with database.unit_of_work() as db:
        a, b, p = _ids(db, world)
        alice = db.get(User, world.owner_a.id)
        assert access.merchant_ids_of(db, alice) == [a.id]
        db.add(MerchantStaff(merchant_id=b.id, user_id=alice.id, is_owner=False))  # pending
        assert sorted(access.merchant_ids_of(db, alice)) == sorted([a.id, b.id])
        pat = db.get(User, world.isv_p.id)
        assert access.can_act_for(db, pat, a)
        authorizations.revoke(db, actor=None, merchant_id=world.merchant_a,
                              authorization_id=world.authorization_p)
        assert not access.can_act_for(db, pat, a)
        assert access.active_authorization(db, merchant_id=a.id, provider_id=p.id) is None


def test_answers_do_not_outlive_the_unit_of_work(database, world):
    with database.unit_of_work() as db:
        a, _b, _p = _ids(db, world)
        pat = db.get(User, world.isv_p.id)
        assert access.can_act_for(db, pat, a)
    with database.unit_of_work() as db:
        authorizations.revoke(db, actor=None, merchant_id=world.merchant_a,
                              authorization_id=world.authorization_p)
    with database.unit_of_work() as db:
        a, _b, _p = _ids(db, world)
        assert not access.can_act_for(db, db.get(User, world.isv_p.id), a)
