"""Pass codes: short-lived signed tokens shown as QR codes, checked at the gate. Pure, no database.

A code is `kid.payload.signature` (townsquare.core.signing, Ed25519) with the compact claims
`c` (community public id), `s` (subject: a person `per_…` or a household `hh_…`), `k` (kind:
"p" person, "h" household), `iat` and `exp` (unix seconds). Each community signs with its own
key, derived from the app secret for the purpose `pass:<community>`, so a code of community B
never verifies at community A, and guard devices can verify offline with the published public
keys. Rotating: add a kid to ACCEPTED_KIDS, make it CURRENT_KID, drop the old one once the
codes it signed have expired (CODE_TTL_SECONDS later).
"""

from __future__ import annotations

import enum
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from townsquare.core.security import b64url_decode, ed25519_key
from townsquare.core.signing import (
    TokenInvalid,
    public_key_from_text,
    public_key_text,
    sign_token,
    verify_token,
)

CURRENT_KID = "p1"
ACCEPTED_KIDS: tuple[str, ...] = ("p1",)
CODE_TTL_SECONDS = 120  # a screenshot stops working two minutes after it was taken
REFRESH_SECONDS = 60  # the code page fetches a fresh code well before the old one expires
MAX_TTL_SECONDS = 600  # never honour a longer-lived code, whoever signed it
MAX_CODE_LENGTH = 512  # real codes are ~220 characters; refuse to parse anything larger
# A visitor code (kind "v") lives from its issue to the end of its window: at most this long.
# It never stands for a resident: it names an invitation (`vis_…`), which the server checks
# (revoked? inside the window? the community's visitor rules?) at every scan.
VISITOR_MAX_TTL_SECONDS = 31 * 24 * 3600


class CodeKind(enum.StrEnum):
    PERSON = "p"
    HOUSEHOLD = "h"
    VISITOR = "v"


class Refusal(enum.StrEnum):
    """Why a code is refused; the gate shows these as reasons."""

    MALFORMED = "malformed"
    FORGED = "forged"
    EXPIRED = "expired"
    WRONG_COMMUNITY = "wrong_community"


class CodeRefused(Exception):
    def __init__(self, reason: Refusal) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True)
class PassClaims:
    """The verified claims of a pass code."""

    community: str
    subject: str
    kind: CodeKind
    iat: int
    exp: int
    kid: str
    nbf: int | None = None  # a visitor code: the start of its window


def purpose(community: str) -> str:
    return f"pass:{community}"


def signing_key(secret: bytes, community: str, kid: str = CURRENT_KID) -> Ed25519PrivateKey:
    return ed25519_key(secret, purpose(community), kid)


def public_keys(
    secret: bytes, community: str, kids: tuple[str, ...] = ACCEPTED_KIDS
) -> dict[str, Ed25519PublicKey]:
    return dict(_public_keys(secret, community, kids))


@functools.lru_cache(maxsize=4096)
def _public_keys(
    secret: bytes, community: str, kids: tuple[str, ...]
) -> tuple[tuple[str, Ed25519PublicKey], ...]:
    # deriving a key pair costs more than checking a signature; the keys never change for a
    # (secret, community, kid), so each gate scan after the first skips it
    return tuple((kid, signing_key(secret, community, kid).public_key()) for kid in kids)


def published_keys(
    secret: bytes, community: str, kids: tuple[str, ...] = ACCEPTED_KIDS
) -> dict[str, str]:
    """The community's key set for guard devices: {kid: raw public key, base64url}."""
    return {kid: public_key_text(key) for kid, key in public_keys(secret, community, kids).items()}


def keys_from_text(published: Mapping[str, str]) -> dict[str, Ed25519PublicKey]:
    return {kid: public_key_from_text(text) for kid, text in published.items()}


