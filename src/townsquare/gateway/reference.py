"""The method reference, generated from the method table: for each method its parameters (the
very schema the dispatcher validates with), an example call as sent, the exact envelope of its
answer, and every error it can give. Nothing here is written by hand per method, so the pages
cannot drift from what the gateway does."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from townsquare.core.i18n import N_, gettext
from townsquare.gateway.methods import Method, MethodTable
from townsquare.gateway.protocol import envelope
from townsquare.gateway.schema import KINDS, Field, MethodError, derived_errors, split_example

EXAMPLE_APP_ID = "2026120700000001"
EXAMPLE_TIMESTAMP = "2026-12-07 14:03:21"
EXAMPLE_SIGN = "(RSA2 signature, base64)"
SUCCESS = {"code": "10000", "msg": "Success"}
# English names of the packages (methods.PACKAGES holds the Chinese ones the console shows).
PACKAGE_NAMES = {
    "identity": N_("Identity: user authorization, member information"),
    "payment": N_("Payment: trades, refunds, bills"),
    "messaging": N_("Messaging: subscription messages"),
    "delivery": N_("Delivery: on-demand couriers"),
    "marketing": N_("Marketing: points"),
    "data": N_("Data: service score, behaviour events"),
    "community": N_("Community: gate access, property services"),
    "authorization": N_("Authorization: third-party apps exchange, refresh and query "
                        "merchants' app_auth_token"),
}
# What the gateway itself may answer to any method (the protocol's own errors are in the
# developer guide's table).
GATEWAY_ERRORS = (
    MethodError("40006", "isv.insufficient-isv-permissions",
                N_("The method's package is not granted to the app.")),
    MethodError("40005", "isv.app-call-limited",
                N_("The app calls this package faster than its limit; retry later.")),
)


@dataclass(frozen=True)
class Row:
    """One parameter as the reference table shows it."""

    name: str
    type: str
    required: bool
    where: str
    description: str
    constraints: str


def _constraints(field: Field) -> str:
    parts = []
    if field.kind == "array":
        high = field.max_length if field.max_length is not None else "∞"
        parts.append(f"{field.minimum or 0}–{high} " + gettext("items"))
    else:
        if field.max_length is not None:
            parts.append(f"≤ {field.max_length} " + gettext("characters"))
        if field.minimum is not None or field.maximum is not None:
            low = "" if field.minimum is None else field.minimum
            high = "" if field.maximum is None else field.maximum
            parts.append(f"{low}–{high}")
    if field.choices:
        parts.append(" | ".join(field.choices))
    if field.default not in (None, "", {}, []):
        parts.append(gettext("default") + f" {json.dumps(field.default, ensure_ascii=False)}")
    return "; ".join(parts)


_WHERE = {"biz_content": "biz_content", "request": N_("request parameter"),
          "common": N_("common parameter")}


def rows(method: Method) -> list[Row]:
    return [Row(f.name, KINDS[f.kind], f.required, gettext(_WHERE[f.source]),
                gettext(f.description), _constraints(f))
            for f in method.fields]


def example_request(method: Method) -> list[tuple[str, str]]:
    """The example call's parameters as a client sends them (sorted, as they are signed)."""
    top, biz = split_example(method.fields, method.example)
    params = {
        "app_id": EXAMPLE_APP_ID, "method": method.name, "format": "JSON", "charset": "utf-8",
        "sign_type": "RSA2", "timestamp": EXAMPLE_TIMESTAMP, "version": "1.0",
        **{k: str(v) for k, v in top.items()},
    }
    if biz:
        params["biz_content"] = biz
    return [*sorted(params.items()), ("sign", EXAMPLE_SIGN)]


def example_biz_content(method: Method) -> str:
    """The example's biz_content, indented for reading (what is sent is one line)."""
    _, biz = split_example(method.fields, method.example)
    return json.dumps(json.loads(biz), ensure_ascii=False, indent=2) if biz else ""


def example_response(method: Method) -> str:
    """The exact HTTP body of the example's success, as the gateway writes it."""
    inner = envelope.inner_bytes({**SUCCESS, **method.example.response})
    return f'{{"{envelope.response_key(method.name)}":{inner},"sign":"{EXAMPLE_SIGN}"}}'


def example_response_readable(method: Method) -> str:
    body = {envelope.response_key(method.name): {**SUCCESS, **method.example.response},
            "sign": EXAMPLE_SIGN}
    return json.dumps(body, ensure_ascii=False, indent=2)


def errors(method: Method) -> list[tuple[str, str, str]]:
    """Every (code, sub_code, description) the method can answer beyond the protocol's own."""
    found = [*method.errors, *derived_errors(method.fields), *GATEWAY_ERRORS]
    seen: set[tuple[str, str]] = set()
    answer = []
    for error in found:
        if (error.code, error.sub_code) in seen:
            continue
        seen.add((error.code, error.sub_code))
        answer.append((error.code, error.sub_code,
                       gettext(error.description).replace("{name}", error.name)))
    return sorted(answer, key=lambda e: (e[0], e[1]))


def by_package(table: MethodTable) -> list[tuple[str, str, list[Method]]]:
    """(package, its name, its methods) for every package with a method."""
    grouped: dict[str, list[Method]] = {}
    for method in table:
        grouped.setdefault(method.package, []).append(method)
    return [(p, gettext(PACKAGE_NAMES[p]), grouped[p]) for p in PACKAGE_NAMES if p in grouped]


def context(method: Method) -> dict[str, Any]:
    return {
        "method": method, "summary": gettext(method.summary),
        "package_name": gettext(PACKAGE_NAMES[method.package]), "rows": rows(method),
        "example": example_request(method), "biz_content": example_biz_content(method),
        "response": example_response(method),
        "response_readable": example_response_readable(method), "errors": errors(method),
    }
