"""The trade rules without the wire: create is idempotent per out_trade_no, a trade is charged
once, refunds are idempotent and never exceed the payment, close only while unpaid, timeouts
close and the refund period finishes; each change queues its notification."""

from __future__ import annotations

from dataclasses import fields
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.payments.trades import trade_world
from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.gateway.models import Notification
from townsquare.payments import ledger
from townsquare.payments.ledger import accounts
from townsquare.payments.trades import errors, service
from townsquare.payments.trades.models import TradeStatus, TradeView

NOTIFY = "http://merchant.example/notify"


@pytest.fixture
def world(database, settings, make_user):
    return trade_world.build(database, settings, make_user)


def _notifications(db):
    return [(n.params["trade_status"], n.params.get("refund_fee", ""))
            for n in db.scalars(select(Notification).order_by(Notification.id))]


def test_create_is_idempotent_and_refuses_other_content(database, world):
    with database.unit_of_work() as db:
        first = trade_world.create(db, world)
        again = trade_world.create(db, world)
        assert again.trade_no == first.trade_no and len(first.trade_no) == 28
        with pytest.raises(errors.ContextInconsistent):
            trade_world.create(db, world, total_fen=1_251)
        with pytest.raises(errors.InvalidParameter):
            trade_world.create(db, world, "T-2", total_fen=0)


def test_pay_once_then_refunds_to_closed(database, world):
    wallet = accounts.wallet(world.resident.id)
    with database.unit_of_work() as db:
        trade = trade_world.create(db, world, notify_url=NOTIFY)
        paid = trade_world.pay(db, trade.trade_no, world.resident.id)
        assert paid.status == TradeStatus.TRADE_SUCCESS and paid.paid_at is not None
        assert trade_world.pay(db, trade.trade_no, world.resident.id).trade_no == trade.trade_no
        with pytest.raises(errors.TradePaid):  # a second payment under another key
            trade_world.pay(db, trade.trade_no, world.resident.id, key="pay-2")
        with pytest.raises(errors.TradePaid):  # a create of a paid out_trade_no
            trade_world.create(db, world)
        assert ledger.balance(db, wallet) == 100_000 - 1_250
        merchant = paid.merchant_id
        fee = ledger.balance(db, accounts.PLATFORM_FEES)
        assert ledger.balance(db, accounts.merchant_pending(merchant)) + fee == 1_250

        refund, moved = service.refund(db, trade=paid, refund_fen=250, out_request_no="R1")
        assert moved and refund.amount_fen == 250
        again, moved_again = service.refund(db, trade=paid, refund_fen=250, out_request_no="R1")
        assert again.id == refund.id and not moved_again
        with pytest.raises(errors.InvalidParameter):
            service.refund(db, trade=paid, refund_fen=300, out_request_no="R1")
        with pytest.raises(errors.RefundExceedsPaid):
            service.refund(db, trade=paid, refund_fen=1_001, out_request_no="R2")
        db.refresh(paid)
        assert paid.status == TradeStatus.TRADE_SUCCESS and paid.refunded_fen == 250
        service.refund(db, trade=paid, refund_fen=1_000, out_request_no="R2")
        db.refresh(paid)
        assert paid.status == TradeStatus.TRADE_CLOSED and paid.refunded_fen == 1_250
        with pytest.raises(errors.TradeClosed):
            service.refund(db, trade=paid, refund_fen=1, out_request_no="R3")
        assert ledger.balance(db, wallet) == 100_000
        assert ledger.balance(db, accounts.merchant_pending(merchant)) == 0
        assert ledger.balance(db, accounts.PLATFORM_FEES) == 0
        assert _notifications(db) == [("TRADE_SUCCESS", ""), ("TRADE_SUCCESS", "2.50"),
                                      ("TRADE_CLOSED", "12.50")]
    with database.unit_of_work() as db:  # (a fresh session: reconcile reads account rows)
        assert ledger.reconcile(db).sound