def issue(
    secret: bytes,
    *,
    community: str,
    subject: str,
    kind: CodeKind,
    now: float,
    ttl: int = CODE_TTL_SECONDS,
    kid: str = CURRENT_KID,
    nbf: int | None = None,
) -> str:
    """A signed pass code for `subject` of `community`, valid for `ttl` seconds from `now`
    (a visitor code also carries `nbf`, the start of its window)."""
    iat = int(now)
    claims: dict[str, object] = {"c": community, "s": subject, "k": CodeKind(kind).value,
                                 "iat": iat, "exp": iat + int(ttl)}
    if nbf is not None:
        claims["nbf"] = int(nbf)
    return sign_token(signing_key(secret, community, kid), kid, claims)


def issue_visitor(
    secret: bytes, *, community: str, invitation: str, issued: float, starts: float, ends: float
) -> str:
    """The signed code of a visitor invitation: valid from `starts` (nbf) to `ends` (exp)."""
    return issue(secret, community=community, subject=invitation, kind=CodeKind.VISITOR,
                 now=issued, ttl=int(ends) - int(issued), nbf=int(starts))


def peek_community(token: str) -> str | None:
    """The community a code claims to belong to, WITHOUT checking it (to word a refusal)."""
    try:
        claims = json.loads(b64url_decode(token.split(".")[1]))
        return claims.get("c") if isinstance(claims, dict) else None
    except (ValueError, IndexError, UnicodeDecodeError):
        return None


def expired_visitor(
    token: str, keys: Mapping[str, Ed25519PublicKey], *, community: str
) -> PassClaims | None:
    """The claims of a genuine visitor code whose window is over (None for anything else), so
    that the gate can say whose visitor came too late instead of "expired code"."""
    try:
        claims = json.loads(b64url_decode(token.split(".")[1]))
        exp = claims.get("exp") if isinstance(claims, dict) else None
        if claims.get("k") != CodeKind.VISITOR.value or not isinstance(exp, int):
            return None
        return verify(token, keys, community=community, now=exp)
    except (ValueError, IndexError, UnicodeDecodeError, AttributeError, CodeRefused):
        return None


def verify(
    token: str, keys: Mapping[str, Ed25519PublicKey], *, community: str, now: float
) -> PassClaims:
    """The claims of a genuine, unexpired code of `community`; else CodeRefused with the reason."""
    token = (token or "").strip()
    if not token or len(token) > MAX_CODE_LENGTH or token.count(".") != 2:
        raise CodeRefused(Refusal.MALFORMED)
    claimed = peek_community(token)
    if claimed is not None and claimed != community:
        raise CodeRefused(Refusal.WRONG_COMMUNITY)
    try:
        # freshness is judged below from `exp`; verify_token only rejects far-future `iat`
        claims = verify_token(token, keys, now=now, max_age=float("inf"))
    except TokenInvalid as exc:
        reason = Refusal.EXPIRED if exc.__cause__ is None else Refusal.FORGED
        raise CodeRefused(reason) from exc
    kind, subject, iat, exp = claims.get("k"), claims.get("s"), claims.get("iat"), claims.get("exp")
    nbf = claims.get("nbf")
    if (
        claims.get("c") != community
        or kind not in (CodeKind.PERSON.value, CodeKind.HOUSEHOLD.value, CodeKind.VISITOR.value)
        or not isinstance(subject, str)
        or not isinstance(exp, int)
        or not isinstance(iat, int)
    ):
        raise CodeRefused(Refusal.MALFORMED)
    if kind == CodeKind.VISITOR.value:
        # only a visitor code may live longer than MAX_TTL_SECONDS, and only one that names an
        # invitation and the start of its window; the window itself is judged by the decision
        if not isinstance(nbf, int) or not subject.startswith("vis_") or not iat <= nbf < exp:
            raise CodeRefused(Refusal.MALFORMED)
        if exp - iat > VISITOR_MAX_TTL_SECONDS or now > exp:
            raise CodeRefused(Refusal.EXPIRED)
    elif exp - iat > MAX_TTL_SECONDS or now > exp:
        raise CodeRefused(Refusal.EXPIRED)
    return PassClaims(
        community=community,
        subject=subject,
        kind=CodeKind(kind),
        iat=iat,
        exp=exp,
        kid=token.split(".", 1)[0],
        nbf=nbf if kind == CodeKind.VISITOR.value else None,
    )
