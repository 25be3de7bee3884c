"""Withdrawals: a merchant's owner takes settled (available) money out to the merchant's bank
card, within limits per withdrawal and per local day.

Two steps, so that a crash never loses or doubles a payout: `withdraw` moves the money in the
ledger (merchant available → BANK_CLEARING) and records the withdrawal as `processing` in its
own transaction; `pay_out` then asks the bank through the funding adapter
(`funding.payout_to_card`), by the withdrawal's own idempotency key, and marks it `succeeded`,
or `failed` with a reversing entry that gives the money back. A bank that did not answer leaves
it `processing` for `retry_payouts` (the bank's key makes the retry safe). `request` runs both."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.core.database import Database
from townsquare.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from townsquare.core.ids import new_id
from townsquare.core.settings import Settings
from townsquare.merchants.models import Merchant
from townsquare.merchants.service import is_owner, staffed_merchant
from townsquare.payments import funding
from townsquare.payments.ledger import accounts
from townsquare.payments.ledger.models import JournalEntry, LedgerAccount
from townsquare.payments.ledger.posting import IdempotencyMismatch, ensure_accounts, post, reverse
from townsquare.payments.ledger.records import PayoutCard, Withdrawal, WithdrawalStatus

KIND = "withdrawal"


class WithdrawalLimitExceeded(Conflict):
    code = "withdrawal_limit"


class NoPayoutCard(Conflict):
    code = "no_payout_card"


def _owned_merchant(db: Session, *, actor: User | None, merchant_id: str) -> Merchant:
    merchant = staffed_merchant(db, actor=actor, public_id=merchant_id)
    if not is_owner(db, actor, merchant):
        raise PermissionDenied("Only the merchant's owner can do this.")
    return merchant


def payout_card(db: Session, *, merchant_id: int) -> PayoutCard | None:
    return db.scalar(select(PayoutCard).where(PayoutCard.merchant_id == merchant_id))


def set_payout_card(db: Session, *, actor: User | None, merchant_id: str, token: str,
                    bank_name: str, number_masked: str) -> PayoutCard:
    """The owner names the card withdrawals go to (a card the funding adapter has bound)."""
    merchant = _owned_merchant(db, actor=actor, merchant_id=merchant_id)
    card = payout_card(db, merchant_id=merchant.id)
    if card is None:
        card = PayoutCard(merchant_id=merchant.id)
        db.add(card)
    card.token, card.bank_name, card.number_masked = token, bank_name, number_masked
    card.bound_at, card.bound_by_id = clock.now(), actor.id if actor else None
    db.flush()
    return card


def _day_start(settings: Settings) -> datetime:
    zone = ZoneInfo(settings.timezone)
    return datetime.combine(clock.now().astimezone(zone).date(), time(), zone)


def withdrawn_today(db: Session, *, merchant_id: int, settings: Settings) -> int:
    """What the merchant has withdrawn (or is withdrawing) since the local day began."""
    return int(db.scalar(
        select(func.coalesce(func.sum(Withdrawal.amount_fen), 0)).where(
            Withdrawal.merchant_id == merchant_id, Withdrawal.status != WithdrawalStatus.FAILED,
            Withdrawal.created_at >= _day_start(settings))) or 0)


def withdraw(db: Session, *, actor: User | None, settings: Settings, merchant_id: str,
             amount_fen: int, idempotency_key: str) -> Withdrawal:
    """The owner withdraws `amount_fen` of available money to the payout card.

    A repeat with the same `idempotency_key` returns the first withdrawal; the same key for a
    different amount is refused. Refused whole: over a limit (WithdrawalLimitExceeded), more than
    is available (ledger.InsufficientFunds), no card (NoPayoutCard)."""
    merchant = _owned_merchant(db, actor=actor, merchant_id=merchant_id)
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise ValidationFailed("Enter an amount greater than zero.", field="amount")
    if not 0 < len(idempotency_key) <= 64:
        raise ValidationFailed("A request id has 1 to 64 characters.", field="idempotency_key")
    available = accounts.merchant_available(merchant.id)
    # Withdrawals of one merchant queue on its available account (PostgreSQL), so the day's
    # total and the idempotency key are read after any withdrawal before this one committed.
    account_id = ensure_accounts(db, [available])[available]
    db.execute(select(LedgerAccount.id).where(LedgerAccount.id == account_id).with_for_update())
    found = db.scalar(select(Withdrawal).where(Withdrawal.merchant_id == merchant.id,
                                               Withdrawal.idempotency_key == idempotency_key))
    if found is not None:
        if found.amount_fen != amount_fen:
            raise IdempotencyMismatch(
                "This request id was already used for a different withdrawal.",
                key=idempotency_key)
        return found
    if amount_fen > settings.withdrawal_max_fen:
        raise WithdrawalLimitExceeded(
            "A withdrawal may be at most {limit} yuan.", limit=_yuan(settings.withdrawal_max_fen))
    today = withdrawn_today(db, merchant_id=merchant.id, settings=settings)
    if today + amount_fen > settings.withdrawal_daily_max_fen:
        raise WithdrawalLimitExceeded(
            "Withdrawals may total at most {limit} yuan a day; {left} yuan are left today.",
            limit=_yuan(settings.withdrawal_daily_max_fen),
            left=_yuan(max(settings.withdrawal_daily_max_fen - today, 0)))
    card = payout_card(db, merchant_id=merchant.id)
    if card is None:
        raise NoPayoutCard("Add a bank card for withdrawals first.")
    public_id = new_id("wd")
    entry = post(db, kind=KIND, reference=public_id,
                 legs={available: -amount_fen, accounts.BANK_CLEARING: amount_fen},
                 idempotency_key=f"{KIND}:{public_id}", memo=card.number_masked)
    withdrawal = Withdrawal(public_id=public_id, merchant_id=merchant.id, amount_fen=amount_fen,
                            card_ref=card.token, idempotency_key=idempotency_key,
                            requested_by_id=actor.id if actor else None, entry_id=entry.id,
                            status=WithdrawalStatus.PROCESSING)
    db.add(withdrawal)
    db.flush()
    return withdrawal


def succeed(db: Session, withdrawal: Withdrawal, *, payout_ref: str) -> Withdrawal:
    """The bank paid the card: the withdrawal is done (the ledger moved at `withdraw`)."""
    if withdrawal.status == WithdrawalStatus.PROCESSING:
        withdrawal.status = WithdrawalStatus.SUCCEEDED
        withdrawal.payout_ref, withdrawal.finished_at = payout_ref, clock.now()
        db.flush()
    return withdrawal


def fail(db: Session, withdrawal: Withdrawal, *, reason: str) -> Withdrawal:
    """The bank refused: a reversing entry gives the money back to the merchant's available
    funds (once: the reversal has its own idempotency key)."""
    if withdrawal.status == WithdrawalStatus.PROCESSING:
        entry = db.get_one(JournalEntry, withdrawal.entry_id)
        reverse(db, entry, idempotency_key=f"{KIND}:{withdrawal.public_id}:failed",
                memo=reason[:200])
        withdrawal.status, withdrawal.failure = WithdrawalStatus.FAILED, reason[:200]
        withdrawal.finished_at = clock.now()
        db.flush()
    return withdrawal


def pay_out(db: Session, *, withdrawal_id: int) -> Withdrawal:
    """Ask the bank to pay a `processing` withdrawal to its card (run after `withdraw`'s
    transaction committed). The bank's idempotency key is the withdrawal's own, so asking again
    after a crash or a timeout never pays twice."""
    withdrawal = db.scalar(select(Withdrawal).where(Withdrawal.id == withdrawal_id)
                           .with_for_update())
    if withdrawal is None:
        raise NotFound("No such withdrawal.")
    if withdrawal.status != WithdrawalStatus.PROCESSING:
        return withdrawal
    try:
        paid = funding.payout_to_card(db, card=withdrawal.card_ref,
                                      amount_fen=withdrawal.amount_fen,
                                      idempotency_key=f"{KIND}:{withdrawal.public_id}")
    except funding.BankTimeout:
        return withdrawal  # outcome unknown: stays processing for retry_payouts
    except (funding.FundingError, NotFound) as exc:
        return fail(db, withdrawal, reason=exc.code)
    return succeed(db, withdrawal, payout_ref=paid.reference)


def bind_payout_card(db: Session, *, actor: User | None, settings: Settings, merchant_id: str,
                     number: str) -> PayoutCard:
    """The owner binds the bank card withdrawals go to, through the funding adapter (the
    card's holder is the merchant)."""
    merchant = _owned_merchant(db, actor=actor, merchant_id=merchant_id)
    bound = funding.bind_card(db, secret=settings.effective_secret_key, number=number,
                              holder=merchant.public_id)
    return set_payout_card(db, actor=actor, merchant_id=merchant_id, token=bound.token,
                           bank_name=bound.bank_name, number_masked=bound.number_masked)


def request(database: Database, *, actor: User | None, settings: Settings, merchant_id: str,
            amount_fen: int, idempotency_key: str) -> Withdrawal:
    """Both steps, each in its own unit of work: `withdraw` commits the ledger side, then
    `pay_out` asks the bank (for pages and the CLI, which own their transactions)."""
    with database.unit_of_work() as db:
        withdrawal = withdraw(db, actor=actor, settings=settings, merchant_id=merchant_id,
                              amount_fen=amount_fen, idempotency_key=idempotency_key)
        withdrawal_id = withdrawal.id
    with database.unit_of_work() as db:
        return pay_out(db, withdrawal_id=withdrawal_id)


def retry_payouts(database: Database) -> list[Withdrawal]:
    """The job: ask the bank again for every withdrawal still `processing` (a timeout, or a
    crash between the two steps), each in its own unit of work."""
    with database.unit_of_work(read_only=True) as db:
        waiting = list(db.scalars(select(Withdrawal.id).where(
            Withdrawal.status == WithdrawalStatus.PROCESSING).order_by(Withdrawal.id)))
    done = []
    for withdrawal_id in waiting:
        with database.unit_of_work() as db:
            done.append(pay_out(db, withdrawal_id=withdrawal_id))
    return done


def get(db: Session, *, actor: User | None, merchant_id: str, withdrawal_id: str) -> Withdrawal:
    merchant = staffed_merchant(db, actor=actor, public_id=merchant_id)
    found = db.scalar(select(Withdrawal).where(Withdrawal.public_id == withdrawal_id,
                                               Withdrawal.merchant_id == merchant.id))
    if found is None:
        raise NotFound("No such withdrawal.")
    return found


def for_merchant(db: Session, *, actor: User | None, merchant_id: str,
                 limit: int = 50) -> list[Withdrawal]:
    merchant = staffed_merchant(db, actor=actor, public_id=merchant_id)
    return list(db.scalars(select(Withdrawal).where(Withdrawal.merchant_id == merchant.id)
                           .order_by(Withdrawal.created_at.desc(), Withdrawal.id.desc())
                           .limit(limit)))


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"
