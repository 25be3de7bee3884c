"""The wallet: top-ups once per key and refused whole by the bank, the PIN (set with the login
password, lockout counted even when the request is refused, with the injectable clock), limits
per payment and per day, and payment codes (signed, expiring, single use)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from tests.payments.wallet.conftest import PIN
from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.core.errors import PermissionDenied, ValidationFailed
from townsquare.payments import funding, ledger
from townsquare.payments.funding import simbank
from townsquare.payments.ledger import accounts
from townsquare.payments.wallet import limits, payment_codes, pin
from townsquare.payments.wallet import service as wallet
from townsquare.payments.wallet.models import PaymentCode, PinFailure, Spend, TopUp

T0 = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def _user(db, user):
    return db.get(User, user.id)


def test_a_top_up_moves_money_once_per_key(database, settings, resident):
    user, card = resident
    with database.unit_of_work() as db:
        first = wallet.top_up(db, settings=settings, actor=_user(db, user), card_id=card,
                              amount_fen=12_345, idempotency_key="k1")
    with database.unit_of_work() as db:
        again = wallet.top_up(db, settings=settings, actor=_user(db, user), card_id=card,
                              amount_fen=12_345, idempotency_key="k1")
        assert again.public_id == first.public_id
        with pytest.raises(funding.FundingMismatch):
            wallet.top_up(db, settings=settings, actor=_user(db, user), card_id=card,
                          amount_fen=1, idempotency_key="k1")
    with database.unit_of_work() as db:
        assert wallet.balance(db, user=user) == 12_345
        token = wallet.card_of(db, actor=_user(db, user), card_id=card).funding_token
        assert simbank.card_by_token(db, token).balance_fen == simbank.OPENING_BALANCE_FEN - 12_345
        assert ledger.balance(db, accounts.BANK_CLEARING) == -12_345
        assert ledger.reconcile(db).sound


def test_a_declined_or_unanswered_top_up_leaves_nothing(database, settings, make_user):
    user = make_user()
    for number, error in ((simbank.DECLINING_NUMBER, funding.CardDeclined),
                          (simbank.TIMEOUT_NUMBER, funding.BankTimeout)):
        with database.unit_of_work() as db:
            card = wallet.bind_card(db, settings=settings, actor=_user(db, user), number=number)
        with pytest.raises(error), database.unit_of_work() as db:
            wallet.top_up(db, settings=settings, actor=_user(db, user), card_id=card.public_id,
                          amount_fen=100, idempotency_key=number)
    with database.unit_of_work() as db:
        assert wallet.balance(db, user=user) == 0
        assert db.scalar(select(func.count(TopUp.id))) == 0


def test_top_up_bounds(database, settings, resident):
    user, card = resident
    with database.unit_of_work() as db:
        for amount in (0, -5, settings.wallet_top_up_max_fen + 1):
            with pytest.raises(ValidationFailed):
                wallet.top_up(db, settings=settings, actor=_user(db, user), card_id=card,
                              amount_fen=amount, idempotency_key=f"b{amount}")
        with pytest.raises(funding.BankBalanceInsufficient):
            wallet.top_up(db, settings=settings, actor=_user(db, user), card_id=card,
                          amount_fen=simbank.OPENING_BALANCE_FEN + 1, idempotency_key="big")


def test_someone_elses_card_is_not_found(database, settings, resident, make_user):
    _, card = resident
    other = make_user()
    with database.unit_of_work() as db, pytest.raises(Exception, match="No such bank card"):
        wallet.top_up(db, settings=settings, actor=_user(db, other), card_id=card,
                      amount_fen=100, idempotency_key="x")


def test_the_pin_is_set_with_the_login_password_and_must_not_be_trivial(database, make_user):
    user = make_user()
    with database.unit_of_work() as db:
        with pytest.raises(PermissionDenied):
            pin.set_pin(db, actor=_user(db, user), password="wrong", pin="274159")
        for bad in ("12345", "1234567", "abcdef", "111111", "123456", "987654", "１２３４５６"):
            with pytest.raises(ValidationFailed):
                pin.set_pin(db, actor=_user(db, user), password=PASSWORD, pin=bad)
        row = pin.set_pin(db, actor=_user(db, user), password=PASSWORD, pin="274159")
        assert row.pin_hash.startswith("$argon2") and "274159" not in row.pin_hash


def test_lock_state_is_pure_and_restarts_after_a_lock():
    lock = timedelta(hours=3)
    times = [T0 + timedelta(minutes=i) for i in range(5)]
    state = pin.lock_state(times, limit=5, lock=lock, now=T0 + timedelta(minutes=5))
    assert state.locked_until == times[-1] + lock
    assert pin.lock_state(times, limit=5, lock=lock, now=times[-1] + lock) == pin.LockState(0, None)
    later = [*times, times[-1] + lock + timedelta(minutes=1)]
    assert pin.lock_state(later, limit=5, lock=lock, now=later[-1]) == pin.LockState(1, None)
    assert pin.lock_state(times[:4], limit=5, lock=lock, now=T0).left(5) == 1


def test_five_wrong_pins_lock_payments_even_though_each_request_is_refused(
        database, settings, resident):
    user, _ = resident
    clock.freeze(T0)
    for left in (4, 3, 2, 1):
        with pytest.raises(pin.PinWrong) as refused, database.unit_of_work() as db:
            pin.verify(db, settings=settings, user=_user(db, user), pin="000000")
        assert refused.value.params["left"] == left
    with pytest.raises(pin.PinLocked), database.unit_of_work() as db:
        pin.verify(db, settings=settings, user=_user(db, user), pin="000000")
    # locked: even the right PIN is refused, and a refused try is not counted again
    clock.advance(timedelta(minutes=settings.payment_pin_lock_minutes - 1))
    with pytest.raises(pin.PinLocked), database.unit_of_work() as db:
        pin.verify(db, settings=settings, user=_user(db, user), pin=PIN)
    with database.unit_of_work() as db:
        assert db.scalar(select(func.count(PinFailure.id))) == 5
    clock.advance(timedelta(minutes=1))
    with database.unit_of_work() as db:
        pin.verify(db, settings=settings, user=_user(db, user), pin=PIN)
    # a correct PIN starts the count again
    with pytest.raises(pin.PinWrong) as refused, database.unit_of_work() as db:
        pin.verify(db, settings=settings, user=_user(db, user), pin="000000")
    assert refused.value.params["left"] == 4


def test_changing_the_pin_resets_the_count(database, settings, resident, make_user):
    user, _ = resident
    without = make_user()
    for _ in range(3):
        with pytest.raises(pin.PinWrong), database.unit_of_work() as db:
            pin.verify(db, settings=settings, user=_user(db, user), pin="000000")
    with database.unit_of_work() as db:
        pin.set_pin(db, actor=_user(db, user), password=PASSWORD, pin="502817")
        assert pin.state(db, settings=settings, user=_user(db, user)).failures == 0
        with pytest.raises(pin.PinRequired):
            pin.verify(db, settings=settings, user=_user(db, without), pin="274159")


def _spend(db, settings, user, trade_no, fen):
    return limits.record(db, settings=settings, user=_user(db, user), trade_no=trade_no,
                         amount_fen=fen, fund_channel="ALIPAYACCOUNT")


def test_limits_per_payment_and_per_local_day(database, make_user, settings):
    user = make_user()
    settings.payment_limit_per_payment_fen, settings.payment_limit_per_day_fen = 1_000, 2_500
    clock.freeze(datetime(2026, 12, 7, 15, 30, tzinfo=UTC))  # 23:30 in Shanghai
    with database.unit_of_work() as db:
        with pytest.raises(limits.LimitExceeded, match="per payment"):
            _spend(db, settings, user, "T0", 1_001)
        _spend(db, settings, user, "T1", 1_000)
        _spend(db, settings, user, "T2", 1_000)
        with pytest.raises(limits.LimitExceeded, match="daily limit") as refused:
            _spend(db, settings, user, "T3", 501)
        assert refused.value.params["left"] == "¥5.00"
        _spend(db, settings, user, "T3", 500)
        with pytest.raises(limits.AlreadyPaid):
            _spend(db, settings, user, "T3", 1)
    clock.advance(timedelta(minutes=31))  # past midnight in Shanghai: a new day
    with database.unit_of_work() as db:
        _spend(db, settings, user, "T4", 1_000)
        assert limits.spent_today(db, settings=settings, user=_user(db, user)) == 1_000
        assert db.scalar(select(func.count(Spend.id))) == 4


def test_a_payment_code_is_signed_expires_and_works_once(database, settings, resident):
    user, _ = resident
    clock.freeze(T0)
    with database.unit_of_work() as db:
        issued = payment_codes.issue(db, settings=settings, actor=_user(db, user))
        stale = payment_codes.issue(db, settings=settings, actor=_user(db, user)).code
    code = issued.code
    assert len(code) == 18 and code.startswith("28") and code.isdigit()
    forged = code[:-1] + str((int(code[-1]) + 1) % 10)
    with database.unit_of_work() as db:
        for bad in (forged, "", "28" + "0" * 16, code + "0", "ab" + code[2:]):
            with pytest.raises(payment_codes.CodeInvalid):
                payment_codes.resolve(db, settings=settings, auth_code=bad)
        payer = payment_codes.resolve(db, settings=settings, auth_code=f" {code} ")
        assert (payer.user.id, payer.source, payer.fund_channel) == (
            user.id, accounts.wallet(user.id), "ALIPAYACCOUNT")
    with database.unit_of_work() as db, pytest.raises(payment_codes.CodeInvalid, match="used"):
        payment_codes.resolve(db, settings=settings, auth_code=code)
    clock.advance(timedelta(seconds=settings.payment_code_ttl_seconds + 1))
    with database.unit_of_work() as db, pytest.raises(payment_codes.CodeInvalid, match="expired"):
        payment_codes.resolve(db, settings=settings, auth_code=stale)
    clock.advance(timedelta(days=1))  # a day on, issuing forgets the old codes
    with database.unit_of_work() as db:
        payment_codes.issue(db, settings=settings, actor=_user(db, user))
        assert db.scalar(select(func.count(PaymentCode.id))) == 1


def test_the_demo_residents_wallet_is_ready_and_prepared_once(database, settings, make_user):
    from townsquare.payments.wallet import demo

    user = make_user()
    for _ in range(2):
        with database.unit_of_work() as db:
            demo.prepare(db, settings=settings, user=_user(db, user), password=PASSWORD)
    with database.unit_of_work() as db:
        assert wallet.balance(db, user=user) == demo.DEMO_BALANCE_FEN
        pin.verify(db, settings=settings, user=_user(db, user), pin=demo.DEMO_PIN)
        assert len(wallet.cards(db, user=user)) == 1
