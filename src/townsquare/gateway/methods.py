"""The gateway's method table: each domain that opens a capability lists its methods (name,
package, handler) in its own `gateway_methods.py`; the application factory collects them.

A handler gets the verified call and answers the method's business fields, or raises a
`GatewayFailure`. It runs in the request's transaction, inside a savepoint: a failure undoes
whatever it wrote, while the call itself is still logged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from townsquare.core.settings import Settings
from townsquare.gateway.models import GatewayApp
from townsquare.gateway.protocol.params import Call

# Capability packages an app applies for; an operator grants them (`docs/open-platform.md`).
PACKAGES = {
    "identity": "身份：用户授权、会员信息",
    "payment": "支付：交易、退款、账单",
    "messaging": "消息：订阅消息",
    "delivery": "配送：即时配送运力",
    "marketing": "营销：积分",
    "data": "数据：服务分、行为数据回传",
    "community": "社区：通行、物业服务",
}


@dataclass(frozen=True)
class CallContext:
    db: Session
    settings: Settings
    app: GatewayApp
    call: Call
    biz: dict[str, Any]

    def param(self, name: str) -> str:
        """A business parameter given outside `biz_content` (as `alipay.system.oauth.token`
        takes `grant_type` and `code`)."""
        return self.call.params.get(name, "")


Handler = Callable[[CallContext], Mapping[str, Any]]


@dataclass(frozen=True)
class Method:
    name: str
    package: str
    handler: Handler
    summary: str
    parameters: Mapping[str, str] = field(default_factory=dict)  # name → what it is
    writes: bool = True  # False: only reads (runs in a read-only unit of work)
    # True: opened by a resident's browser (page/wap pay), answered with a redirect, not JSON
    browser: bool = False

    def __post_init__(self) -> None:
        if self.package not in PACKAGES:
            raise ValueError(f"{self.name}: unknown package {self.package}")


class MethodTable:
    def __init__(self, methods: Iterable[Method]) -> None:
        self._methods: dict[str, Method] = {}
        for method in methods:
            if method.name in self._methods:
                raise ValueError(f"method {method.name} listed twice")
            self._methods[method.name] = method

    def get(self, name: str) -> Method | None:
        return self._methods.get(name)

    def __iter__(self) -> Iterator[Method]:
        return iter(sorted(self._methods.values(), key=lambda m: m.name))
