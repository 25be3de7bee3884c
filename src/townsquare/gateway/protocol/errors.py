"""The gateway's answers that are not success, with Alipay's real codes.

`code` and `msg` are the public category (40001 缺少必选参数 …); `sub_code` and `sub_msg` say what
exactly went wrong. Clients branch on `sub_code`, so the codes here follow Alipay's table.
"""

from __future__ import annotations

from dataclasses import dataclass

# code → msg, as Alipay answers them (English msg, the SDKs and merchants match on `code`).
CATEGORIES = {
    "10000": "Success",
    "20000": "Service Currently Unavailable",
    "20001": "Insufficient Token Permissions",
    "40001": "Missing Required Arguments",
    "40002": "Invalid Arguments",
    "40004": "Business Failed",
    "40005": "Call Limited",
    "40006": "Insufficient Permissions",
}


@dataclass(frozen=True)
class GatewayFailure(Exception):
    """A failed call: rendered into the method's response object, signed like a success."""

    code: str
    sub_code: str
    sub_msg: str

    def __post_init__(self) -> None:
        if self.code not in CATEGORIES or self.code == "10000":
            raise ValueError(f"not a failure category: {self.code}")

    @property
    def msg(self) -> str:
        return CATEGORIES[self.code]

    def body(self) -> dict[str, str]:
        return {"code": self.code, "msg": self.msg, "sub_code": self.sub_code,
                "sub_msg": self.sub_msg}


def missing(what: str, sub_msg: str) -> GatewayFailure:
    """40001: a required common parameter is absent (`isv.missing-method`, …)."""
    return GatewayFailure("40001", f"isv.missing-{what}", sub_msg)


def invalid(what: str, sub_msg: str) -> GatewayFailure:
    """40002: a parameter is present but wrong (`isv.invalid-signature`, …)."""
    return GatewayFailure("40002", f"isv.invalid-{what}", sub_msg)


def business(sub_code: str, sub_msg: str) -> GatewayFailure:
    """40004: the call was understood and refused by the business rules (`ACQ.*`, …)."""
    return GatewayFailure("40004", sub_code, sub_msg)


def insufficient_permissions(sub_msg: str) -> GatewayFailure:
    """40006: the app has not been granted the package this method belongs to."""
    return GatewayFailure("40006", "isv.insufficient-isv-permissions", sub_msg)


def token_refused(sub_code: str, sub_msg: str) -> GatewayFailure:
    """20001: an `auth_token` or `app_auth_token` is unknown, expired or revoked."""
    return GatewayFailure("20001", sub_code, sub_msg)


def unavailable(sub_msg: str = "服务暂不可用") -> GatewayFailure:
    """20000: the platform cannot answer now; the client may retry."""
    return GatewayFailure("20000", "isp.unknow-error", sub_msg)
