"""Click tracking: every served item links through a signed, expiring click token.

The token is a Fernet token (AES-128-CBC + HMAC-SHA256, key derived from the app secret with
HKDF, purpose "click-token"): authenticated, so nobody can forge a click for another mini-app or
a higher price, and opaque, so the internal bid id inside does not leak. It carries the mini-app,
surface, slot reason, promise public id, bid id and price, city, audience and (Fernet's own)
issued-at; it expires after `TOKEN_SECONDS`.

`follow` records the CLICK event once per token (its event id is the token's digest) and charges
a sponsored click at most once per token (`bids.charge_click` is keyed by the same digest).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.core.errors import ValidationFailed
from townsquare.core.security import derive_key
from townsquare.core.settings import Settings
from townsquare.events.intake import storage_key
from townsquare.events.models import BehaviourEvent, EventType
from townsquare.merchants.models import Category
from townsquare.miniapps import launch
from townsquare.miniapps.models import MiniApp
from townsquare.traffic import bids
from townsquare.traffic.models import SlotReason

TOKEN_SECONDS = 86_400
TOKEN_MAX = 512  # a real token is under 300 characters
PREFIX = "/go/"


@dataclass(frozen=True)
class Click:
    """What a verified click token says."""

    miniapp: str  # public id
    surface: str
    reason: SlotReason
    promise: str | None
    bid_id: int | None
    price_fen: int | None
    city: str
    audience: str
    issued_at: datetime
    digest: str  # SHA-256 of the token: the click's identity


@lru_cache(maxsize=8)
def _fernet(secret: bytes) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(derive_key(secret, "click-token")))


def issue(
    *, settings: Settings, miniapp: str, surface: str, reason: SlotReason | str,
    promise: str | None, bid_id: int | None, price_fen: int | None, city: str, audience: str,
    now: datetime | None = None,
) -> str:
    """A signed click token for one served item."""
    payload = [miniapp, surface, str(reason), promise or "", bid_id or 0, price_fen or 0, city,
               audience]
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    moment = int((now or clock.now()).timestamp())
    return _fernet(settings.effective_secret_key).encrypt_at_time(data, moment).decode()


def click_url(**fields: Any) -> str:
    """The URL a served item links to: `/go/<token>`."""
    return PREFIX + issue(**fields)


def verify(*, settings: Settings, token: str, now: datetime | None = None) -> Click:
    """The click a token describes; ValidationFailed if forged, malformed or expired."""
    if not isinstance(token, str) or not 1 <= len(token) <= TOKEN_MAX:
        raise ValidationFailed("This link is invalid or has expired.")
    fernet = _fernet(settings.effective_secret_key)
    moment = int((now or clock.now()).timestamp())
    try:
        # One click, one spelling: base64 decoding tolerates extra padding and stray characters,
        # and a second spelling of the same token would have a second digest (a second charge).
        if base64.urlsafe_b64encode(base64.urlsafe_b64decode(token)).decode() != token:
            raise ValueError("not the canonical spelling")
        data = fernet.decrypt_at_time(token.encode("ascii"), TOKEN_SECONDS, moment)
        issued = fernet.extract_timestamp(token.encode("ascii"))
        ma, surface, reason, promise, bid_id, price, city, audience = json.loads(data)
        click = Click(ma, surface, SlotReason(reason), promise or None, bid_id or None,
                      price if bid_id else None, city, audience,
                      datetime.fromtimestamp(issued, tz=UTC),
                      hashlib.sha256(token.encode("ascii")).hexdigest())
    except (InvalidToken, UnicodeError, ValueError, TypeError, binascii.Error):
        raise ValidationFailed("This link is invalid or has expired.") from None
    return click


def follow(
    db: Session, *, settings: Settings, token: str, user: User | None, now: datetime | None = None
) -> tuple[Click, bool]:
    """Verify a click token, record its CLICK event once and charge a sponsored click once.

    Returns the click and whether it was new (a replayed token records and charges nothing).
    """
    now = now or clock.now()
    click = verify(settings=settings, token=token, now=now)
    row = db.execute(
        select(MiniApp.id, MiniApp.merchant_id, Category.code)
        .join(Category, Category.id == MiniApp.category_id)
        .where(MiniApp.public_id == click.miniapp)
    ).one_or_none()
    if row is None:
        raise ValidationFailed("This link is invalid or has expired.")
    sub = ""
    if user is not None:
        sub = launch.pseudonymous_id(settings.effective_secret_key, user.public_id, click.miniapp)
    event = {
        "event_id": storage_key(click.miniapp, f"click:{click.digest}"),
        "type": EventType.CLICK, "occurred_at": now, "received_at": now,
        "miniapp_id": row.id, "merchant_id": row.merchant_id, "category_code": row.code,
        "user_sub": sub, "city": click.city[:32], "community": "",
        "surface": click.surface[:32], "slot_reason": click.reason.value,
        "audience": click.audience[:16],
    }
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(BehaviourEvent)
        .values(**event)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(BehaviourEvent.id)
    )
    new = db.scalar(stmt) is not None
    if new and click.bid_id is not None and click.price_fen:
        bids.charge_click(db, bid_id=click.bid_id, token_digest=click.digest,
                          price_fen=click.price_fen, now=now, timezone=settings.timezone)
    return click, new
