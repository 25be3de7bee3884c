"""The simulated bank: cards with masked numbers and balances, declines, timeouts, idempotent
charges, refunds bounded by the charge, payouts; the adapter door's refund_to_card."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select

from townsquare.core.errors import ValidationFailed
from townsquare.payments import funding
from townsquare.payments.funding import simbank
from townsquare.payments.funding.models import SimCard, SimMovement

SECRET = b"s" * 32
GOOD = "6217000000000000004"


def test_luhn_and_masking():
    assert simbank.luhn_ok(GOOD) and simbank.luhn_ok(simbank.DECLINING_NUMBER)
    assert not simbank.luhn_ok("6217000000000000005")
    with pytest.raises(ValidationFailed):
        simbank.clean_number("1234")
    assert simbank.masked(GOOD) == "6217 **** **** 0004"


def test_a_card_is_stored_masked_and_only_its_holder_may_bind_it(database):
    with database.unit_of_work() as db:
        bound = funding.bind_card(db, secret=SECRET, number="6217 0000 0000 0000 004",
                                  holder="usr_a")
        assert bound.bank_name == "模拟银行" and bound.number_masked == "6217 **** **** 0004"
        again = funding.bind_card(db, secret=SECRET, number=GOOD, holder="usr_a")
        assert again.token == bound.token
        with pytest.raises(Exception, match="someone else"):
            funding.bind_card(db, secret=SECRET, number=GOOD, holder="usr_b")
        card = db.scalar(select(SimCard))
        assert GOOD not in (card.number_masked, card.number_digest)


def test_charges_are_idempotent_and_declined_past_the_balance(database):
    with database.unit_of_work() as db:
        token = simbank.open_card(db, secret=SECRET, number=GOOD, holder="u",
                                  balance_fen=1_000).token
        bank = funding.adapter_for(db)
        first = bank.charge(token, 600, "k1")
        assert bank.charge(token, 600, "k1") == first  # a repeat moves nothing
        with pytest.raises(funding.FundingMismatch):
            bank.charge(token, 700, "k1")
        with pytest.raises(funding.BankBalanceInsufficient):
            bank.charge(token, 500, "k2")
        assert simbank.card_by_token(db, token).balance_fen == 400
        assert db.scalar(select(SimMovement).where(SimMovement.idempotency_key == "k2")) is None


def test_test_numbers_decline_or_time_out_and_charge_nothing(database):
    with database.unit_of_work() as db:
        bank = funding.adapter_for(db)
        declining = simbank.open_card(db, secret=SECRET, number=simbank.DECLINING_NUMBER,
                                      holder="u")
        slow = simbank.open_card(db, secret=SECRET, number=simbank.TIMEOUT_NUMBER, holder="u")
        with pytest.raises(funding.CardDeclined):
            bank.charge(declining.token, 100, "d")
        with pytest.raises(funding.BankTimeout):
            bank.charge(slow.token, 100, "t")
        assert declining.balance_fen == slow.balance_fen == simbank.OPENING_BALANCE_FEN
        assert db.scalar(select(SimMovement)) is None


def test_refunds_never_exceed_the_charge_and_payouts_credit_the_card(database):
    with database.unit_of_work() as db:
        token = simbank.open_card(db, secret=SECRET, number=GOOD, holder="u",
                                  balance_fen=1_000).token
        bank = funding.adapter_for(db)
        charge = bank.charge(token, 800, "c")
        trade = SimpleNamespace(funding_reference=charge.reference)
        funding.refund_to_card(db, trade=trade, amount_fen=300, idempotency_key="r1")
        funding.refund_to_card(db, trade=trade, amount_fen=300, idempotency_key="r1")  # repeat
        with pytest.raises(Exception, match="more than what is left"):
            funding.refund_to_card(db, trade=trade, amount_fen=501, idempotency_key="r2")
        funding.refund_to_card(db, trade=trade, amount_fen=500, idempotency_key="r3")
        assert simbank.card_by_token(db, token).balance_fen == 1_000
        funding.payout_to_card(db, card=token, amount_fen=250, idempotency_key="p")
        funding.payout_to_card(db, card=token, amount_fen=250, idempotency_key="p")
        assert simbank.card_by_token(db, token).balance_fen == 1_250
