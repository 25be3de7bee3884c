"""Signed responses: `{"<method>_response":{…},"sign":"…"}` with the response key first and the
inner object's exact bytes signed.

Both SDKs cut the signed bytes out of the raw body before parsing it: the official one pairs
braces outside strings, the community one counts every brace, strings included. So braces inside
strings are written as `\\u007b` / `\\u007d`: any JSON parser reads the same text, and no brace
in a value can shift where either SDK thinks the object ends.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from townsquare.gateway.protocol import signing

_BRACES = str.maketrans({"{": "\\u007b", "}": "\\u007d"})


def response_key(method: str | None) -> str:
    """`alipay.trade.query` → `alipay_trade_query_response`; no usable method → `error_response`."""
    if not method or not all(part.isalnum() for part in method.split(".")):
        return "error_response"
    return method.replace(".", "_") + "_response"


def _encode(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).translate(_BRACES)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{_encode(str(k))}:{_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    return json.dumps(value)


def inner_bytes(body: Mapping[str, Any]) -> str:
    """The response object as it is written and signed."""
    return _encode(body)


def render(
    key: rsa.RSAPrivateKey, method: str | None, body: Mapping[str, Any], sign_type: str = "RSA2"
) -> bytes:
    """The whole HTTP body: the response key first, then the signature over the inner object."""
    inner = inner_bytes(body)
    signature = signing.sign(key, inner, sign_type if sign_type in signing.SIGN_TYPES else "RSA2")
    return f'{{"{response_key(method)}":{inner},"sign":"{signature}"}}'.encode()
