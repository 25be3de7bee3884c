"""The pure protocol: string-to-sign, signatures in both types and key forms, the response
envelope (braces in strings), and the common parameters' checks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from townsquare.gateway.protocol import envelope, errors, params, signing

KEY = signing.new_private_key()


def test_string_to_sign_sorts_skips_sign_and_empty_and_keeps_values_raw():
    received = {"sign": "x", "b": "2", "a": "中文 & =", "empty": "",
                "biz_content": '{"z":1,"a":"\\u4e2d"}'}
    assert signing.string_to_sign(received) == 'a=中文 & =&b=2&biz_content={"z":1,"a":"\\u4e2d"}'


@pytest.mark.parametrize("sign_type", ["RSA2", "RSA"])
def test_sign_and_verify_both_types(sign_type):
    signature = signing.sign(KEY, "a=1&b=2", sign_type)
    assert signing.verify(KEY.public_key(), "a=1&b=2", signature, sign_type)
    assert not signing.verify(KEY.public_key(), "a=1&b=3", signature, sign_type)
    other = "RSA" if sign_type == "RSA2" else "RSA2"
    assert not signing.verify(KEY.public_key(), "a=1&b=2", signature, other)
    assert not signing.verify(KEY.public_key(), "a=1&b=2", "not base64!", sign_type)


@pytest.mark.parametrize("sign_type", ["RSA2", "RSA"])
def test_a_remembered_signature_is_the_one_signing_again_gives(sign_type):
    text = '{"code":"10000","msg":"Success","trade_no":"2026"}' + sign_type
    fresh = signing.sign(KEY, text, sign_type)
    assert signing.sign(KEY, text, sign_type) == fresh  # PKCS#1 v1.5: no salt, no nonce
    before = signing._remembered.cache_info()
    assert signing.sign_repeatable(KEY, text, sign_type) == fresh
    assert signing.sign_repeatable(KEY, text, sign_type) == fresh
    after = signing._remembered.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 1)
    other = signing.new_private_key()  # another key never gets this key's signature
    assert signing.sign_repeatable(other, text, sign_type) == signing.sign(other, text, sign_type)
    assert signing.verify(other.public_key(), text, signing.sign_repeatable(other, text, sign_type),
                          sign_type)
    assert not signing.verify(KEY.public_key(), text,
                              signing.sign_repeatable(other, text, sign_type), sign_type)


def test_long_answers_are_signed_each_time():
    text = "x" * (signing.REMEMBERED_LENGTH + 1)
    before = signing._remembered.cache_info()
    assert signing.sign_repeatable(KEY, text) == signing.sign(KEY, text)
    assert signing._remembered.cache_info() == before


def test_keys_load_from_every_form_the_sdks_use():
    public = KEY.public_key()
    forms = [
        signing.public_key_text(public),
        public.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
        public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1).decode(),
    ]
    assert {signing.fingerprint(signing.load_public_key(f)) for f in forms} == {
        signing.fingerprint(public)
    }
    pkcs8 = KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode()
    for text in (signing.private_key_pkcs1(KEY), pkcs8):
        assert signing.load_private_key(text).private_numbers() == KEY.private_numbers()
    with pytest.raises(signing.KeyUnreadable):
        signing.load_public_key("not a key")


def _community_cut(raw: str, response_type: str) -> str:
    """What a naive brace counter (the community SDK's way) takes as the signed text."""
    start = raw.find("{", raw.find(response_type))
    depth = 0
    for i, char in enumerate(raw[start:], start):
        depth += char == "{"
        depth -= char == "}"
        if depth == 0:
            return raw[start:i + 1]
    raise AssertionError("unbalanced")


def test_envelope_signs_the_exact_inner_bytes_and_survives_brace_counting():
    body = {"code": "10000", "msg": "Success", "note": '}},"sign":"x{', "list": [{"a": "}"}]}
    raw = envelope.render(KEY, "alipay.trade.query", body).decode()
    assert raw.startswith('{"alipay_trade_query_response":{')
    parsed = json.loads(raw)
    assert parsed["alipay_trade_query_response"] == body
    inner = _community_cut(raw, "alipay_trade_query_response")
    assert inner == envelope.inner_bytes(body)
    assert signing.verify(KEY.public_key(), inner, parsed["sign"], "RSA2")


_TEXT = st.text(alphabet=st.sampled_from('ab{}"\\/:,[]中\u2028\x01 '), max_size=8)
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=12,
)


@hyp_settings(max_examples=300, deadline=None)
@given(st.dictionaries(_TEXT, _VALUES, max_size=5))
def test_the_envelope_writes_what_the_value_by_value_encoder_writes(body):
    """The one-pass encoder (the gateway's every answer) against the reference: byte for byte,
    braces in keys and values, escapes, nesting; and every brace left is a structural one."""
    text = envelope.inner_bytes(body)
    assert text == envelope._encode(body)
    assert json.loads(text) == body
    assert text.count("{") == text.count("}") == envelope._objects(body)


