"""Fees and splits: the rounding rule, parts that always sum to the total, proportional refunds
that give back exactly the original parts, and the stored rules (category rate, default, ISV
royalty per live authorization)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.payments import ledger_world
from tests.payments.ledger_world import Shop
from townsquare.core.errors import NotFound, PermissionDenied
from townsquare.merchants import authorizations
from townsquare.payments import fees, ledger
from townsquare.payments.fees import Split
from townsquare.payments.ledger import accounts

shop = ledger_world.shop  # the fixture


def test_fees_round_half_up_and_the_merchant_gets_the_rest():
    assert fees.fee_of(2_500, 60) == 15  # 25.00 yuan at 0.6 %: 0.15 yuan
    assert fees.fee_of(250, 60) == 2  # 1.5 fen rounds up
    assert fees.fee_of(249, 60) == 1  # 1.494 fen rounds down
    split = fees.split_by_rates(2_500, platform_bp=60, isv_bp={7: 100}, community_bp={3: 30})
    assert split == Split(merchant_fen=2_452, platform_fen=15, isv={7: 25}, community={3: 8})
    assert split.total_fen == 2_500


def test_no_fee_takes_more_than_is_left():
    # each fee rounds half a fen up to one; on a one-fen payment only the first can have it
    split = fees.split_by_rates(1, platform_bp=5_000, isv_bp={1: 5_000, 2: 5_000})
    assert split == Split(merchant_fen=0, platform_fen=1, isv={1: 0, 2: 0})


def test_legs_balance_and_name_each_party():
    split = Split(merchant_fen=2_452, platform_fen=15, isv={7: 25}, community={3: 8})
    legs = split.legs(accounts.wallet(1), 9)
    assert legs == {accounts.wallet(1): -2_500, accounts.merchant_pending(9): 2_452,
                    accounts.PLATFORM_FEES: 15, accounts.isv_commission(7): 25,
                    accounts.community_commission(3): 8}
    assert sum(legs.values()) == 0
    back = split.refund_legs(accounts.wallet(1), 9, from_pending_fen=2_000)
    assert back[accounts.merchant_pending(9)] == -2_000
    assert back[accounts.merchant_available(9)] == -452
    assert back[accounts.wallet(1)] == 2_500 and sum(back.values()) == 0


rates = st.integers(0, 3_000)


@given(total=st.integers(0, 10**9), platform=st.integers(0, 1_000),
       isv=st.dictionaries(st.integers(1, 50), rates, max_size=3),
       community=st.dictionaries(st.integers(1, 50), rates, max_size=1))
def test_the_parts_always_sum_to_the_total(total, platform, isv, community):
    split = fees.split_by_rates(total, platform_bp=platform, isv_bp=isv, community_bp=community)
    assert split.total_fen == total
    assert split.merchant_fen >= 0
    assert all(fen >= 0 for fen in [split.platform_fen, *split.isv.values(),
                                    *split.community.values()])
    assert split.platform_fen == fees.fee_of(total, platform)  # the first fee is never capped


@st.composite
def refunds_of_a_trade(draw):
    total = draw(st.integers(1, 100_000))
    split = fees.split_by_rates(
        total, platform_bp=draw(st.integers(0, 1_000)),
        isv_bp=draw(st.dictionaries(st.integers(1, 9), rates, max_size=3)),
        community_bp=draw(st.dictionaries(st.integers(1, 9), rates, max_size=1)))
    cuts = sorted(draw(st.lists(st.integers(1, total - 1), max_size=8, unique=True))) \
        if total > 1 else []
    bounds = [0, *cuts, total]
    return split, [b - a for a, b in zip(bounds, bounds[1:], strict=False)]


@given(refunds_of_a_trade())
def test_all_refunds_of_a_fully_refunded_trade_give_back_exactly_the_parts(case):
    original, amounts = case
    done = 0
    merchant, platform = 0, 0
    isv = dict.fromkeys(original.isv, 0)
    community = dict.fromkeys(original.community, 0)
    for amount in amounts:
        part = fees.split_refund(original, amount, done)
        assert part.total_fen == amount
        assert min([part.merchant_fen, part.platform_fen, *part.isv.values(),
                    *part.community.values()]) >= 0
        done += amount
        merchant += part.merchant_fen
        platform += part.platform_fen
        for k, v in part.isv.items():
            isv[k] += v
        for k, v in part.community.items():
            community[k] += v
        # never more of a part than the trade paid to it
        assert merchant <= original.merchant_fen and platform <= original.platform_fen
    assert Split(merchant, platform, isv, community) == original


def test_a_partial_refund_is_proportional():
    original = Split(merchant_fen=2_452, platform_fen=15, isv={7: 25}, community={3: 8})
    half = fees.split_refund(original, 1_250, 0)
    # floors 1226 + 7 + 12 + 4 = 1249; the last fen goes to the part whose next fen falls due
    # first (the merchant's 1227th, at 1227/2452 of the whole)
    assert half == Split(merchant_fen=1_227, platform_fen=7, isv={7: 12}, community={3: 4})
    rest = fees.split_refund(original, 1_250, 1_250)
    assert rest == Split(merchant_fen=1_225, platform_fen=8, isv={7: 13}, community={3: 4})
    assert half.total_fen == 1_250
    with pytest.raises(ValueError):
        fees.split_refund(original, 1_251, 1_250)
    with pytest.raises(ValueError):
        fees.split_refund(original, 0, 0)


def test_category_rule_then_default_rule_then_the_built_in_default(database, shop: Shop):
    with database.unit_of_work() as db:
        assert fees.platform_rate_bp(db, category_id=shop.category_id) == 60
        fees.set_fee_rate(db, actor=shop.operator, category_code=None, rate_bp=80)
        fees.set_fee_rate(db, actor=shop.operator, category_code="locksmith", rate_bp=200)
    with database.unit_of_work() as db:
        assert fees.platform_rate_bp(db, category_id=shop.category_id) == 80
        assert fees.platform_rate_bp(db, category_id=shop.other_category_id) == 200
        fees.set_fee_rate(db, actor=shop.operator, category_code="locksmith", rate_bp=None)
    with database.unit_of_work() as db:
        assert fees.platform_rate_bp(db, category_id=shop.other_category_id) == 80
        assert dict((c.code, r) for c, r in fees.fee_rules(db)) == {"food": None,
                                                                    "locksmith": None}


def test_only_operators_set_fees_and_rates_are_bounded(database, shop: Shop):
    with database.unit_of_work() as db:
        with pytest.raises(PermissionDenied):
            fees.set_fee_rate(db, actor=shop.owner, category_code="food", rate_bp=10)
        with pytest.raises(fees.InvalidRate):
            fees.set_fee_rate(db, actor=shop.operator, category_code="food", rate_bp=1_001)
        with pytest.raises(fees.InvalidRate):
            fees.set_fee_rate(db, actor=shop.operator, category_code=None, rate_bp=None)
        with pytest.raises(NotFound):
            fees.set_fee_rate(db, actor=shop.operator, category_code="nope", rate_bp=10)


def test_the_isv_takes_its_royalty_while_authorized(database, shop: Shop):
    with database.unit_of_work() as db:
        with pytest.raises(PermissionDenied):
            fees.set_royalty_rate(db, actor=shop.other_owner, merchant_id=shop.merchant,
                                  authorization_id=shop.authorization, rate_bp=100)
        fees.set_royalty_rate(db, actor=shop.owner, merchant_id=shop.merchant,
                              authorization_id=shop.authorization, rate_bp=100)
    with database.unit_of_work() as db:
        split = fees.split_for(db, merchant_id=shop.merchant_id, category_id=shop.category_id,
                               total_fen=2_500, community_id=4, community_rate_bp=30)
        assert split == Split(merchant_fen=2_452, platform_fen=15, isv={shop.provider_id: 25},
                              community={4: 8})
        # the split posts as one balanced entry
        ledger.post(db, kind="top_up", reference="t", legs={accounts.BANK_CLEARING: -2_500,
                                                            accounts.wallet(1): 2_500})
        ledger.post(db, kind="payment", reference="T1",
                    legs=split.legs(accounts.wallet(1), shop.merchant_id))
        assert ledger.balance(db, accounts.isv_commission(shop.provider_id)) == 25
        assert ledger.reconcile(db).sound
    with database.unit_of_work() as db:
        authorizations.revoke(db, actor=shop.owner, merchant_id=shop.merchant,
                              authorization_id=shop.authorization)
    with database.unit_of_work() as db:
        split = fees.split_for(db, merchant_id=shop.merchant_id, category_id=shop.category_id,
                               total_fen=2_500)
        assert split == Split(merchant_fen=2_485, platform_fen=15)
        with pytest.raises(NotFound):  # a revoked authorization takes no new rate
            fees.set_royalty_rate(db, actor=shop.owner, merchant_id=shop.merchant,
                                  authorization_id=shop.authorization, rate_bp=50)
