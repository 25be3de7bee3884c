"""The resident's delivery code: six digits derived from the delivery id with the platform's
secret, so the resident's page can show it again and the rider page can check it without the
code being stored anywhere (the delivery keeps only a keyed digest, as a record)."""

from __future__ import annotations

import hmac

from townsquare.core.security import keyed_digest, sign_hmac

PURPOSE = "delivery.dropoff-code"


def dropoff_code(secret: bytes, delivery_id: str) -> str:
    mac = sign_hmac(secret, PURPOSE, delivery_id.encode())
    return f"{int.from_bytes(mac.encode(), 'big') % 1_000_000:06d}"


def digest(secret: bytes, delivery_id: str, code: str) -> str:
    return keyed_digest(secret, PURPOSE + ".digest", f"{delivery_id}:{code}")


def matches(secret: bytes, delivery_id: str, code: str) -> bool:
    """`code` (spaces and other non-digits ignored) is this delivery's code."""
    code = "".join(ch for ch in code if ch.isdigit())
    return hmac.compare_digest(code.encode(), dropoff_code(secret, delivery_id).encode())