def test_the_envelope_takes_other_mappings_and_keys_as_before():
    from types import MappingProxyType

    body = {"a": MappingProxyType({"b": "{"}), 1: (True, None, 1.5), "c": [{"d": "}"}]}
    assert envelope.inner_bytes(body) == envelope._encode(body)
    assert envelope.inner_bytes(body) == (
        '{"a":{"b":"\\u007b"},"1":[true,null,1.5],"c":[{"d":"\\u007d"}]}')


def test_response_key():
    key = envelope.response_key("alipay.system.oauth.token")
    assert key == "alipay_system_oauth_token_response"
    assert envelope.response_key("") == "error_response"
    assert envelope.response_key("a b{") == "error_response"


NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)  # 14:00 in Shanghai
GOOD = {"app_id": "2026000000000001", "method": "alipay.user.info.share", "sign_type": "RSA2",
        "sign": "abc", "timestamp": "2026-12-07 14:03:00", "version": "1.0"}


def _read(**changes):
    given = {k: v for k, v in {**GOOD, **changes}.items() if v is not None}
    return params.read_call(given, zone="Asia/Shanghai", now=NOW, window=timedelta(minutes=15))


@pytest.mark.parametrize("name,sub_code", [
    ("app_id", "isv.missing-app-id"), ("method", "isv.missing-method"),
    ("sign", "isv.missing-signature"), ("sign_type", "isv.missing-signature-type"),
    ("timestamp", "isv.missing-timestamp"), ("version", "isv.missing-version"),
])
def test_each_missing_common_parameter_has_its_code(name, sub_code):
    with pytest.raises(errors.GatewayFailure) as failure:
        _read(**{name: None})
    assert (failure.value.code, failure.value.sub_code) == ("40001", sub_code)


@pytest.mark.parametrize("changes,sub_code", [
    ({"sign_type": "MD5"}, "isv.invalid-signature-type"),
    ({"format": "xml"}, "isv.invalid-format"),
    ({"charset": "gbk"}, "isv.invalid-charset"),
    ({"timestamp": "2026/12/07 14:03"}, "isv.invalid-timestamp"),
    ({"timestamp": "2026-12-07 13:44:00"}, "isv.invalid-timestamp"),  # 16 minutes early
    ({"timestamp": "2026-12-07 06:00:00"}, "isv.invalid-timestamp"),  # UTC, not Beijing time
])
def test_invalid_common_parameters(changes, sub_code):
    with pytest.raises(errors.GatewayFailure) as failure:
        _read(**changes)
    assert (failure.value.code, failure.value.sub_code) == ("40002", sub_code)


@hyp_settings(max_examples=400, deadline=None)
@given(st.one_of(
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S")),
    st.from_regex(r"\A[0-9]{1,4}-[0-9]{1,2}-[0-9]{1,2} [0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2} ?\Z"),
    st.text(alphabet="0123456789-: ", max_size=20),
))
def test_timestamps_are_read_as_strptime_reads_them(text):
    try:
        expected = datetime.strptime(text, params.TIMESTAMP_FORMAT)
    except ValueError:
        with pytest.raises(errors.GatewayFailure):
            params.parse_timestamp(text, "Asia/Shanghai")
        return
    read = params.parse_timestamp(text, "Asia/Shanghai")
    assert read.replace(tzinfo=None) == expected and str(read.tzinfo) == "Asia/Shanghai"


def test_a_call_within_the_window_is_read():
    call = _read(timestamp="2026-12-07 13:46:00", charset="UTF-8")
    assert call.method == "alipay.user.info.share" and call.timestamp.utcoffset()


def test_query_and_form_merge_but_must_agree():
    merged = params.merge(
        params.decode_form(b"a=1&b=%E4%B8%AD"), params.decode_form(b"b=%E4%B8%AD&c=+")
    )
    assert merged == {"a": "1", "b": "中", "c": " "}
    with pytest.raises(errors.GatewayFailure) as failure:
        params.merge([("a", "1")], [("a", "2")])
    assert failure.value.sub_code == "isv.invalid-parameter"
    with pytest.raises(errors.GatewayFailure):
        params.decode_form(b"a=%FF")


def test_biz_content_amounts_as_strings_or_numbers_and_escapes():
    call = _read(biz_content='{"total_amount":12.5,"subject":"\\u82f9\\u679c","x":"12.50"}')
    assert call.biz() == {"total_amount": 12.5, "subject": "苹果", "x": "12.50"}
    with pytest.raises(errors.GatewayFailure):
        _read(biz_content="[1]").biz()
