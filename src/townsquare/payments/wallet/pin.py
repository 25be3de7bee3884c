"""The 6-digit payment PIN: hashed with argon2 like passwords, set and changed only with the
login password, locked for a while after too many wrong tries.

A wrong PIN is written as a `PinFailure` row with `keep_on_rollback`, so it counts although the
payment it was for is refused and rolled back. The lock is derived from those rows (`lock_state`,
pure): the count starts again after a correct PIN, a new PIN, or the end of a lock."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.core.database import keep_on_rollback
from townsquare.core.errors import Conflict, PermissionDenied, RateLimited, ValidationFailed
from townsquare.core.security import hash_password, verify_password
from townsquare.core.settings import Settings
from townsquare.payments.wallet.models import PaymentPin, PinFailure


class PinRequired(Conflict):
    code = "pin_not_set"


class PinWrong(PermissionDenied):
    code = "pin_wrong"


class PinLocked(RateLimited):
    code = "pin_locked"


@dataclass(frozen=True)
class LockState:
    failures: int  # wrong tries counted now
    locked_until: datetime | None

    def left(self, limit: int) -> int:
        return max(0, limit - self.failures)


def lock_state(failures: Sequence[datetime], *, limit: int, lock: timedelta,
               now: datetime) -> LockState:
    """From the wrong tries since the count began (oldest first): how many count, and until
    when the PIN is locked. Reaching `limit` locks for `lock`; after it the count restarts."""
    count, until = 0, None
    for at in failures:
        if until is not None and at >= until:
            count, until = 0, None
        count += 1
        if count >= limit:
            until = at + lock
    if until is not None and now >= until:
        return LockState(0, None)
    return LockState(count, until)


def valid_pin(pin: str) -> str:
    """Six digits, not one digit repeated nor a straight run (123456, 654321)."""
    pin = (pin or "").strip()
    if len(pin) != 6 or not pin.isascii() or not pin.isdigit():
        raise ValidationFailed("The payment PIN is six digits.", field="pin")
    steps = {int(b) - int(a) for a, b in zip(pin, pin[1:], strict=False)}
    if steps in ({0}, {1}, {-1}):
        raise ValidationFailed("This PIN is too easy to guess; choose another.", field="pin")
    return pin


def has_pin(db: Session, *, user: User) -> bool:
    return db.get(PaymentPin, user.id) is not None


def set_pin(db: Session, *, actor: User, password: str, pin: str) -> PaymentPin:
    """Set or change the PIN; the login password proves it is the resident."""
    if not verify_password(actor.password_hash, password):
        raise PermissionDenied("The login password is wrong.", code="password_wrong",
                               field="password")
    pin = valid_pin(pin)
    now = clock.now()
    row = db.get(PaymentPin, actor.id)
    if row is None:
        row = PaymentPin(user_id=actor.id, pin_hash="", set_at=now)
        db.add(row)
    row.pin_hash, row.set_at = hash_password(pin), now
    row.counted_after_id = _last_failure_id(db, actor.id)
    db.flush()
    return row


def _last_failure_id(db: Session, user_id: int) -> int:
    return db.scalar(select(func.max(PinFailure.id)).where(PinFailure.user_id == user_id)) or 0


def state(db: Session, *, settings: Settings, user: User) -> LockState:
    row = db.get(PaymentPin, user.id)
    if row is None:
        return LockState(0, None)
    times = db.scalars(select(PinFailure.at).where(PinFailure.user_id == user.id,
                                                   PinFailure.id > row.counted_after_id)
                       .order_by(PinFailure.at, PinFailure.id))
    return lock_state(list(times), limit=settings.payment_pin_max_failures,
                      lock=timedelta(minutes=settings.payment_pin_lock_minutes),
                      now=clock.now())


def verify(db: Session, *, settings: Settings, user: User, pin: str) -> None:
    """Return if `pin` is the user's PIN; else PinLocked / PinWrong (the try is counted) /
    PinRequired."""
    row = db.get(PaymentPin, user.id)
    if row is None:
        raise PinRequired("Set a payment PIN first.")
    now = clock.now()
    current = state(db, settings=settings, user=user)
    if current.locked_until is not None:
        raise _locked(current.locked_until, now)
    if (pin or "").isascii() and verify_password(row.pin_hash, (pin or "").strip()):
        row.counted_after_id = _last_failure_id(db, user.id)
        db.flush()
        return
    user_id = user.id
    keep_on_rollback(db, lambda session: session.add(PinFailure(user_id=user_id, at=now)))
    db.flush()
    left = current.left(settings.payment_pin_max_failures) - 1
    if left <= 0:
        raise _locked(now + timedelta(minutes=settings.payment_pin_lock_minutes), now)
    raise PinWrong("Wrong payment PIN; {left} tries left.", left=left, field="pin")


def _locked(until: datetime, now: datetime) -> PinLocked:
    minutes = max(1, math.ceil((until - now).total_seconds() / 60))
    return PinLocked("Too many wrong PINs; payments are locked. Try again in {minutes} minutes.",
                     minutes=minutes, field="pin")
