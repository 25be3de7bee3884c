"""Each method's declared parameters: one list the dispatcher validates every call with before
the handler runs, and the method reference pages are generated from (so the two cannot drift).

A parameter comes from `biz_content` (the usual place), from the request itself (as
`alipay.system.oauth.token` takes `grant_type` and `code`; `biz_content` is accepted too), or is a
common parameter (`auth_token`). A missing required one answers 40001 `isv.missing-<name>`
(underscores as hyphens, as Alipay writes `isv.missing-app-id`) unless the field names its own
refusal; a present one of the wrong type or form answers 40002 `isv.invalid-parameter` with the
parameter named in `sub_msg`. Parameters the schema does not declare are ignored, as Alipay does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any, Literal

from townsquare.core.i18n import N_
from townsquare.gateway.protocol.errors import GatewayFailure, invalid
from townsquare.gateway.protocol.params import Call

Kind = Literal["string", "integer", "amount", "boolean", "object", "array"]
Source = Literal["biz_content", "request", "common"]
KINDS: dict[str, str] = {  # kind → how the reference pages name it
    "string": "String", "integer": "Integer", "amount": "Price", "boolean": "Boolean",
    "object": "Object", "array": "Array",
}
_INTEGER = re.compile(r"^-?\d{1,18}$")
_YUAN = re.compile(r"^\d{1,18}(\.\d{1,2})?0*$")
MAX_AMOUNT_FEN = 10**12


@dataclass(frozen=True)
class Field:
    """One parameter of a method. `description` is an English msgid (zh-CN in the catalogues).

    `max_length` bounds a string's characters or an array's items; `minimum`/`maximum` bound an
    integer, or an array's item count from below (`minimum`). An `amount` is yuan with at most
    two decimals, sent as a JSON string or number, handed to the handler as integer fen."""

    name: str
    kind: Kind
    description: str
    required: bool = False
    max_length: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    default: Any = None
    source: Source = "biz_content"
    # (code, sub_code) answered instead of 40001 when it is missing (`auth_token` → 20001)
    when_missing: tuple[str, str] | None = None
    # (code, sub_code) answered instead of 40002 when it is malformed (a trade's amounts answer
    # 40004 ACQ.INVALID_PARAMETER, as Alipay's trade methods do)
    when_invalid: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: unknown kind {self.kind}")
        if self.choices and self.kind != "string":
            raise ValueError(f"{self.name}: choices are for strings")

    @property
    def missing_code(self) -> tuple[str, str]:
        return self.when_missing or ("40001", "isv.missing-" + self.name.replace("_", "-"))


@dataclass(frozen=True)
class Example:
    """A call as a client makes it and the business fields its success answers (both shown on
    the method's reference page; the request is checked against the schema by the tests)."""

    request: Mapping[str, Any]
    response: Mapping[str, Any]


@dataclass(frozen=True)
class MethodError:
    """An answer the method itself can give beyond the schema's and the gateway's own."""

    code: str
    sub_code: str
    description: str  # English msgid; `{name}` is replaced by `name`
    name: str = ""


def _raw(field: Field, call: Call, biz: Mapping[str, Any]) -> Any:
    if field.source == "biz_content":
        return biz.get(field.name)
    value: Any = call.params.get(field.name, "")
    if value == "" and field.source == "request":
        value = biz.get(field.name)
    return value


def _wrong(field: Field, what: str) -> GatewayFailure:
    if field.when_invalid:
        return GatewayFailure(*field.when_invalid, f"参数 {field.name} 无效：{what}")
    return invalid("parameter", f"参数 {field.name} 无效：{what}")


def _string(field: Field, value: Any) -> str:
    if not isinstance(value, str):
        raise _wrong(field, "应为字符串")
    if field.max_length is not None and len(value) > field.max_length:
        raise _wrong(field, f"长度超过 {field.max_length} 个字符")
    if field.choices and value not in field.choices:
        raise _wrong(field, "取值只能是 " + "、".join(field.choices))
    return value


def _integer(field: Field, value: Any) -> int:
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _wrong(field, "应为整数")
    low = field.minimum if field.minimum is not None else -(10**18)
    high = field.maximum if field.maximum is not None else 10**18
    if not low <= value <= high:
        raise _wrong(field, f"应在 {low} 到 {high} 之间")
    return value


def _amount(field: Field, value: Any) -> int:
    """Yuan as Alipay sends it ("12.50" or 12.5) → integer fen, exactly or refused."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _wrong(field, "应为金额（元，最多两位小数）")
    text = str(value).strip()
    try:
        if not _YUAN.match(text):  # digits and at most two decimals: no sign, exponent or ¥
            raise InvalidOperation
        yuan = Decimal(text)
        exact = yuan.is_finite() and yuan == yuan.quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    except InvalidOperation:  # also a huge exponent, which cannot be quantized
        exact = False
    if not exact:
        raise _wrong(field, "应为金额（元，最多两位小数）")
    fen = int(yuan * 100)
    if not 0 <= fen <= MAX_AMOUNT_FEN:
        raise _wrong(field, "金额超出范围")
    return fen


def _boolean(field: Field, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise _wrong(field, "应为 true 或 false")


def _object(field: Field, value: Any) -> dict[str, Any]:
    if isinstance(value, str):  # Alipay clients often send a nested object as a JSON string
        try:
            value = json.loads(value)
        except ValueError:
            raise _wrong(field, "不是合法的 JSON") from None
    if not isinstance(value, dict):
        raise _wrong(field, "应为 JSON 对象")
    return value


def _array(field: Field, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _wrong(field, "应为 JSON 数组")
    low = field.minimum or 0
    if len(value) < low or (field.max_length is not None and len(value) > field.max_length):
        high = field.max_length if field.max_length is not None else "不限"
        raise _wrong(field, f"元素个数应为 {low} 到 {high}")
    return value


_READERS = {"string": _string, "integer": _integer, "amount": _amount, "boolean": _boolean,
            "object": _object, "array": _array}


def validate(fields: tuple[Field, ...], call: Call) -> dict[str, Any]:
    """The call's declared parameters, checked and typed; absent optional ones get their
    default. Raises the GatewayFailure the client should see."""
    biz = call.biz() if any(f.source != "common" for f in fields) else {}
    values: dict[str, Any] = {}
    for field in fields:
        raw = _raw(field, call, biz)
        if raw is None or raw == "":
            if field.required:
                code, sub_code = field.missing_code
                raise GatewayFailure(code, sub_code, f"缺少必选参数 {field.name}")
            values[field.name] = field.default
            continue
        values[field.name] = _READERS[field.kind](field, raw)
    return values


def derived_errors(fields: tuple[Field, ...]) -> list[MethodError]:
    """What the schema itself answers, for the reference pages."""
    found = [
        MethodError(*f.missing_code, N_("The required parameter {name} is missing."), f.name)
        for f in fields if f.required
    ]
    if fields:
        found.append(MethodError("40002", "isv.invalid-parameter",
                                 N_("A parameter has the wrong type, length or value.")))
    found += [MethodError(*f.when_invalid, N_("The parameter {name} is malformed."), f.name)
              for f in fields if f.when_invalid]
    return found


def split_example(fields: tuple[Field, ...], example: Example) -> tuple[dict[str, Any], str]:
    """The example's request as sent: (top-level parameters, biz_content text or "")."""
    top = {f.name for f in fields if f.source != "biz_content"}
    params = {k: v for k, v in example.request.items() if k in top}
    biz = {k: v for k, v in example.request.items() if k not in top}
    text = json.dumps(biz, ensure_ascii=False, separators=(",", ":")) if biz else ""
    return params, text
