"""Compact signed tokens (Ed25519): `kid.payload.signature`, each part base64url.

Used for mini-app launch contexts and, later, community pass codes. Pure logic: verifiers
need only the public keys, so a mini-app backend or an offline guard device can check tokens.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from townsquare.core.security import b64url, b64url_decode


class TokenInvalid(Exception):
    """The token is malformed, signed by an unknown key, altered, or out of date."""


def sign_token(key: Ed25519PrivateKey, kid: str, claims: Mapping[str, Any]) -> str:
    payload = b64url(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    head = f"{kid}.{payload}"
    return f"{head}.{b64url(key.sign(head.encode()))}"


def verify_token(
    token: str, public_keys: Mapping[str, Ed25519PublicKey], *, now: float, max_age: float
) -> dict[str, Any]:
    """Claims of a genuine, fresh token; `iat` must lie within `max_age` seconds of `now`."""
    try:
        kid, payload, signature = token.split(".")
        key = public_keys[kid]
        raw_signature = b64url_decode(signature)
        # base64 decoding ignores stray characters and unused trailing bits: insist on the one
        # canonical spelling so that an altered token never verifies
        if b64url(raw_signature) != signature:
            raise ValueError("non-canonical signature")
        key.verify(raw_signature, f"{kid}.{payload}".encode())
        claims = json.loads(b64url_decode(payload))
    except (ValueError, KeyError, InvalidSignature) as exc:
        raise TokenInvalid("bad token") from exc
    issued = claims.get("iat")
    if not isinstance(issued, (int, float)) or not (now - max_age <= issued <= now + 30):
        raise TokenInvalid("stale token")
    return claims


def public_key_text(key: Ed25519PublicKey) -> str:
    return b64url(key.public_bytes(Encoding.Raw, PublicFormat.Raw))


def public_key_from_text(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(b64url_decode(text))
