"""Signed responses: `{"<method>_response":{…},"sign":"…"}` with the response key first and the
inner object's exact bytes signed.

Both SDKs cut the signed bytes out of the raw body before parsing it: the official one pairs
braces outside strings, the community one counts every brace, strings included. So braces inside
strings are written as `\\u007b` / `\\u007d`: any JSON parser reads the same text, and no brace
in a value can shift where either SDK thinks the object ends.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from townsquare.gateway.protocol import signing

_BRACES = str.maketrans({"{": "\\u007b", "}": "\\u007d"})
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')  # one JSON string literal, escapes included


def response_key(method: str | None) -> str:
    """`alipay.trade.query` → `alipay_trade_query_response`; no usable method → `error_response`."""
    if not method or not all(part.isalnum() for part in method.split(".")):
        return "error_response"
    return method.replace(".", "_") + "_response"


def _encode(value: Any) -> str:
    """The object written value by value (the reference `inner_bytes` must match)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).translate(_BRACES)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{_encode(str(k))}:{_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    return json.dumps(value)


def _objects(value: Any) -> int:
    """How many JSON objects `value` holds; -1 when one is not a dict with string keys (written
    by `_encode`, which also takes other mappings and keys)."""
    if isinstance(value, dict):
        count = 1
        for key, item in value.items():
            inner = _objects(item) if isinstance(item, dict | list | tuple) else 0
            if inner < 0 or not isinstance(key, str):
                return -1
            count += inner
        return count
    if isinstance(value, list | tuple):
        count = 0
        for item in value:
            inner = _objects(item) if isinstance(item, dict | list | tuple) else 0
            if inner < 0:
                return -1
            count += inner
        return count
    return 0 if not isinstance(value, Mapping) else -1


def _escape_braces(literal: re.Match[str]) -> str:
    return literal.group().translate(_BRACES)


def inner_bytes(body: Mapping[str, Any]) -> str:
    """The response object as it is written and signed: the bytes `_encode` writes, made by
    the C encoder in one pass. Its only braces are the objects' own unless a string holds one
    (then twice as many braces as objects is wrong), and only then are the string literals
    rewritten with `\\u007b` / `\\u007d`."""
    objects = _objects(body)
    if objects < 0:
        return _encode(body)
    text = _ENCODER.encode(body)
    if text.count("{") + text.count("}") != 2 * objects:
        text = _STRING.sub(_escape_braces, text)
    return text


def render(
    key: rsa.RSAPrivateKey, method: str | None, body: Mapping[str, Any], sign_type: str = "RSA2"
) -> bytes:
    """The whole HTTP body: the response key first, then the signature over the inner object."""
    inner = inner_bytes(body)
    signature = signing.sign_repeatable(
        key, inner, sign_type if sign_type in signing.SIGN_TYPES else "RSA2")
    return f'{{"{response_key(method)}":{inner},"sign":"{signature}"}}'.encode()
