"""The resident's delivery code: six digits derived from the delivery id with the platform's
secret (so the resident's page can show it again without it being stored), checked against a
keyed digest at the door."""

from __future__ import annotations

import hmac

from townsquare.core.security import keyed_digest, sign_hmac

PURPOSE = "delivery.dropoff-code"


def dropoff_code(secret: bytes, delivery_id: str) -> str:
    mac = sign_hmac(secret, PURPOSE, delivery_id.encode())
    return f"{int.from_bytes(mac.encode(), 'big') % 1_000_000:06d}"


def digest(secret: bytes, delivery_id: str, code: str) -> str:
    return keyed_digest(secret, PURPOSE + ".digest", f"{delivery_id}:{code}")


def matches(secret: bytes, delivery_id: str, stored: str, code: str) -> bool:
    code = "".join(ch for ch in code if ch.isdigit())
    return hmac.compare_digest(digest(secret, delivery_id, code), stored)
