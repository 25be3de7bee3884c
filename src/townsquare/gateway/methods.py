"""The gateway's method table: each domain that opens a capability lists its methods (name,
package, handler, parameter schema, example) in its own `gateway_methods.py`; the application
factory collects them.

A handler gets the verified call with its parameters already validated against the method's
schema (`context.values`, see schema.py) and answers the method's business fields, or raises a
`GatewayFailure`. It runs in the request's transaction, inside a savepoint: a failure undoes
whatever it wrote, while the call itself is still logged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy.orm import Session

from townsquare.core.settings import Settings
from townsquare.gateway import app_auth
from townsquare.gateway.directory import AppEntry
from townsquare.gateway.models import GatewayApp
from townsquare.gateway.protocol.params import Call
from townsquare.gateway.schema import Example, Field, MethodError
from townsquare.merchants.models import Merchant
from townsquare.miniapps.models import MiniApp

# Capability packages an app applies for; an operator grants them (`docs/open-platform.md`).
PACKAGES = {
    "identity": "身份：用户授权、会员信息",
    "payment": "支付：交易、退款、账单",
    "messaging": "消息：订阅消息",
    "delivery": "配送：即时配送运力",
    "marketing": "营销：积分",
    "data": "数据：服务分、行为数据回传",
    "community": "社区：通行、物业服务",
    "authorization": "应用授权：第三方应用换取、刷新、查询商户授权令牌（app_auth_token）",
}


@dataclass(frozen=True)
class CallContext:
    db: Session
    settings: Settings
    entry: AppEntry  # the calling app as the gateway's directory knows it (plain data)
    call: Call
    biz: dict[str, Any]
    # the method's declared parameters, validated and typed (absent optional ones: default)
    values: Mapping[str, Any] = field(default_factory=dict)

    # the merchant whose `app_auth_token` an ISV app presented (app_auth.py); None otherwise
    acting: Merchant | None = None

    @cached_property
    def app(self) -> GatewayApp:
        """The calling app as a row of the call's session, made on first use without a read
        (a method that needs only ids takes them from `entry`)."""
        return self.entry.attach(self.db)

    @property
    def merchant(self) -> Merchant:
        """Who the call acts for: a mini-app app's merchant, or the merchant that authorized
        the calling ISV app (an ISV app without a token is refused with 20001)."""
        return app_auth.require_merchant(self.app, self.acting)

    @property
    def merchant_id(self) -> int:
        """`merchant.id` without loading the merchant (or a mini-app app's mini-app)."""
        return app_auth.require_merchant_id(self.entry, self.acting, self.entry.merchant_id)

    def miniapp(self) -> MiniApp:
        """The mini-app the call is about: a mini-app app's own; for an ISV app, biz
        `mini_app_id`, which must belong to the merchant that authorized it."""
        return app_auth.call_miniapp(self.db, self.app, self.acting, self.biz.get("mini_app_id"))

    def param(self, name: str) -> str:
        """A raw request parameter as received (prefer the validated `values`)."""
        return self.call.params.get(name, "")


Handler = Callable[[CallContext], Mapping[str, Any]]


@dataclass(frozen=True)
class Method:
    name: str
    package: str
    handler: Handler
    summary: str  # English msgid (zh-CN in the catalogues)
    fields: tuple[Field, ...] = ()  # the parameter schema the dispatcher validates with
    example: Example = Example({}, {})
    errors: tuple[MethodError, ...] = ()  # the method's own refusals, for its reference page
    writes: bool = True  # False: only reads (runs in a read-only unit of work)
    # True: opened by a resident's browser (page/wap pay), answered with a redirect, not JSON
    browser: bool = False

    def __post_init__(self) -> None:
        if self.package not in PACKAGES:
            raise ValueError(f"{self.name}: unknown package {self.package}")
        if not all(isinstance(f, Field) for f in self.fields):
            raise TypeError(f"{self.name}: declare parameters as schema.Field "
                            "(docs/open-platform.md, 'Adding a method')")
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: a parameter is declared twice")


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
