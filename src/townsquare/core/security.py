"""Secrets handling: password hashing, opaque tokens, keyed PII digests and signing keys.

Every key is derived from the one configured secret with HKDF, so several app processes that
share `TOWNSQUARE_SECRET_KEY` agree on every key without storing private keys anywhere.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_hasher = PasswordHasher()
# Hashed on the first login of an unknown user, not at import: a full-cost argon2 hash took a
# third of a second of every worker's start-up (`townsquare serve --workers N`).
_DUMMY_HASH: str | None = None


def use_cheap_password_hashing() -> None:
    """For test suites only: argon2 with minimal cost (the real cost dominates test time)."""
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    _DUMMY_HASH = None


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = _hasher.hash("timing-equaliser")
    return _DUMMY_HASH


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the account exists (no user enumeration by timing)."""
    try:
        checked = _hasher.verify(password_hash or _dummy_hash(), password)
        return checked and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def token_digest(token: str) -> str:
    """Tokens are stored only as their SHA-256, so a database leak yields no usable session."""
    return hashlib.sha256(token.encode()).hexdigest()


@lru_cache(maxsize=256)
def derive_key(secret: bytes, purpose: str, length: int = 32) -> bytes:
    """A key for one purpose, derived from the server secret. Memoised (a pure function of a
    handful of purposes): keyed digests ran HKDF on every call, ten per signed-in feed."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=purpose.encode()).derive(
        secret
    )


def keyed_digest(secret: bytes, purpose: str, value: str) -> str:
    """HMAC-SHA256 of personal data (e.g. an ID number): comparable, not reversible."""
    key = derive_key(secret, f"digest:{purpose}")
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def sign_hmac(secret: bytes, purpose: str, payload: bytes) -> str:
    key = derive_key(secret, f"hmac:{purpose}")
    return b64url(hmac.new(key, payload, hashlib.sha256).digest())


@lru_cache(maxsize=64)
def ed25519_key(secret: bytes, purpose: str, kid: str) -> Ed25519PrivateKey:
    """The Ed25519 key for (purpose, key id): rotating means moving to a new kid."""
    return Ed25519PrivateKey.from_private_bytes(derive_key(secret, f"ed25519:{purpose}:{kid}"))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mask(value: str, keep_start: int, keep_end: int) -> str:
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[-keep_end:]
