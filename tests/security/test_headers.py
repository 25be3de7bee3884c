"""Security headers on every response: no framing by other sites, no MIME sniffing, and a
Content-Security-Policy the pages satisfy (every inline script carries the request's nonce, no
inline event handlers, scripts only from /static)."""

from __future__ import annotations

import re
from pathlib import Path

import townsquare

TEMPLATES = sorted(Path(townsquare.__file__).parent.rglob("templates/**/*.html"))


def test_pages_and_api_carry_the_headers(client):
    for path in ("/", "/login", "/api/health", "/no-such-page"):
        response = client.get(path)
        assert response.headers["x-frame-options"] == "SAMEORIGIN"
        assert response.headers["x-content-type-options"] == "nosniff"
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'self'" in csp and "object-src 'none'" in csp
        assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]


def test_each_request_gets_its_own_nonce(client):
    first = client.get("/login").headers["content-security-policy"]
    second = client.get("/login").headers["content-security-policy"]
    assert re.search(r"'nonce-[\w-]+'", first) and first != second


def test_templates_have_no_script_the_policy_would_block():
    for template in TEMPLATES:
        text = template.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", text):
            inline = "src=" not in tag and 'type="application/json"' not in tag
            assert not inline or 'nonce="{{ csp_nonce }}"' in tag, (template.name, tag)
            assert "src=" not in tag or 'src="/static/' in tag, (template.name, tag)
        assert not re.search(r"\son[a-z]+=\"", text), template.name  # inline handlers
        assert "javascript:" not in text, template.name


def test_the_container_page_nonce_matches_its_inline_script(client, database, make_user):
    from tests.miniapps.shell_data import browser_login, make_miniapp

    app = make_miniapp(database, runtime="storefront")
    browser_login(client, make_user())
    page = client.get(f"/apps/{app.id}")
    assert page.status_code == 200
    nonce = re.search(r"'nonce-([\w-]+)'", page.headers["content-security-policy"]).group(1)
    assert f'<script nonce="{nonce}">' in page.text
    framed = client.get(re.search(r'<iframe id="miniapp-frame"[^>]* src="([^"]+)"',
                                  page.text).group(1).replace("&amp;", "&"))
    assert framed.status_code == 200  # the shell frames its own /run/… page: allowed
    assert framed.headers["x-frame-options"] == "SAMEORIGIN"
