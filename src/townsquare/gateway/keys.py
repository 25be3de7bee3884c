"""Keys: the platform's signing key (made once, sealed with the server secret) and each app's
RSA public keys, which rotate with an overlap window and stop being accepted at a set time."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core import audit
from townsquare.core.clock import clock
from townsquare.core.database import advisory_lock
from townsquare.core.errors import ValidationFailed
from townsquare.core.security import derive_key
from townsquare.gateway.models import AppKey, GatewayApp, PlatformKey
from townsquare.gateway.protocol import signing

ROTATION_OVERLAP = timedelta(days=7)  # the old key keeps working this long after a new one
_SEAL_PURPOSE = "gateway platform key"
_cache: dict[tuple[bytes, str], rsa.RSAPrivateKey] = {}


def _seal(secret: bytes, key: rsa.RSAPrivateKey) -> bytes:
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    nonce = os.urandom(12)
    return nonce + AESGCM(derive_key(secret, _SEAL_PURPOSE)).encrypt(nonce, der, None)


def _unseal(secret: bytes, sealed: bytes) -> rsa.RSAPrivateKey:
    der = AESGCM(derive_key(secret, _SEAL_PURPOSE)).decrypt(sealed[:12], sealed[12:], None)
    key = serialization.load_der_private_key(der, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def _current_row(db: Session) -> PlatformKey | None:
    now = clock.now()
    return db.scalar(
        select(PlatformKey)
        .where(or_(PlatformKey.retires_at.is_(None), PlatformKey.retires_at > now))
        .order_by(PlatformKey.created_at.desc(), PlatformKey.id.desc())
        .limit(1)
    )


def ensure_platform_key(db: Session, *, secret: bytes) -> PlatformKey:
    """The platform's current key, made on first use (once, whatever the number of workers)."""
    row = _current_row(db)
    if row is None:
        advisory_lock(db, "gateway-platform-key")
        row = _current_row(db)
    if row is None:
        key = signing.new_private_key()
        public = key.public_key()
        row = PlatformKey(
            fingerprint=signing.fingerprint(public),
            public_key=signing.public_key_text(public),
            sealed_private_key=_seal(secret, key),
        )
        db.add(row)
        db.flush()
    return row


def unsealed(secret: bytes, fingerprint: str, sealed: bytes) -> rsa.RSAPrivateKey:
    """A platform key's private half, unsealed once per process."""
    cached = _cache.get((secret, fingerprint))
    if cached is None:
        cached = _cache[(secret, fingerprint)] = _unseal(secret, sealed)
    return cached


def platform_private_key(db: Session, *, secret: bytes) -> rsa.RSAPrivateKey:
    """The current signing key (made on first use), unsealed once per process."""
    row = ensure_platform_key(db, secret=secret)
    return unsealed(secret, row.fingerprint, row.sealed_private_key)


def platform_public_key(db: Session) -> str:
    row = _current_row(db)
    if row is None:
        raise LookupError("the platform key has not been made yet")
    return row.public_key


def active_keys(db: Session, app: GatewayApp, *, now: datetime | None = None) -> list[AppKey]:
    """The app's keys a signature may be checked against now, newest first."""
    now = now or clock.now()
    return list(
        db.scalars(
            select(AppKey)
            .where(AppKey.app_id == app.id)
            .where(or_(AppKey.retires_at.is_(None), AppKey.retires_at > now))
            .order_by(AppKey.created_at.desc(), AppKey.id.desc())
        )
    )


def add_public_key(
    db: Session, *, actor: User, app: GatewayApp, public_key: str,
    overlap: timedelta = ROTATION_OVERLAP,
) -> AppKey:
    """Upload the app's new public key; its keys until now retire after `overlap`."""
    try:
        loaded = signing.load_public_key(public_key)
    except signing.KeyUnreadable:
        raise ValidationFailed(
            "This is not an RSA public key (paste the PEM or its base64 body)."
        ) from None
    if loaded.key_size < 2048:
        raise ValidationFailed("The key is too short: use RSA with 2048 bits or more.")
    print_ = signing.fingerprint(loaded)
    now = clock.now()
    for old in active_keys(db, app, now=now):
        if old.fingerprint == print_:
            raise ValidationFailed("This key is already the app's key.")
        if old.retires_at is None or old.retires_at > now + overlap:
            old.retires_at = now + overlap
    row = AppKey(app_id=app.id, public_key=signing.public_key_text(loaded), fingerprint=print_)
    db.add(row)
    audit.record(
        db, actor_id=actor.id, action="gateway.key.add", subject_type="gateway_app",
        subject_id=app.app_id, fingerprint=print_, overlap_seconds=int(overlap.total_seconds()),
    )
    db.flush()
    return row


def generate_key_pair(
    db: Session, *, actor: User, app: GatewayApp, overlap: timedelta = ROTATION_OVERLAP
) -> str:
    """Make a key pair for the app, keep the public half and hand back the private half once
    (PKCS#1 base64, as the official SDK's `app_private_key` takes it); it is not kept."""
    key = signing.new_private_key()
    add_public_key(
        db, actor=actor, app=app, public_key=signing.public_key_text(key.public_key()),
        overlap=overlap,
    )
    return signing.private_key_pkcs1(key)


def retire_key(db: Session, *, actor: User, app: GatewayApp, fingerprint: str,
               at: datetime | None = None) -> AppKey:
    """Stop accepting one of the app's keys at `at` (now by default)."""
    row = db.scalar(
        select(AppKey).where(AppKey.app_id == app.id, AppKey.fingerprint == fingerprint)
    )
    if row is None:
        raise ValidationFailed("The app has no key with this fingerprint.")
    row.retires_at = at or clock.now()
    audit.record(
        db, actor_id=actor.id, action="gateway.key.retire", subject_type="gateway_app",
        subject_id=app.app_id, fingerprint=fingerprint, at=row.retires_at.isoformat(),
    )
    db.flush()
    return row
