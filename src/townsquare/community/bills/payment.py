"""Fee bills' listener on payments' trade hook (`payments.trades.hooks.trade_changed`), run
inside the transaction that changed the trade; only trades whose `out_trade_no` is a bill
payment's (`bil_…`) concern it.

- **paid**: the payment's bills are locked in id order and must all still be unpaid, at the
  amount they had when the payment was made; they become paid by it in one conditional update.
  Otherwise (another member's payment of one of them won, the property changed an amount or
  wrote one off)
  the payment is refused (`bill_paid`, `bills_changed`): the error fails the trade's payment
  whole, so no money moves (a card charge is given back by the cashier). Two members paying
  the same bill at once therefore end with exactly one payment: the second waits on the
  first's locks and then finds it paid.
- **closed / timed_out / cancelled**: the payment is closed; its bills stay as they were.
- **refunded** in full (from the property's trade console): its bills are unpaid again."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session, lazyload

from townsquare.community.bills.models import (
    Bill,
    BillPayment,
    BillStatus,
    PaymentStatus,
)
from townsquare.community.bills.service import (
    OUT_TRADE_PREFIX,
    BillPaid,
    BillsChanged,
    BillWrittenOff,
)
from townsquare.core.clock import clock
from townsquare.core.database import rows_changed
from townsquare.payments.trades import hooks
from townsquare.payments.trades.models import Trade

LISTENER = "community.bills"


def paid(db: Session, payment: BillPayment, trade: Trade) -> None:
    amounts = {item.bill_id: item.amount_fen for item in payment.items}
    bills = list(db.scalars(select(Bill).where(Bill.id.in_(list(amounts))).order_by(Bill.id)
                            .options(lazyload(Bill.household)).with_for_update()
                            .execution_options(populate_existing=True)))
    if any(b.status is BillStatus.WRITTEN_OFF for b in bills):
        raise BillWrittenOff("A bill you chose was written off by the property: nothing to pay.")
    if len(bills) != len(amounts) or any(b.status is not BillStatus.UNPAID for b in bills):
        raise BillPaid("A bill you chose has already been paid (perhaps by another member).")
    if any(b.amount_fen != amounts[b.id] for b in bills):
        raise BillsChanged("The property changed a bill you chose; choose your bills again.")
    now = trade.paid_at or clock.now()
    moved = db.execute(
        update(Bill).where(Bill.id.in_(list(amounts)), Bill.status == BillStatus.UNPAID)
        .values(status=BillStatus.PAID, payment_id=payment.id, paid_at=now,
                paid_by_id=trade.buyer_user_id)
        .execution_options(synchronize_session=False))
    if rows_changed(moved) != len(amounts):  # cannot happen under the locks; never half-pay
        raise BillPaid("A bill you chose has already been paid (perhaps by another member).")
    payment.status, payment.paid_at = PaymentStatus.PAID, now
    for bill in bills:
        db.refresh(bill)
    db.flush()


def refunded(db: Session, payment: BillPayment, trade: Trade) -> None:
    if trade.refunded_fen < trade.total_fen or payment.status is not PaymentStatus.PAID:
        return
    db.execute(update(Bill).where(Bill.payment_id == payment.id)
               .values(status=BillStatus.UNPAID, payment_id=None, paid_at=None,
                       paid_by_id=None).execution_options(synchronize_session=False))
    payment.status = PaymentStatus.REFUNDED
    db.flush()


def on_trade_changed(db: Session, change: hooks.TradeChanged) -> None:
    if not change.trade.out_trade_no.startswith(OUT_TRADE_PREFIX):
        return
    payment = db.scalar(select(BillPayment).where(BillPayment.trade_no == change.trade.trade_no))
    if payment is None:
        return
    if change.event == "paid":
        paid(db, payment, change.trade)
    elif change.event in ("closed", "timed_out", "cancelled"):
        if payment.status is PaymentStatus.WAITING:
            payment.status = PaymentStatus.CLOSED
            db.flush()
    elif change.event == "refunded":
        refunded(db, payment, change.trade)


def connect() -> None:
    """Called by the composition roots (townsquare.app.connect_hooks)."""
    hooks.trade_changed.connect(LISTENER, on_trade_changed)
