"""Click tracking: every served item links through a signed, expiring click token.

The token is AES-256-GCM (an AEAD: encrypted and authenticated in one call, about 2 µs, where the
Fernet token it replaced cost about 20 µs and ten of them made up a tenth of a feed request) under
a key derived from the app secret with HKDF, purpose "click-token-v2", with a random 96-bit nonce
per token: authenticated, so nobody can forge a click for another mini-app or a higher price, and
opaque, so the internal bid id and the price inside do not leak. It carries the mini-app,
surface, slot reason, promise public id, bid id and price, city, audience and its issue time (in
seconds); it expires after `TOKEN_SECONDS`. Spelling: a version byte, the nonce and the sealed
payload in unpadded URL-safe base64; only that canonical spelling is accepted. Fernet tokens
issued before the change are still honoured until they expire (`_LEGACY`).

`follow` records the CLICK event once per token (its event id is the token's digest) and charges
a sponsored click at most once per token (`bids.charge_click` is keyed by the same digest).
Invalid clicks are filtered (docs/security.md): the token names the visitor it was shown to (a
keyed digest of the user, the visitor cookie, or address and agent), and only that visitor,
within EXPOSURE_SECONDS, makes a click that counts; bids.charge_click adds one charge per visitor
per ad per window and a per-address rate limit, and bids.refund_invalid refunds later.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core import entropy
from townsquare.core.clock import clock
from townsquare.core.errors import ValidationFailed
from townsquare.core.security import derive_key
from townsquare.core.settings import Settings
from townsquare.events import rollups
from townsquare.events.intake import storage_key
from townsquare.events.models import BehaviourEvent, EventType
from townsquare.merchants.models import Category
from townsquare.miniapps.models import MiniApp
from townsquare.miniapps.shell import launch
from townsquare.traffic.market import bids
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
    visitor: str = ""  # who it was shown to (keyed digest); "" in tokens from before


VERSION = b"\x02"  # with the visitor; tokens of version 1 (without) are honoured, never charged
_VERSIONS = (b"\x01", VERSION)
EXPOSURE_SECONDS = 1800  # a click is charged only within half an hour of being shown
VISITOR_COOKIE = "ts_vid"
_VISITOR = re.compile(r"^[0-9a-f]{32}$")
_SEP = "\x1f"
_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")
CLOCK_SKEW = 60  # seconds a token may come from the future (another server's clock), as Fernet
_LEGACY = "gAAAAA"  # how every Fernet token begins (its version byte 0x80, then a timestamp)


@lru_cache(maxsize=8)
def _aead(secret: bytes) -> AESGCM:
    return AESGCM(derive_key(secret, "click-token-v2"))


@lru_cache(maxsize=8)
def _fernet(secret: bytes) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(derive_key(secret, "click-token")))


def visitor_id(secret: bytes, *, user_public_id: str | None, cookie: str | None,
               address: str, agent: str) -> str:
    """Who a page or click comes from, as a keyed digest: the user, else the browser's visitor
    cookie, else its address and user agent."""
    if user_public_id:
        basis = "u:" + user_public_id
    elif cookie and _VISITOR.fullmatch(cookie):
        basis = "c:" + cookie
    else:
        basis = f"a:{address}|{agent[:200]}"
    return hmac.new(derive_key(secret, "click-visitor"), basis.encode(), "sha256").hexdigest()[:32]


def is_visitor_cookie(value: str) -> bool:
    return bool(_VISITOR.fullmatch(value))


def client_id(secret: bytes, address: str) -> str:
    """The requesting address as a keyed digest (rate limits, the later refund check)."""
    return hmac.new(derive_key(secret, "click-client"), address.encode(),
                    "sha256").hexdigest()[:32]


def _seal(aead: AESGCM, miniapp: str, surface: str, reason: SlotReason | str,
          promise: str | None, bid_id: int | None, price_fen: int | None, city: str,
          audience: str, moment: int, visitor: str = "") -> str:
    fields = (miniapp, surface, str(reason), promise or "", str(bid_id or 0), str(price_fen or 0),
              city, audience, str(moment), visitor)
    text = _SEP.join(fields)
    if text.count(_SEP) != len(fields) - 1:
        raise ValueError("a click token field holds a unit separator")
    nonce = entropy.random_bytes(12)  # a CSPRNG draw without a system call each
    sealed = aead.encrypt(nonce, text.encode(), VERSION)
    return base64.urlsafe_b64encode(VERSION + nonce + sealed).rstrip(b"=").decode("ascii")


def issue(
    *, settings: Settings, miniapp: str, surface: str, reason: SlotReason | str,
    promise: str | None, bid_id: int | None, price_fen: int | None, city: str, audience: str,
    now: datetime | None = None, visitor: str = "",
) -> str:
    """A signed, encrypted click token for one served item (shown to `visitor`)."""
    return _seal(_aead(settings.effective_secret_key), miniapp, surface, reason, promise, bid_id,
                 price_fen, city, audience, int((now or clock.now()).timestamp()), visitor)


def click_url(**fields: Any) -> str:
    """The URL a served item links to: `/go/<token>`."""
    return PREFIX + issue(**fields)


def url_maker(*, settings: Settings, surface: str, city: str, audience: str,
              now: datetime, visitor: str = "") -> Callable[..., str]:
    """`click_url` for the items of one response: the key (which may live in a file) is read,
    and what the items share is set, once."""
    aead, moment = _aead(settings.effective_secret_key), int(now.timestamp())

    def url(*, miniapp: str, reason: SlotReason | str, promise: str | None, bid_id: int | None,
            price_fen: int | None) -> str:
        return PREFIX + _seal(aead, miniapp, surface, reason, promise, bid_id, price_fen, city,
                              audience, moment, visitor)

    return url


def _open(secret: bytes, token: str) -> list[Any]:
    """The payload fields of a token in the current spelling; ValueError if it is not one."""
    if not _ALPHABET.fullmatch(token) or len(token) % 4 == 1:
        raise ValueError("not URL-safe base64 without padding")
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    # One click, one spelling: unused trailing bits would give a second spelling (and digest).
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != token:
        raise ValueError("not the canonical spelling")
    if raw[:1] not in _VERSIONS or len(raw) < 1 + 12 + 16:
        raise ValueError("not a click token")
    data = _aead(secret).decrypt(raw[1:13], raw[13:], raw[:1])
    parts = data.decode().split(_SEP)
    visitor = parts.pop() if raw[:1] == VERSION else ""
    *fields, issued = parts
    return [*fields, int(issued), visitor]


def _open_legacy(secret: bytes, token: str, moment: int) -> list[Any]:
    """The payload of a Fernet token issued before AES-GCM tokens (honoured until it expires)."""
    if base64.urlsafe_b64encode(base64.urlsafe_b64decode(token)).decode() != token:
        raise ValueError("not the canonical spelling")
    fernet = _fernet(secret)
    data = fernet.decrypt_at_time(token.encode("ascii"), TOKEN_SECONDS, moment)
    return [*json.loads(data), fernet.extract_timestamp(token.encode("ascii")), ""]


def verify(*, settings: Settings, token: str, now: datetime | None = None) -> Click:
    """The click a token describes; ValidationFailed if forged, malformed or expired."""
    if not isinstance(token, str) or not 1 <= len(token) <= TOKEN_MAX:
        raise ValidationFailed("This link is invalid or has expired.")
    secret = settings.effective_secret_key
    moment = int((now or clock.now()).timestamp())
    try:
        if token.startswith(_LEGACY):
            fields = _open_legacy(secret, token, moment)
        else:
            fields = _open(secret, token)
        ma, surface, reason, promise, bid_id, price, city, audience, issued, visitor = fields
        bid_id, price = int(bid_id), int(price)
        if not issued - CLOCK_SKEW <= moment < issued + TOKEN_SECONDS:
            raise ValueError("expired")
        click = Click(ma, surface, SlotReason(reason), promise or None, bid_id or None,
                      price if bid_id else None, city, audience,
                      datetime.fromtimestamp(issued, tz=UTC),
                      hashlib.sha256(token.encode("ascii")).hexdigest(), visitor)
    except (InvalidTag, InvalidToken, UnicodeError, ValueError, TypeError, binascii.Error):
        raise ValidationFailed("This link is invalid or has expired.") from None
    return click


def invalid_reason(click: Click, *, visitor: str, now: datetime) -> str:
    """Why a click may not be charged (or counted as a click): "" when it may. It must come from
    the visitor the item was shown to (the token is that exposure), recently."""
    if not click.visitor or not hmac.compare_digest(click.visitor, visitor):
        return "no_exposure"
    if (now - click.issued_at).total_seconds() > EXPOSURE_SECONDS:
        return "stale_exposure"
    return ""


def follow(
    db: Session, *, settings: Settings, token: str, user: User | None, now: datetime | None = None,
    visitor: str = "", client: str = "",
) -> tuple[Click, bool]:
    """Verify a click token, record its CLICK event once and charge a sponsored click once.

    Only a click by the visitor the item was shown to, soon after, counts as a click (event)
    and may be charged; other clicks still open the mini-app, and a sponsored one is stored as
    filtered. Returns the click and whether it was new (a replay records and charges nothing).
    """
    now = now or clock.now()
    click = verify(settings=settings, token=token, now=now)
    invalid = invalid_reason(click, visitor=visitor, now=now)
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
    new = not invalid and db.scalar(stmt) is not None
    if new:
        rollups.add_rows(db, [(EventType.CLICK, now, row.id, click.reason.value)])
    if click.bid_id is not None and click.price_fen and (new or invalid):
        bids.charge_click(db, bid_id=click.bid_id, token_digest=click.digest,
                          price_fen=click.price_fen, now=now, timezone=settings.timezone,
                          visitor=visitor, client=client, invalid=invalid)
    return click, new
