"""A small world for the ledger's tests: an operator, two merchants in two categories, an ISV
authorized by the first merchant (shared by test_fees*, test_settlement*, test_withdrawals*)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from townsquare.accounts.models import Role, User
from townsquare.merchants import authorizations, categories, providers, service
from townsquare.merchants.models import Merchant, ServiceProvider
from townsquare.payments import fees, ledger
from townsquare.payments.ledger import accounts


@dataclass
class Shop:
    operator: User
    owner: User
    other_owner: User
    merchant_id: int  # internal ids, as the ledger uses them
    merchant: str  # public ids, as services take them
    other_merchant_id: int
    category_id: int
    other_category_id: int
    provider_id: int
    authorization: str
    provider: str = ""  # the ISV's public id
    isv_staff: User | None = None


@pytest.fixture
def shop(database, make_user) -> Shop:
    operator = make_user(Role.OPERATOR, username="olga")
    owner, other = make_user(username="alice"), make_user(username="bob")
    pat = make_user(username="pat")
    with database.unit_of_work() as db:
        food = categories.create_category(db, actor=None, code="food", name_zh="美食",
                                          name_en="Food")
        lock = categories.create_category(db, actor=None, code="locksmith", name_zh="开锁",
                                          name_en="Locksmith", urgent=True)
        a = service.create_merchant(db, actor=None, owner_username="alice", name="Alice Noodles",
                                    category_code="food", cities=["武汉"])
        b = service.create_merchant(db, actor=None, owner_username="bob", name="Bob Locks",
                                    category_code="locksmith", cities=["武汉"])
        p = providers.create_provider(db, actor=None, name="Pine ISV", staff_username="pat")
        grant = authorizations.grant(db, actor=None, merchant_id=a.public_id,
                                     provider_id=p.public_id)
        assert isinstance(a, Merchant) and isinstance(p, ServiceProvider)
        ids = (a.id, a.public_id, b.id, food.id, lock.id, p.id, grant.public_id, p.public_id)
    with database.unit_of_work() as db:  # the users as they are now (merchant or ISV staff)
        owner, other = db.get_one(User, owner.id), db.get_one(User, other.id)
        pat = db.get_one(User, pat.id)
        owner.role_names, other.role_names, pat.role_names  # noqa: B018  (loaded now)
    return Shop(operator, owner, other, *ids, isv_staff=pat)


def pay(db, shop: Shop, fen: int, reference: str, *, payer: int = 1) -> fees.Split:
    """A resident pays the shop `fen` from a wallet topped up for it (the ledger side of a trade,
    as payments/trades posts it)."""
    ledger.post(db, kind="top_up", reference=f"top-up-{reference}",
                legs={accounts.BANK_CLEARING: -fen, accounts.wallet(payer): fen})
    split = fees.split_for(db, merchant_id=shop.merchant_id, category_id=shop.category_id,
                           total_fen=fen)
    ledger.post(db, kind="payment", reference=reference,
                legs=split.legs(accounts.wallet(payer), shop.merchant_id))
    return split


def refund(db, shop: Shop, original: fees.Split, fen: int, before: int, reference: str,
           *, payer: int = 1) -> None:
    part = fees.split_refund(original, fen, before)
    fees.post_refund(db, part, destination=accounts.wallet(payer), merchant_id=shop.merchant_id,
                     reference=reference)