def test_refund_rules_and_seller_balance(database, world):
    with database.unit_of_work() as db:
        unpaid = trade_world.create(db, world, "T-unpaid")
        with pytest.raises(errors.TradeStatusError):
            service.refund(db, trade=unpaid, refund_fen=1, out_request_no="R")
        trade = trade_world.pay(db, trade_world.create(db, world).trade_no, world.resident.id)
        merchant = trade.merchant_id
        # the merchant's money settled and withdrawn: nothing left to refund from
        held = ledger.balance(db, accounts.merchant_pending(merchant))
        ledger.post(db, kind="withdrawal", reference="w",
                    legs={accounts.merchant_pending(merchant): -held,
                          accounts.BANK_CLEARING: held})
        with pytest.raises(errors.SellerBalanceNotEnough):
            service.refund(db, trade=trade, refund_fen=100, out_request_no="R")
        ledger.post(db, kind="settlement", reference="s",
                    legs={accounts.BANK_CLEARING: -5_000,
                          accounts.merchant_available(merchant): 5_000})
        _, moved = service.refund(db, trade=trade, refund_fen=100, out_request_no="R")
        assert moved  # from settled money when nothing is pending
        assert ledger.balance(db, accounts.merchant_available(merchant)) < 5_000
        service.freeze(db, actor=db.get(type(world.operator), world.operator.id), trade=trade,
                       frozen=True)
        with pytest.raises(errors.TradeFrozen):
            service.refund(db, trade=trade, refund_fen=100, out_request_no="R-2")


def test_buyer_without_money_is_refused_and_nothing_changes(database, settings, make_user,
                                                             world):
    poor = make_user(display_name="没钱")
    with database.unit_of_work() as db:
        trade = trade_world.create(db, world)
        with pytest.raises(errors.BuyerBalanceNotEnough):
            trade_world.pay(db, trade.trade_no, poor.id)
        db.refresh(trade)
        assert trade.status == TradeStatus.WAIT_BUYER_PAY and trade.paid_at is None
        assert trade_world.pay(db, trade.trade_no, world.resident.id).paid_at is not None


def test_close_cancel_timeout_and_finish(database, world):
    with database.unit_of_work() as db:
        trade = trade_world.create(db, world, notify_url=NOTIFY)
        service.close(db, trade=trade)
        assert trade.status == TradeStatus.TRADE_CLOSED
        with pytest.raises(errors.TradeStatusError):
            service.close(db, trade=trade)
        with pytest.raises(errors.TradeClosed):
            trade_world.pay(db, trade.trade_no, world.resident.id)
        with pytest.raises(errors.TradeClosed):
            trade_world.create(db, world)

        paid = trade_world.pay(db, trade_world.create(db, world, "T-2").trade_no,
                               world.resident.id)
        with pytest.raises(errors.TradeStatusError):
            service.close(db, trade=paid)
        cancelled, action = service.cancel(db, trade=paid)
        assert action == "refund" and cancelled.status == TradeStatus.TRADE_CLOSED
        assert service.cancel(db, trade=paid)[1] == "refund"  # a retried cancel
        assert cancelled.refunded_fen == cancelled.total_fen

        late = trade_world.create(db, world, "T-3", timeout_minutes=5, notify_url=NOTIFY)
        kept = trade_world.pay(db, trade_world.create(db, world, "T-4").trade_no,
                               world.resident.id)
    clock.freeze(clock.now() + timedelta(minutes=6))
    with database.unit_of_work() as db:
        with pytest.raises(errors.TradeClosed):
            trade_world.pay(db, late.trade_no, world.resident.id)
        assert service.close_expired(db) == 1
        assert service.get(db, late.trade_no).status == TradeStatus.TRADE_CLOSED
        assert service.finish_due(db) == 0
    clock.freeze(clock.now() + service.REFUND_PERIOD)
    with database.unit_of_work() as db:
        assert service.finish_due(db) == 1
        finished = service.get(db, kept.trade_no)
        assert finished.status == TradeStatus.TRADE_FINISHED
        with pytest.raises(errors.TradeFinished):
            service.refund(db, trade=finished, refund_fen=1, out_request_no="R")
        statuses = [s for s, _ in _notifications(db)]
        assert statuses == ["TRADE_CLOSED", "TRADE_CLOSED"]  # closed by the app, timed out


