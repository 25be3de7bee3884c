"""The public method reference: every method in the table has a page, and each page's parameter
table, example and errors come from the very schema the gateway validates with (so a page
cannot drift from the gateway)."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest

from townsquare.app import GATEWAY_METHODS
from townsquare.core.i18n import catalogue
from townsquare.gateway import reference
from townsquare.gateway.methods import PACKAGES, Method
from townsquare.gateway.schema import KINDS, derived_errors

ROW = re.compile(r'data-param="([^"]+)" data-type="([^"]+)" data-required="(yes|no)"')


def _pre(html: str, element_id: str) -> str:
    return unescape(re.search(rf'<pre class="wire" id="{element_id}">(.*?)</pre>', html,
                              re.S).group(1))


def test_the_list_has_every_method_of_the_table(client):
    page = client.get("/open/methods")
    assert page.status_code == 200 and "开放平台接口" in page.text
    listed = re.findall(r'<tr data-method="([^"]+)">', page.text)
    assert sorted(listed) == sorted(m.name for m in GATEWAY_METHODS)
    assert set(reference.PACKAGE_NAMES) == set(PACKAGES)


@pytest.mark.parametrize("method", GATEWAY_METHODS, ids=lambda m: m.name)
def test_each_method_page_is_its_schema(client, method: Method):
    page = client.get(f"/open/methods/{method.name}")
    assert page.status_code == 200
    html = page.text
    assert catalogue("zh_CN")[method.summary] in html  # zh-CN by default
    assert ROW.findall(html) == [
        (f.name, KINDS[f.kind], "yes" if f.required else "no") for f in method.fields
    ]
    assert _pre(html, "response-wire") == reference.example_response(method)
    wire = json.loads(_pre(html, "response-wire"))
    assert list(wire) == [method.name.replace(".", "_") + "_response", "sign"]
    assert wire[list(wire)[0]] == {"code": "10000", "msg": "Success",
                                   **method.example.response}
    sent = dict(line.split("=", 1) for line in _pre(html, "request-params").splitlines())
    assert sent["method"] == method.name and "sign" in sent
    top = {f.name: sent[f.name] for f in method.fields if f.source != "biz_content"
           and f.name in sent}
    biz = json.loads(sent.get("biz_content", "{}"))
    assert {**biz, **top} == {k: str(v) if k in top else v
                              for k, v in method.example.request.items()}
    shown = set(re.findall(r'<tr data-error="([^"]+)">', html))
    assert {e.sub_code for e in (*derived_errors(method.fields), *method.errors)} <= shown
    assert {"isv.insufficient-isv-permissions", "isv.app-call-limited"} <= shown


def test_english_on_asking_and_unknown_methods(client):
    english = unescape(client.get("/open/methods/townsquare.marketing.points.query?lang=en").text)
    assert "The points balance of the mini-app's merchant" in english
    assert "Request parameters" in english and "How many ledger lines" in english
    assert client.get("/open/methods/alipay.no.such").status_code == 404


def test_every_reference_string_has_its_chinese(client):
    zh = catalogue("zh_CN")
    strings = {*reference.PACKAGE_NAMES.values(), *(e.description for e in
                                                    reference.GATEWAY_ERRORS)}
    for method in GATEWAY_METHODS:
        strings |= {method.summary, *(f.description for f in method.fields),
                    *(e.description for e in (*method.errors, *derived_errors(method.fields)))}
    assert sorted(s for s in strings if s not in zh) == []


def test_every_package_has_its_reference_name():
    from townsquare.gateway.methods import PACKAGES
    from townsquare.gateway.reference import PACKAGE_NAMES

    assert set(PACKAGE_NAMES) == set(PACKAGES)
