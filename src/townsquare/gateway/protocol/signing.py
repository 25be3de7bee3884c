"""Alipay's RSA signatures: the string-to-sign, RSA2 (SHA256withRSA) and RSA (SHA1withRSA), PKCS#1
v1.5, base64; keys as PEM or as the bare base64 bodies the Alipay consoles hand out."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Mapping
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

SIGN_TYPES = ("RSA2", "RSA")
_HASHES = {"RSA2": hashes.SHA256, "RSA": hashes.SHA1}


class KeyUnreadable(ValueError):
    """The text is not an RSA key in any form the SDKs produce."""


def string_to_sign(params: Mapping[str, str], exclude: Iterable[str] = ("sign",)) -> str:
    """Every parameter with a value but those excluded, sorted by key, `k=v` joined by `&`,
    unencoded: the values exactly as received (biz_content is never re-serialised)."""
    skipped = set(exclude)
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in skipped and v != "")


def sign(private_key: rsa.RSAPrivateKey, text: str, sign_type: str = "RSA2") -> str:
    signature = private_key.sign(text.encode(), padding.PKCS1v15(), _HASHES[sign_type]())
    return base64.b64encode(signature).decode()


# Answers whose signature is remembered: at most this many, of at most this many characters.
REMEMBERED_SIGNATURES = 1024
REMEMBERED_LENGTH = 4096


@lru_cache(maxsize=REMEMBERED_SIGNATURES)
def _remembered(private_key: rsa.RSAPrivateKey, text: str, sign_type: str) -> str:
    return sign(private_key, text, sign_type)


def sign_repeatable(private_key: rsa.RSAPrivateKey, text: str, sign_type: str = "RSA2") -> str:
    """`sign`, remembering the signatures of the latest short texts. A PKCS#1 v1.5 signature is
    a function of the key and the text alone (no salt, no nonce), so a remembered signature is
    byte for byte what signing again would give; answers that repeat (an ISV polling a trade's
    status until it is paid) then cost no RSA. At most REMEMBERED_SIGNATURES texts of up to
    REMEMBERED_LENGTH characters (about 4 MB); longer ones are signed each time."""
    if len(text) > REMEMBERED_LENGTH:
        return sign(private_key, text, sign_type)
    return _remembered(private_key, text, sign_type)


def verify(public_key: rsa.RSAPublicKey, text: str, signature: str, sign_type: str) -> bool:
    try:
        raw = base64.b64decode(signature.replace(" ", "+"), validate=True)
        public_key.verify(raw, text.encode(), padding.PKCS1v15(), _HASHES[sign_type]())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def _pem_body(text: str) -> bytes:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    body = "".join(ln for ln in lines if not ln.startswith("-----"))
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error:
        raise KeyUnreadable("not base64") from None


@lru_cache(maxsize=4096)  # the gateway checks every call against the app's stored key texts
def load_public_key(text: str) -> rsa.RSAPublicKey:
    """A public key as PEM (SubjectPublicKeyInfo or PKCS#1) or a bare base64 body."""
    try:
        key = serialization.load_der_public_key(_pem_body(text))
    except ValueError:
        raise KeyUnreadable("not an RSA public key") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyUnreadable("not an RSA key")
    return key


def load_private_key(text: str) -> rsa.RSAPrivateKey:
    """A private key as PEM (PKCS#8 or PKCS#1) or a bare base64 body of either."""
    der = _pem_body(text)
    try:
        key = serialization.load_der_private_key(der, password=None)
    except ValueError:
        raise KeyUnreadable("not an RSA private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyUnreadable("not an RSA key")
    return key


def public_key_text(key: rsa.RSAPublicKey) -> str:
    """The bare base64 SubjectPublicKeyInfo, as the Alipay console shows public keys."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def private_key_pkcs1(key: rsa.RSAPrivateKey) -> str:
    """The bare base64 PKCS#1 body the official SDK expects as `app_private_key`."""
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return base64.b64encode(der).decode()


def fingerprint(key: rsa.RSAPublicKey) -> str:
    """SHA-256 of the public key's DER, hex, shortened: names a key in errors and consoles."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()[:16]


def new_private_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)
