"""Launch contexts: the signed token the shell hands a mini-app when a resident opens it.

Pure logic, no database: a mini-app backend (or our own /run pages, which verify exactly like an
outside backend) needs only the published public keys, the mini-app's own public id and a clock.

A token is `kid.payload.signature` (townsquare.core.signing) with the claims
`app` (mini-app public id), `sub` (pseudonymous user id for that mini-app), `iat` (unix time),
`nonce` and `locale`. Rotating the key means adding a kid to ACCEPTED_KIDS, switching
CURRENT_KID to it, and dropping the old kid once its tokens have expired.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from townsquare.core.security import ed25519_key, keyed_digest
from townsquare.core.signing import (
    TokenInvalid,
    public_key_from_text,
    public_key_text,
    sign_token,
    verify_token,
)

PURPOSE = "launch"
CURRENT_KID = "launch-1"
ACCEPTED_KIDS: tuple[str, ...] = ("launch-1",)
SUB_PREFIX = "ou_"
SUB_LENGTH = 32  # hex characters of the keyed digest: 128 bits, ample against collisions
MAX_TOKEN_LENGTH = 2048  # real tokens are ~300 characters; refuse to parse anything huge

__all__ = [
    "ACCEPTED_KIDS", "CURRENT_KID", "LaunchContext", "TokenInvalid", "issue", "keys_from_text",
    "pseudonymous_id", "public_keys", "published_keys", "signing_key", "verify",
]


@dataclass(frozen=True)
class LaunchContext:
    """The verified claims of a launch token."""

    app: str
    sub: str
    iat: int
    nonce: str
    locale: str


def signing_key(secret: bytes, kid: str = CURRENT_KID) -> Ed25519PrivateKey:
    return ed25519_key(secret, PURPOSE, kid)


def public_keys(
    secret: bytes, kids: tuple[str, ...] = ACCEPTED_KIDS
) -> dict[str, Ed25519PublicKey]:
    return {kid: signing_key(secret, kid).public_key() for kid in kids}


def published_keys(secret: bytes, kids: tuple[str, ...] = ACCEPTED_KIDS) -> dict[str, str]:
    """What GET /api/launch/keys publishes: {kid: raw public key, base64url}."""
    return {kid: public_key_text(key) for kid, key in public_keys(secret, kids).items()}


def keys_from_text(published: Mapping[str, str]) -> dict[str, Ed25519PublicKey]:
    """The verifier's side: turn the published key set back into usable public keys."""
    return {kid: public_key_from_text(text) for kid, text in published.items()}


def pseudonymous_id(secret: bytes, user_public_id: str, app_public_id: str) -> str:
    """A per-mini-app user id: stable for the same pair, unrelated across mini-apps, one-way."""
    digest = keyed_digest(secret, "launch-sub", f"{user_public_id}\x1f{app_public_id}")
    return SUB_PREFIX + digest[:SUB_LENGTH]


def issue(
    secret: bytes,
    *,
    app: str,
    sub: str,
    locale: str,
    now: float,
    kid: str = CURRENT_KID,
    nonce: str | None = None,
) -> str:
    """A signed launch token for `sub` opening mini-app `app` at unix time `now`."""
    claims: dict[str, Any] = {
        "app": app,
        "sub": sub,
        "iat": int(now),
        "nonce": nonce or secrets.token_urlsafe(12),
        "locale": locale,
    }
    return sign_token(signing_key(secret, kid), kid, claims)


def verify(
    token: str,
    keys: Mapping[str, Ed25519PublicKey],
    *,
    app: str,
    now: float,
    max_age: float,
) -> LaunchContext:
    """The claims of a genuine, fresh token issued for mini-app `app`; else TokenInvalid."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise TokenInvalid("bad token")
    claims = verify_token(token, keys, now=now, max_age=max_age)
    if claims.get("app") != app:
        raise TokenInvalid("token for another mini-app")
    sub, nonce, locale = claims.get("sub"), claims.get("nonce"), claims.get("locale")
    if not (isinstance(sub, str) and sub.startswith(SUB_PREFIX)):
        raise TokenInvalid("bad subject")
    if not isinstance(nonce, str) or not isinstance(locale, str):
        raise TokenInvalid("bad claims")
    return LaunchContext(app=app, sub=sub, iat=int(claims["iat"]), nonce=nonce, locale=locale)
