"""Posting to the ledger: one balanced journal entry per movement of money.

`post` is the only writer of postings and balances. It refuses, changing nothing, an entry that
would take an account that may not go negative below zero; two concurrent entries on the same
account serialise on the account's row (a conditional UPDATE). Rows are locked in one order
everywhere (`LOCK_ORDER`, then account id) so that entries never deadlock: residents' and
merchants' own accounts first, the platform's shared accounts (fees, commissions, bank
clearing: touched by every payment) last, so that their row lock is held as briefly as possible
— from the entry's last statements to its commit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from townsquare.core.clock import clock
from townsquare.core.database import rows_changed
from townsquare.core.errors import Conflict
from townsquare.payments.ledger import accounts
from townsquare.payments.ledger.models import AccountKind, JournalEntry, LedgerAccount, Posting

# The order in which an entry locks its accounts' rows (see the module's docstring). A caller
# that locks an account before posting (settlement: pending; withdrawals: available) follows it.
LOCK_ORDER = {kind: rank for rank, kind in enumerate((
    AccountKind.WALLET, AccountKind.MERCHANT_PENDING, AccountKind.MERCHANT_AVAILABLE,
    AccountKind.ISV_COMMISSION, AccountKind.COMMUNITY_COMMISSION, AccountKind.PLATFORM_FEES,
    AccountKind.BANK_CLEARING))}


class InsufficientFunds(Conflict):
    code = "insufficient_funds"


class IdempotencyMismatch(Conflict):
    code = "idempotency_mismatch"


@dataclass(frozen=True)
class Leg:
    account: str
    amount_fen: int


def _legs(legs: Mapping[str, int]) -> list[Leg]:
    """The non-zero legs of an entry; a programming error (ValueError) unless they balance."""
    found = []
    for code, amount in legs.items():
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise ValueError(f"{code}: amounts are integer fen, not {amount!r}")
        accounts.kind_of(code)
        if amount:
            found.append(Leg(code, amount))
    if len(found) < 2 or sum(leg.amount_fen for leg in found) != 0:
        raise ValueError(f"an entry needs two or more legs that sum to zero: {dict(legs)}")
    return found


def _same(entry: JournalEntry, legs: list[Leg], kind: str, reference: str) -> bool:
    held = sorted((p.account.code, p.amount_fen) for p in entry.postings)
    wanted = sorted((leg.account, leg.amount_fen) for leg in legs)
    return (entry.kind, entry.reference, held) == (kind, reference, wanted)


def _replay(db: Session, key: str, legs: list[Leg], kind: str, reference: str
            ) -> JournalEntry | None:
    entry = db.scalar(select(JournalEntry).where(JournalEntry.idempotency_key == key))
    if entry is None:
        return None
    if not _same(entry, legs, kind, reference):
        raise IdempotencyMismatch(
            "This request id was already used for a different movement of money.", key=key
        )
    return entry


def ensure_accounts(db: Session, codes: Iterable[str]) -> dict[str, int]:
    """The ids of the accounts named by `codes`, opening those that do not exist yet."""
    wanted = sorted(set(codes))

    def known() -> dict[str, int]:
        return dict(db.execute(select(LedgerAccount.code, LedgerAccount.id)
                               .where(LedgerAccount.code.in_(wanted))).tuples().all())

    found = known()
    missing = [code for code in wanted if code not in found]
    if not missing:  # the usual case: one SELECT
        return found
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    now = clock.now()
    rows = [{"code": code, "kind": accounts.kind_of(code), "balance_fen": 0, "created_at": now,
             "may_go_negative": accounts.kind_of(code) in accounts.MAY_GO_NEGATIVE}
            for code in missing]
    db.execute(dialect.insert(LedgerAccount).on_conflict_do_nothing(index_elements=["code"]),
               rows)
    return known()


def post(db: Session, *, kind: str, reference: str, legs: Mapping[str, int],
         idempotency_key: str | None = None, memo: str = "",
         reverses: JournalEntry | None = None) -> JournalEntry:
    """Write one balanced entry, or refuse it whole (InsufficientFunds) and change nothing.

    With an `idempotency_key`, a repeat of the same entry returns the first one and a different
    entry under the same key is refused (IdempotencyMismatch)."""
    wanted = _legs(legs)
    if idempotency_key and (done := _replay(db, idempotency_key, wanted, kind, reference)):
        return done
    ids = ensure_accounts(db, (leg.account for leg in wanted))
    try:
        with db.begin_nested():
            now = clock.now()
            entry = JournalEntry(kind=kind, reference=reference, idempotency_key=idempotency_key,
                                 memo=memo[:200], reverses_id=reverses.id if reverses else None,
                                 postings=[Posting(account_id=ids[leg.account],
                                                   amount_fen=leg.amount_fen, created_at=now)
                                           for leg in wanted])
            db.add(entry)
            db.flush()  # the entry and its postings first: no row is locked yet
            order = sorted(wanted, key=lambda leg: (
                LOCK_ORDER[accounts.kind_of(leg.account)], ids[leg.account]))
            for leg in order:
                _move(db, ids[leg.account], leg)
        # the UPDATEs bypassed the session: an account object it already holds is stale now
        for leg in wanted:
            held = db.identity_map.get(identity_key(LedgerAccount, ids[leg.account]))
            if held is not None:
                db.expire(held, ["balance_fen"])
    except IntegrityError:
        # Another transaction wrote the same idempotency key first (it has committed now).
        if idempotency_key and (done := _replay(db, idempotency_key, wanted, kind, reference)):
            return done
        raise
    return entry


def _move(db: Session, account_id: int, leg: Leg) -> None:
    moved = db.execute(
        update(LedgerAccount)
        .where(LedgerAccount.id == account_id)
        .where(LedgerAccount.may_go_negative
               | (LedgerAccount.balance_fen + leg.amount_fen >= 0))
        .values(balance_fen=LedgerAccount.balance_fen + leg.amount_fen)
        .execution_options(synchronize_session=False)
    )
    if not rows_changed(moved):
        raise InsufficientFunds("Not enough money in the account.", account=leg.account)


def reverse(db: Session, entry: JournalEntry, *, kind: str | None = None,
            idempotency_key: str | None = None, memo: str = "") -> JournalEntry:
    """The entry that undoes `entry` (the original stays, as every entry does)."""
    legs = {p.account.code: -p.amount_fen for p in entry.postings}
    return post(db, kind=kind or f"reversal:{entry.kind}"[:32], reference=entry.reference,
                legs=legs, idempotency_key=idempotency_key, memo=memo or entry.public_id,
                reverses=entry)


def balance(db: Session, code: str) -> int:
    """An account's balance in fen (0 for an account never used)."""
    return balances(db, [code]).get(code, 0)


def balances(db: Session, codes: Iterable[str]) -> dict[str, int]:
    wanted = list(set(codes))
    found = db.execute(select(LedgerAccount.code, LedgerAccount.balance_fen)
                       .where(LedgerAccount.code.in_(wanted)))
    return {code: 0 for code in wanted} | {code: amount for code, amount in found}


def entries_for(db: Session, reference: str) -> list[JournalEntry]:
    """Every entry about one reference (a trade number, …), oldest first."""
    return list(db.scalars(select(JournalEntry).where(JournalEntry.reference == reference)
                           .order_by(JournalEntry.id)))


def posted_sum(db: Session, code: str) -> int:
    """The sum of an account's postings (what `balance` must equal)."""
    return int(db.scalar(select(func.coalesce(func.sum(Posting.amount_fen), 0))
                         .join(LedgerAccount).where(LedgerAccount.code == code)) or 0)
