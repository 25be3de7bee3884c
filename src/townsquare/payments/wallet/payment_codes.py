"""The payment code (付款码): what a resident shows at a shop's till, scanned by the merchant
(`alipay.trade.pay`, `scene=bar_code`, `auth_code`).

A code has Alipay's shape, 18 digits beginning with "28", so tills and SDKs that check the
format take it: "28", ten random digits, and six digits of an HMAC over them keyed from the
server secret (a forged or mistyped code is refused without a database read). Each issued code
is stored only as a keyed digest with its resident, expiry and use: it works once, for
`payment_code_ttl_seconds`; the wallet page shows a fresh one every minute. A code pays from the
wallet balance."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.core.database import rows_changed
from townsquare.core.errors import ValidationFailed
from townsquare.core.security import derive_key, keyed_digest
from townsquare.core.settings import Settings
from townsquare.payments.ledger import accounts
from townsquare.payments.wallet.models import PaymentCode

PREFIX = "28"
LENGTH = 18
REFRESH_SECONDS = 60
WALLET_CHANNEL = "ALIPAYACCOUNT"  # Alipay's fund_channel for the balance
KEEP_USED = timedelta(days=1)  # how long an expired code's row is kept (which trade used it)


class CodeInvalid(ValidationFailed):
    code = "auth_code_invalid"


@dataclass(frozen=True)
class IssuedCode:
    code: str
    expires_at: datetime
    refresh_in: int  # seconds until the page should fetch a fresh one


class Payer(NamedTuple):
    user: User
    source: str  # the ledger account the payment comes from
    fund_channel: str


def _mac(secret: bytes, body: str) -> str:
    digest = hmac.new(derive_key(secret, "payment-code"), body.encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10**6:06d}"


def well_formed(secret: bytes, code: str) -> bool:
    """The shape and the MAC (pure): no database read for a forged or mistyped code."""
    if len(code) != LENGTH or not code.isascii() or not code.isdigit():
        return False
    return code.startswith(PREFIX) and hmac.compare_digest(code[12:], _mac(secret, code[:12]))


def issue(db: Session, *, settings: Settings, actor: User) -> IssuedCode:
    secret = settings.effective_secret_key
    body = PREFIX + "".join(secrets.choice("0123456789") for _ in range(10))
    code = body + _mac(secret, body)
    now = clock.now()
    expires = now + timedelta(seconds=settings.payment_code_ttl_seconds)
    # the page issues one a minute while it is open: forget this resident's day-old codes
    db.execute(delete(PaymentCode).where(PaymentCode.user_id == actor.id,
                                         PaymentCode.expires_at < now - KEEP_USED))
    db.add(PaymentCode(user_id=actor.id, code_digest=keyed_digest(secret, "payment-code", code),
                       issued_at=now, expires_at=expires))
    db.flush()
    return IssuedCode(code, expires, min(REFRESH_SECONDS, settings.payment_code_ttl_seconds))


def resolve(db: Session, *, settings: Settings, auth_code: str,
            trade_no: str | None = None) -> Payer:
    """Who the code belongs to and what it pays from; the code is used up (in this
    transaction: if the payment is then refused and rolled back, the code works again).
    CodeInvalid for a malformed, forged, unknown, expired or used code."""
    secret = settings.effective_secret_key
    code = (auth_code or "").strip()
    if not well_formed(secret, code):
        raise CodeInvalid("The payment code is not valid.")
    digest = keyed_digest(secret, "payment-code", code)
    row = db.scalar(select(PaymentCode).where(PaymentCode.code_digest == digest))
    now = clock.now()
    if row is None or now > row.expires_at:
        raise CodeInvalid("The payment code has expired; ask for a fresh one.")
    used = db.execute(update(PaymentCode).where(PaymentCode.id == row.id,
                                                PaymentCode.used_at.is_(None))
                      .values(used_at=now, trade_no=trade_no)
                      .execution_options(synchronize_session=False))
    if not rows_changed(used):
        raise CodeInvalid("The payment code was already used.")
    user = db.get(User, row.user_id)
    assert user is not None  # the code's row goes with its user (ON DELETE CASCADE)
    return Payer(user, accounts.wallet(user.id), WALLET_CHANNEL)