def test_a_card_payment_is_refunded_to_the_card(database, settings, make_user):
    from tests.payments.wallet import pay_world
    from townsquare.accounts.models import User
    from townsquare.payments.funding.models import SimCard
    from townsquare.payments.wallet import paying

    world, card = pay_world.build(database, settings, make_user, wallet_fen=0)

    def card_balance(db) -> int:
        return db.scalar(select(SimCard.balance_fen))

    with database.unit_of_work() as db:
        before = card_balance(db)
        trade = pay_world.create(db, world, total_fen=3_000)
        paying.pay_trade(db, settings=settings, actor=db.get(User, world.resident.id),
                         trade_no=trade.trade_no, method=card, payment_pin=pay_world.PIN)
        assert card_balance(db) == before - 3_000
        clearing = ledger.balance(db, accounts.BANK_CLEARING)
        _, moved = service.refund(db, trade=trade, refund_fen=1_000, out_request_no="R1")
        assert moved and card_balance(db) == before - 2_000
        assert ledger.balance(db, accounts.BANK_CLEARING) == clearing + 1_000
        assert not service.refund(db, trade=trade, refund_fen=1_000, out_request_no="R1")[1]
        assert card_balance(db) == before - 2_000  # the repeat moved nothing at the bank
        assert ledger.balance(db, accounts.wallet(world.resident.id)) == 0
    with database.unit_of_work() as db:
        assert ledger.reconcile(db).sound


def test_a_crash_after_the_charge_loses_neither_charge_nor_notification(database, world):
    with database.unit_of_work() as db:
        trade_no = trade_world.create(db, world, notify_url=NOTIFY).trade_no
    with pytest.raises(RuntimeError), database.unit_of_work() as db:
        trade_world.pay(db, trade_no, world.resident.id)
        raise RuntimeError("the process dies before the commit")
    with database.unit_of_work() as db:  # nothing half-done: no charge, no notification
        assert service.get(db, trade_no).status == TradeStatus.WAIT_BUYER_PAY
        assert ledger.balance(db, accounts.wallet(world.resident.id)) == 100_000
        assert _notifications(db) == []
        trade_world.pay(db, trade_no, world.resident.id)
    with database.unit_of_work() as db:  # committed: both, together
        assert ledger.balance(db, accounts.wallet(world.resident.id)) == 100_000 - 1_250
        assert _notifications(db) == [("TRADE_SUCCESS", "")]


def test_a_read_finds_what_find_finds_with_its_buyer_in_one_statement(database, world):
    """`find_view` (alipay.trade.query) against `find`: the same trade by either number
    (`trade_no` wins), the same refusals, and the buyer read with it."""
    extras = {"miniapp_public_id", "buyer_public_id", "buyer_username", "buyer_phone"}
    with database.unit_of_work() as db:
        app = trade_world.app_of(db, world)
        waiting = trade_world.create(db, world, "T-W")
        paid = trade_world.pay(db, trade_world.create(db, world).trade_no, world.resident.id)
        db.flush()
        for trade in (waiting, paid):
            for ref in ({"trade_no": trade.trade_no}, {"out_trade_no": trade.out_trade_no},
                        {"trade_no": trade.trade_no, "out_trade_no": "T-other"}):
                view = service.find_view(db, app_id=app.id, **ref)
                found = service.find(db, app=app, **ref)
                assert found.trade_no == trade.trade_no
                assert {f.name: getattr(view, f.name) for f in fields(TradeView)
                        if f.name not in extras} == {
                    f.name: getattr(found, f.name) for f in fields(TradeView)
                    if f.name not in extras}
        resident = db.get(User, world.resident.id)
        view = service.find_view(db, app_id=app.id, out_trade_no=paid.out_trade_no)
        assert (view.buyer_public_id, view.buyer_username, view.buyer_phone) == (
            resident.public_id, resident.username,
            resident.identity.phone if resident.identity else None)
        assert view.miniapp_public_id == app.miniapp.public_id
        assert view.status == TradeStatus.TRADE_SUCCESS
        unpaid = service.find_view(db, app_id=app.id, out_trade_no="T-W")
        assert (unpaid.buyer_user_id, unpaid.buyer_public_id, unpaid.paid_at) == (None, None, None)
        for ref in ({"trade_no": "2026" + "0" * 24}, {"out_trade_no": "T-none"},
                    {"trade_no": "2026" + "0" * 24, "out_trade_no": paid.out_trade_no}):
            with pytest.raises(errors.TradeNotFound):
                service.find_view(db, app_id=app.id, **ref)
            with pytest.raises(errors.TradeNotFound):
                service.find(db, app=app, **ref)
        with pytest.raises(errors.TradeNotFound):  # another app's trade
            service.find_view(db, app_id=app.id + 1, trade_no=paid.trade_no)
        with pytest.raises(errors.InvalidParameter):
            service.find_view(db, app_id=app.id)
