"""The common parameters of a gateway call, merged from the query string and the form body.

The official SDK puts the common parameters in the query string and the business ones in the
form body; the community SDK sends everything in the query string; a hand-written client may do
either. Each value is decoded once and kept exactly as received: the signature is over those
strings, so `biz_content` is never parsed and re-serialised before it is verified.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from townsquare.gateway.protocol import signing
from townsquare.gateway.protocol.errors import GatewayFailure, invalid, missing

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
_EXACT_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})\Z")
MAX_VALUE_LENGTH = 64 * 1024
_REQUIRED = (
    ("app_id", "app-id", "缺少 app_id 参数"),
    ("method", "method", "缺少方法名参数 method"),
    ("sign_type", "signature-type", "缺少签名类型参数 sign_type"),
    ("sign", "signature", "缺少签名参数 sign"),
    ("timestamp", "timestamp", "缺少时间戳参数 timestamp"),
    ("version", "version", "缺少版本参数 version"),
)


@dataclass(frozen=True)
class Call:
    """One received call: the raw parameters (as signed) and the common ones picked out."""

    params: Mapping[str, str]
    app_id: str
    method: str
    sign_type: str
    sign: str
    timestamp: datetime
    app_auth_token: str
    auth_token: str
    notify_url: str
    return_url: str

    def biz(self) -> dict[str, Any]:
        """`biz_content` decoded (after the signature has been checked), {} when absent."""
        raw = self.params.get("biz_content", "")
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except ValueError:
            raise invalid("parameter", "biz_content 不是合法的 JSON") from None
        if not isinstance(value, dict):
            raise invalid("parameter", "biz_content 必须是 JSON 对象")
        return value

    def unsigned(self) -> str:
        """What the caller should have signed, as the gateway sees it."""
        return signing.string_to_sign(self.params)


def decode_form(raw: bytes) -> list[tuple[str, str]]:
    """An `application/x-www-form-urlencoded` body or query string, UTF-8, `+` as space."""
    try:
        text = raw.decode("utf-8")
        return parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise invalid("charset", "参数不是 UTF-8 编码") from None


def merge(*sources: list[tuple[str, str]]) -> dict[str, str]:
    """Query string and form body as one mapping; a key given twice must agree with itself."""
    merged: dict[str, str] = {}
    for pairs in sources:
        for key, value in pairs:
            if len(value) > MAX_VALUE_LENGTH:
                raise invalid("parameter", f"参数 {key} 过长")
            if key in merged and merged[key] != value:
                raise invalid("parameter", f"参数 {key} 出现多次且取值不同")
            merged[key] = value
    return merged


def parse_timestamp(text: str, zone: str) -> datetime:
    """`yyyy-MM-dd HH:mm:ss` in `zone`, read as `strptime` reads TIMESTAMP_FORMAT (which also
    takes single digits); the form every SDK sends is read without it (on every call)."""
    exact = _EXACT_TIMESTAMP.match(text)
    try:
        if exact:
            year, month, day, hour, minute, second = (int(part) for part in exact.groups())
            local = datetime(year, month, day, hour, minute, second)
        else:
            local = datetime.strptime(text, TIMESTAMP_FORMAT)
    except ValueError:
        raise invalid(
            "timestamp", f"非法的时间戳参数，格式应为 yyyy-MM-dd HH:mm:ss：{text}"
        ) from None
    return local.replace(tzinfo=ZoneInfo(zone))


def read_call(params: Mapping[str, str], *, zone: str, now: datetime, window: timedelta) -> Call:
    """Check the common parameters; the signature is checked later, against the app's key."""
    for name, what, message in _REQUIRED:
        if not params.get(name):
            raise missing(what, message)
    if params.get("format", "json").lower() != "json":
        raise invalid("format", "format 只支持 JSON")
    if params.get("charset", "utf-8").lower().replace("_", "-") != "utf-8":
        raise invalid("charset", "charset 只支持 utf-8")
    if params["sign_type"] not in signing.SIGN_TYPES:
        raise invalid("signature-type", "sign_type 只支持 RSA2 和 RSA")
    if params["version"] != "1.0":
        raise invalid("version", "version 只支持 1.0")
    stamp = parse_timestamp(params["timestamp"], zone)
    if abs(stamp - now) > window:
        minutes = int(window.total_seconds() // 60)
        local_now = now.astimezone(ZoneInfo(zone)).strftime(TIMESTAMP_FORMAT)
        raise invalid(
            "timestamp",
            f"时间戳 {params['timestamp']} 与网关时间相差超过 {minutes} 分钟"
            f"（按 {zone} 时区计，网关当前时间 {local_now}）",
        )
    return Call(
        params=dict(params),
        app_id=params["app_id"],
        method=params["method"],
        sign_type=params["sign_type"],
        sign=params["sign"],
        timestamp=stamp,
        app_auth_token=params.get("app_auth_token", ""),
        auth_token=params.get("auth_token", ""),
        notify_url=params.get("notify_url", ""),
        return_url=params.get("return_url", ""),
    )


def signature_failure(call: Call, key_fingerprint: str) -> GatewayFailure:
    """Alipay's way of saying why: the gateway's own string-to-sign and the key it used."""
    return invalid(
        "signature",
        "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，"
        f"网关生成的验签字符串为：{call.unsigned()}，使用的应用公钥指纹为：{key_fingerprint}",
    )
