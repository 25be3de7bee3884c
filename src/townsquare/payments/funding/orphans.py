"""The acquirer's orphan charges: a card charged at the bank for a trade or a top-up that the
platform never recorded (a crash, or a lost connection, between the charge and the commit).

With the simulated bank this cannot happen by itself (its books are written in the caller's
transaction), but with a real acquirer a charge is outside our transaction. So, as a scheduled
job (`townsquare payments orphan-charges`, from cron next to `reconcile`), we list the bank's
charges of the last days (`FundingAdapter.charges`) against what the platform used them for:

- a charge used by a paid trade (`Trade.funding_reference`), a top-up (`TopUp.funding_reference`)
  or claimed by a use (`funding_charge_uses`) is accounted for;
- a charge refunded in full already (the cashier's own undo) needs nothing;
- a charge for a trade that still waits for payment and has not timed out is left alone: the
  resident may retry, and the retry replays that same charge (its key is the trade's);
- any other charge older than the grace period (`TOWNSQUARE_ORPHAN_CHARGE_GRACE_MINUTES`) is an
  orphan: the job claims it (`ChargeUse`, purpose `orphan_refund`: unique per charge, so a late
  payment or top-up using it now fails instead) and refunds what is left of it to the card with
  the key `orphan:{reference}` — idempotent at the bank, so a job that dies after the refund and
  runs again refunds nothing twice.

Each orphan is handled in its own unit of work; the run reports what it found."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from townsquare.core.clock import clock
from townsquare.core.database import Database
from townsquare.core.settings import Settings
from townsquare.payments.funding import adapter_for
from townsquare.payments.funding.adapter import BankCharge, FundingError
from townsquare.payments.funding.models import ChargeUse
from townsquare.payments.trades.models import Trade, TradeStatus
from townsquare.payments.wallet.models import TopUp

PURPOSE = "orphan_refund"


@dataclass
class OrphanReport:
    looked_at: int = 0
    accounted: int = 0
    given_back: int = 0  # refunded in full already
    waiting: list[str] = field(default_factory=list)  # charges of trades still payable
    refunded: list[tuple[str, int]] = field(default_factory=list)  # (reference, fen)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (reference, error code)


def refund_key(reference: str) -> str:
    return f"orphan:{reference}"


def _still_payable(db, charge: BankCharge) -> bool:
    """A charge keyed for a trade that the resident may still pay (and so retry with it)."""
    if not charge.idempotency_key.startswith("trade:"):
        return False
    trade_no = charge.idempotency_key.split(":")[1]
    trade = db.scalar(select(Trade).where(Trade.trade_no == trade_no[:32]))
    return (trade is not None and trade.status is TradeStatus.WAIT_BUYER_PAY
            and trade.timeout_at > clock.now())


def _used(db, references: list[str]) -> set[str]:
    """Which of these charges a paid trade, a top-up or a use (not an orphan refund) holds."""
    found: set[str] = set()
    for i in range(0, len(references), 500):
        chunk = references[i:i + 500]
        found.update(db.scalars(select(ChargeUse.reference).where(
            ChargeUse.reference.in_(chunk), ChargeUse.purpose != PURPOSE)))
        found.update(db.scalars(select(Trade.funding_reference).where(
            Trade.funding_reference.in_(chunk), Trade.paid_at.is_not(None))))
        found.update(db.scalars(select(TopUp.funding_reference).where(
            TopUp.funding_reference.in_(chunk))))
    return found


def _accounted(db, reference: str) -> bool:
    claimed = db.scalar(select(ChargeUse.purpose).where(ChargeUse.reference == reference))
    if claimed is not None and claimed != PURPOSE:
        return True
    paid = db.scalar(select(Trade.id).where(Trade.funding_reference == reference,
                                            Trade.paid_at.is_not(None)).limit(1))
    topped = db.scalar(select(TopUp.id).where(TopUp.funding_reference == reference).limit(1))
    return paid is not None or topped is not None


def run(database: Database, *, settings: Settings) -> OrphanReport:
    """Find the orphan charges of the lookback window and give their money back."""
    now = clock.now()
    since = now - timedelta(days=settings.orphan_charge_lookback_days)
    until = now - timedelta(minutes=settings.orphan_charge_grace_minutes)
    report = OrphanReport()
    with database.unit_of_work(read_only=True) as db:
        charges = adapter_for(db).charges(since, until)
        used = _used(db, [c.reference for c in charges])  # most charges: one look for all
    for charge in charges:
        report.looked_at += 1
        if charge.reference in used:
            report.accounted += 1
            continue
        with database.unit_of_work() as db:
            if _accounted(db, charge.reference):  # used since the look above
                report.accounted += 1
                continue
            left = charge.amount_fen - charge.refunded_fen
            if left <= 0:  # given back already (the cashier's undo, or an earlier run)
                report.given_back += 1
                continue
            if _still_payable(db, charge):
                report.waiting.append(charge.reference)
                continue
            try:
                with db.begin_nested():
                    db.add(ChargeUse(reference=charge.reference, purpose=PURPOSE,
                                     subject=refund_key(charge.reference),
                                     amount_fen=charge.amount_fen, used_at=clock.now()))
                    db.flush()
            except IntegrityError:  # claimed meanwhile: a late use, or another run's claim
                pass
            claim = db.scalars(select(ChargeUse).where(ChargeUse.reference == charge.reference)
                               .with_for_update()  # a concurrent run waits here for this one
                               .execution_options(populate_existing=True)).one()
            if claim.purpose != PURPOSE:
                report.accounted += 1
                continue
            if claim.refunded_at is not None:  # another run gave it back meanwhile
                report.given_back += 1
                continue
            try:
                adapter_for(db).refund(charge.reference, left, refund_key(charge.reference))
            except FundingError as error:  # the bank will be asked again on the next run
                report.failed.append((charge.reference, error.code))
                continue
            claim.refunded_at = clock.now()
            report.refunded.append((charge.reference, left))
    return report
