"""The console's "debug a signature" tool: a developer pastes a request as their client sent it
(a URL with its query, a form body, or both; optionally the sign) and sees what the gateway
sees: the merged parameters, its exact string-to-sign, each of the app's keys it tries, and
why the signature fails. It reads the request with the gateway's own code (protocol/params.py,
protocol/signing.py), so what it says is what `/gateway.do` would do.

When the signature fails, the usual mistakes are tried one by one (the other hash, `sign_type`
left out, URL-encoded values, empty values kept) so the page can say which one was made. With a
private key pasted it also signs the string, which shows whether that key belongs to the app.
Nothing pasted is stored or logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote, urlsplit

from sqlalchemy.orm import Session

from townsquare.core.i18n import N_
from townsquare.gateway import keys
from townsquare.gateway.dispatch import TIMESTAMP_WINDOW
from townsquare.gateway.models import AppKey, GatewayApp
from townsquare.gateway.protocol import signing
from townsquare.gateway.protocol.errors import GatewayFailure
from townsquare.gateway.protocol.params import decode_form, merge, read_call

MAX_INPUT = 256 * 1024


@dataclass(frozen=True)
class Tried:
    """One of the app's keys, and whether the signature verifies with it."""

    fingerprint: str
    retires_at: datetime | None
    verified: bool


@dataclass
class Diagnosis:
    params: list[tuple[str, str]] = field(default_factory=list)
    string_to_sign: str = ""
    sign: str = ""
    sign_type: str = ""
    tried: list[Tried] = field(default_factory=list)
    verified: bool | None = None  # None: nothing to verify (no sign, no key)
    # the gateway's refusals of the common parameters: (code, sub_code, sub_msg)
    refusals: list[tuple[str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # English msgids: why, in the user's words
    produced_sign: str = ""  # signed here with the pasted private key
    private_fingerprint: str = ""  # of that key's public half
    private_matches: bool | None = None  # is it the pair of one of the app's keys?


def _query(url: str) -> bytes:
    """The query string of a pasted URL (or the text itself when it is only a query)."""
    text = url.strip()
    if "?" in text or text.lower().startswith(("http://", "https://", "/")):
        return urlsplit(text).query.encode()
    return text.encode()


# The usual ways a client's string-to-sign differs from the gateway's, and what to tell them.
def _variants(params: Mapping[str, str]) -> list[tuple[str, str]]:
    no_type = signing.string_to_sign(params, exclude=("sign", "sign_type"))
    encoded = "&".join(f"{k}={quote(v, safe='')}" for k, v in sorted(params.items())
                       if k != "sign" and v != "")
    with_empty = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "sign")
    return [
        (N_("You left sign_type out of the string you signed: the gateway signs over every "
            "parameter but sign (only notifications leave sign_type out)."), no_type),
        (N_("You signed the URL-encoded values: sign the values before encoding them."),
         encoded),
        (N_("You kept empty parameters in the string you signed: the gateway leaves out "
            "parameters whose value is empty."), with_empty),
    ]


def _verifies(candidates: list[AppKey], text: str, sign: str, sign_type: str) -> bool:
    return any(signing.verify(signing.load_public_key(k.public_key), text, sign, sign_type)
               for k in candidates)


def _explain(found: Diagnosis, params: Mapping[str, str], candidates: list[AppKey]) -> None:
    """Why a signature that does not verify fails, when it is one of the usual mistakes."""
    other = "RSA" if found.sign_type == "RSA2" else "RSA2"
    if _verifies(candidates, found.string_to_sign, found.sign, other):
        found.notes.append(N_("The string is right but the hash is not: the request says "
                              "sign_type={sign_type}, and it was signed with the other one "
                              "(RSA2 = SHA256withRSA, RSA = SHA1withRSA)."))
        return
    for note, text in _variants(params):
        if text != found.string_to_sign and _verifies(candidates, text, found.sign,
                                                      found.sign_type):
            found.notes.append(note)
            return
    if found.private_matches is False:
        found.notes.append(N_("The private key you pasted is not the pair of any of the app's "
                              "public keys: upload its public key, or sign with the right key."))
    else:
        found.notes.append(N_("The signature matches none of the app's keys over this string: "
                              "check that the client signs exactly the string shown (same "
                              "values, same biz_content bytes) with the private key of one of "
                              "these keys."))


def _sign_with(found: Diagnosis, private_key: str, candidates: list[AppKey]) -> None:
    try:
        key = signing.load_private_key(private_key)
    except signing.KeyUnreadable:
        found.notes.append(N_("The pasted private key cannot be read (PKCS#1 or PKCS#8, PEM or "
                              "its base64 body)."))
        return
    found.private_fingerprint = signing.fingerprint(key.public_key())
    found.private_matches = any(k.fingerprint == found.private_fingerprint for k in candidates)
    found.produced_sign = signing.sign(key, found.string_to_sign, found.sign_type)


def diagnose(
    db: Session, *, app: GatewayApp, url: str = "", body: str = "", sign: str = "",
    private_key: str = "", zone: str, now: datetime,
) -> Diagnosis:
    """What the gateway makes of the pasted request, for this app."""
    found = Diagnosis()
    if len(url) + len(body) > MAX_INPUT:
        found.notes.append(N_("The request is too long to debug here."))
        return found
    try:
        params = merge(decode_form(_query(url)), decode_form(body.strip().encode()))
    except GatewayFailure as failure:
        found.refusals.append((failure.code, failure.sub_code, failure.sub_msg))
        return found
    if sign.strip():
        params["sign"] = sign.strip()
    found.params = sorted(params.items())
    found.sign = params.get("sign", "")
    found.sign_type = params.get("sign_type", "") or "RSA2"
    found.string_to_sign = signing.string_to_sign(params)
    if not params:
        return found
    if params.get("app_id") and params["app_id"] != app.app_id:
        found.notes.append(N_("The request's app_id is not this app's: the gateway checks it "
                              "against that app's keys, not these."))
    if found.sign_type not in signing.SIGN_TYPES:
        found.notes.append(N_("sign_type must be RSA2 or RSA."))
        return found
    candidates = keys.active_keys(db, app)
    if not candidates:
        found.notes.append(N_("The app has no public key yet: every call is refused until "
                              "you add one."))
    if private_key.strip():
        _sign_with(found, private_key, candidates)
        if not found.sign:
            found.sign = found.produced_sign
    try:  # the common parameters, as the gateway checks them before the signature
        read_call({**params, "sign": found.sign}, zone=zone, now=now, window=TIMESTAMP_WINDOW)
    except GatewayFailure as failure:
        found.refusals.append((failure.code, failure.sub_code, failure.sub_msg))
    found.tried = [
        Tried(k.fingerprint, k.retires_at,
              bool(found.sign) and signing.verify(signing.load_public_key(k.public_key),
                                                  found.string_to_sign, found.sign,
                                                  found.sign_type))
        for k in candidates
    ]
    if found.sign and candidates:
        found.verified = any(t.verified for t in found.tried)
        if not found.verified:
            _explain(found, params, candidates)
    return found
