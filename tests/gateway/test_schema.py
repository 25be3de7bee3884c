"""The parameter schema each method declares: how a call's parameters are checked and typed
before the handler runs, and that every method's documented example passes its own schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from townsquare.app import GATEWAY_METHODS
from townsquare.gateway.methods import Method
from townsquare.gateway.protocol import params
from townsquare.gateway.protocol.errors import GatewayFailure
from townsquare.gateway.schema import Field, split_example, validate

NOW = datetime(2026, 12, 7, 6, 3, tzinfo=UTC)
FIELDS = (
    Field("to_user_id", "string", "who", required=True, max_length=8),
    Field("limit", "integer", "how many", minimum=0, maximum=50, default=20),
    Field("total_amount", "amount", "yuan"),
    Field("paid", "boolean", "flag", default=False),
    Field("data", "object", "variables", default={}),
    Field("events", "array", "items", minimum=1, max_length=3),
    Field("mode", "string", "which", choices=("a", "b"), default="a"),
    Field("grant_type", "string", "top level", source="request"),
)


def _call(biz: dict | str | None = None, **extra: str) -> params.Call:
    raw = {"app_id": "2026120700000001", "method": "x.y", "sign_type": "RSA2", "sign": "s",
           "timestamp": "2026-12-07 14:03:00", "version": "1.0", **extra}
    if biz is not None:
        raw["biz_content"] = biz if isinstance(biz, str) else json.dumps(biz)
    return params.read_call(raw, zone="Asia/Shanghai", now=NOW, window=timedelta(minutes=15))


def _refusal(biz, **extra) -> tuple[str, str, str]:
    with pytest.raises(GatewayFailure) as failure:
        validate(FIELDS, _call(biz, **extra))
    return failure.value.code, failure.value.sub_code, failure.value.sub_msg


def test_values_are_typed_and_defaults_filled():
    values = validate(FIELDS, _call({"to_user_id": "ou_1", "limit": "5", "total_amount": 12.5,
                                     "paid": "true", "data": '{"a": {"value": 1}}',
                                     "events": [{}], "mode": "b"}, grant_type="refresh_token"))
    assert values == {"to_user_id": "ou_1", "limit": 5, "total_amount": 1250, "paid": True,
                      "data": {"a": {"value": 1}}, "events": [{}], "mode": "b",
                      "grant_type": "refresh_token"}
    defaults = validate(FIELDS, _call({"to_user_id": "x", "ignored": "unknown fields pass"}))
    assert defaults["limit"] == 20 and defaults["data"] == {} and defaults["mode"] == "a"
    assert defaults["total_amount"] is None and defaults["grant_type"] is None


def test_a_request_parameter_may_also_come_in_biz_content():
    values = validate(FIELDS, _call({"to_user_id": "x", "grant_type": "authorization_code"}))
    assert values["grant_type"] == "authorization_code"


@pytest.mark.parametrize("biz", [None, {}, {"to_user_id": ""}])
def test_a_missing_required_parameter_answers_40001_naming_it(biz):
    assert _refusal(biz) == ("40001", "isv.missing-to-user-id", "缺少必选参数 to_user_id")


@pytest.mark.parametrize("biz,why", [
    ({"to_user_id": 42}, "应为字符串"),
    ({"to_user_id": "123456789"}, "长度超过 8 个字符"),
    ({"to_user_id": "x", "limit": 51}, "应在 0 到 50 之间"),
    ({"to_user_id": "x", "limit": True}, "应为整数"),
    ({"to_user_id": "x", "limit": "5.0"}, "应为整数"),
    ({"to_user_id": "x", "total_amount": "12.345"}, "应为金额"),
    ({"to_user_id": "x", "total_amount": "-1"}, "应为金额"),
    ({"to_user_id": "x", "total_amount": "1e3"}, "应为金额"),
    ({"to_user_id": "x", "total_amount": "10000000000.01"}, "金额超出范围"),
    ({"to_user_id": "x", "total_amount": "NaN"}, "应为金额"),
    ({"to_user_id": "x", "total_amount": "1e999999"}, "应为金额"),
    ({"to_user_id": "x", "total_amount": 1e300}, "应为金额"),
    ({"to_user_id": "x", "paid": 1}, "应为 true 或 false"),
    ({"to_user_id": "x", "data": "[1]"}, "应为 JSON 对象"),
    ({"to_user_id": "x", "data": "{"}, "不是合法的 JSON"),
    ({"to_user_id": "x", "events": []}, "元素个数应为 1 到 3"),
    ({"to_user_id": "x", "events": [1, 2, 3, 4]}, "元素个数应为 1 到 3"),
    ({"to_user_id": "x", "mode": "c"}, "取值只能是 a、b"),
])
def test_a_wrong_value_answers_40002_invalid_parameter_naming_it(biz, why):
    code, sub_code, sub_msg = _refusal(biz)
    assert (code, sub_code) == ("40002", "isv.invalid-parameter")
    assert sub_msg.startswith(f"参数 {list(biz)[-1]} 无效：") and why in sub_msg


def test_an_unreadable_biz_content_is_refused_before_any_field():
    assert _refusal("{not json")[:2] == ("40002", "isv.invalid-parameter")


def test_a_field_may_name_its_own_refusal_when_missing():
    token = (Field("auth_token", "string", "token", required=True, source="common",
                   when_missing=("20001", "aop.invalid-auth-token")),)
    with pytest.raises(GatewayFailure) as failure:
        validate(token, _call())
    assert (failure.value.code, failure.value.sub_code) == ("20001", "aop.invalid-auth-token")
    assert validate(token, _call(auth_token="t1")) == {"auth_token": "t1"}
    # a common parameter is never read from biz_content
    with pytest.raises(GatewayFailure):
        validate(token, _call({"auth_token": "t1"}))


@pytest.mark.parametrize("method", GATEWAY_METHODS, ids=lambda m: m.name)
def test_every_method_documents_itself_and_its_example_passes_its_schema(method: Method):
    assert method.summary and all(f.description for f in method.fields)
    top, biz = split_example(method.fields, method.example)
    values = validate(method.fields, _call(json.loads(biz) if biz else None, **top))
    assert set(values) == {f.name for f in method.fields}
    assert method.example.response, "an example answer"
    assert not {"code", "msg", "sub_code"} & set(method.example.response)


def test_a_parameter_declared_twice_is_a_mistake():
    with pytest.raises(ValueError):
        Method("x.y", "data", lambda c: {}, "s", (Field("a", "string", "d"),
                                                  Field("a", "integer", "d")))


def test_a_description_map_is_not_a_schema():
    with pytest.raises(TypeError, match="schema.Field"):
        Method("x.y", "data", lambda c: {}, "s", {"limit": "how many"})  # type: ignore[arg-type]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(st.sampled_from([f.name for f in FIELDS]), JSON | st.text(), max_size=8))
@hyp_settings(max_examples=150, deadline=None)
def test_whatever_a_client_sends_the_answer_is_a_value_or_a_gateway_failure(biz):
    try:
        values = validate(FIELDS, _call(biz))
    except GatewayFailure as failure:
        assert failure.code in ("40001", "40002")
    else:
        assert set(values) == {f.name for f in FIELDS}
