"""Settlement: a merchant's pending money becomes available (and may be withdrawn) some days
after it was paid — T+1 by default (`TOWNSQUARE_SETTLEMENT_DELAY_DAYS`).

Run once a day or more often (`townsquare payments settle`, from cron): each merchant is settled
at most once per local day, by the ledger's idempotency key `settlement:<merchant>:<day>`. What
is due is read from the ledger's own postings on the merchant's pending account: the net of every
trade (entry reference) whose payment reached the account before the cut-off — so a refund taken
from pending counts against its own trade, whenever it came — minus what was settled before;
never more than the account holds."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from townsquare.core.clock import clock
from townsquare.core.database import Database
from townsquare.core.settings import Settings
from townsquare.payments.ledger import accounts
from townsquare.payments.ledger.models import AccountKind, JournalEntry, LedgerAccount, Posting
from townsquare.payments.ledger.posting import post

KIND = "settlement"
# Entries that move money between a merchant's pending and available funds (not trade money).
SETTLEMENT_KINDS = (KIND, f"reversal:{KIND}")


@dataclass(frozen=True)
class Settled:
    merchant_id: int
    amount_fen: int  # 0: nothing was due
    entry: str | None  # the settlement entry's public id
    repeated: bool = False  # the day's settlement had been made before


def today(settings: Settings) -> date:
    return clock.now().astimezone(ZoneInfo(settings.timezone)).date()


def cutoff(day: date, *, settings: Settings) -> datetime:
    """Money paid before this instant is settled on `day`: the start of the local day `delay`
    days before the next one (delay 1: the start of `day` itself, so yesterday's money)."""
    local_day = day - timedelta(days=settings.settlement_delay_days - 1)
    return datetime.combine(local_day, time(), ZoneInfo(settings.timezone))


def key(merchant_id: int, day: date) -> str:
    return f"{KIND}:{merchant_id}:{day.isoformat()}"


def due_fen(db: Session, *, account_id: int, before: datetime) -> int:
    """What the pending account owes its merchant's available funds at the cut-off `before`."""
    trade_money = (JournalEntry.kind.not_in(SETTLEMENT_KINDS))
    paid_before = (
        select(JournalEntry.reference).join(Posting, Posting.entry_id == JournalEntry.id)
        .where(Posting.account_id == account_id, Posting.amount_fen > 0,
               Posting.created_at < before, trade_money)
    )
    on_account = (select(func.coalesce(func.sum(Posting.amount_fen), 0))
                  .join(JournalEntry, JournalEntry.id == Posting.entry_id)
                  .where(Posting.account_id == account_id))
    net = int(db.scalar(on_account.where(trade_money,
                                         JournalEntry.reference.in_(paid_before))) or 0)
    settled = -int(db.scalar(on_account.where(JournalEntry.kind.in_(SETTLEMENT_KINDS))) or 0)
    return net - settled


def settle_merchant(db: Session, *, merchant_id: int, day: date, settings: Settings) -> Settled:
    """Move what is due on `day` from the merchant's pending to its available funds, once."""
    pending = db.execute(
        select(LedgerAccount.id, LedgerAccount.balance_fen)
        .where(LedgerAccount.code == accounts.merchant_pending(merchant_id))
        .with_for_update()  # a second run (or a refund) waits here for this one to commit
    ).first()
    done = db.scalar(select(JournalEntry.public_id)
                     .where(JournalEntry.idempotency_key == key(merchant_id, day)))
    if done is not None:
        amount = db.scalar(select(Posting.amount_fen).join(LedgerAccount).where(
            Posting.entry_id == select(JournalEntry.id).where(
                JournalEntry.public_id == done).scalar_subquery(),
            LedgerAccount.kind == AccountKind.MERCHANT_AVAILABLE))
        return Settled(merchant_id, int(amount or 0), done, repeated=True)
    if pending is None:
        return Settled(merchant_id, 0, None)
    amount = max(0, min(due_fen(db, account_id=pending.id, before=cutoff(day, settings=settings)),
                        pending.balance_fen))
    if not amount:
        return Settled(merchant_id, 0, None)
    entry = post(db, kind=KIND, reference=f"{KIND}:{merchant_id}:{day.isoformat()}",
                 legs={accounts.merchant_pending(merchant_id): -amount,
                       accounts.merchant_available(merchant_id): amount},
                 idempotency_key=key(merchant_id, day), memo=f"T+{settings.settlement_delay_days}")
    return Settled(merchant_id, amount, entry.public_id)


def merchants_pending(db: Session) -> list[int]:
    """The merchants with money in their pending funds, by id."""
    codes = db.scalars(select(LedgerAccount.code).where(
        and_(LedgerAccount.kind == AccountKind.MERCHANT_PENDING, LedgerAccount.balance_fen > 0)))
    return sorted(int(code.split(":")[1]) for code in codes)


def run(database: Database, *, settings: Settings, day: date | None = None) -> Iterator[Settled]:
    """The scheduled job: settle every merchant with pending money, each in its own unit of work
    (one merchant's failure leaves the others settled; a rerun finishes the rest)."""
    day = day or today(settings)
    with database.unit_of_work() as db:
        merchant_ids = merchants_pending(db)
    for merchant_id in merchant_ids:
        with database.unit_of_work() as db:
            yield settle_merchant(db, merchant_id=merchant_id, day=day, settings=settings)
