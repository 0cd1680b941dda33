"""Issue 12, class 7, in process: the policy on every HTML answer, the HttpOnly root cookie,
and no data: (or other script-capable) link from stored Markdown."""

import pytest
from starlette.testclient import TestClient

from archiver.app import create_app, root_login_path
from archiver.web.headers import policy
from archiver.web.render import markdown

from conftest import LOCAL

LINKS = [
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)", "[x](data:image/png;base64,iVBORw0KGgo=)",
    "[x](DATA:image/svg+xml,<svg/onload=alert(1)>)", "[x](<data:text/html,hi>)", "<data:text/html,hi>",
    "[x](&#100;ata:text/html,hi)", "[x](javascript:alert(1))", "[x](JaVaScRiPt:alert(1))",
    "[x](vbscript:msgbox)", "[x](file:///etc/passwd)", "[x]: data:text/html,hi\n\n[x]", "[x](%64ata:text/html,hi)",
]


@pytest.mark.parametrize("source", LINKS)
def test_no_script_capable_link_is_rendered(source):
    html = str(markdown(source))
    assert "href=" not in html or 'href="%64ata' in html, html  # %64ata: is a relative path, not a scheme


def test_ordinary_links_still_render():
    assert str(markdown("[a](https://example.com/x)")) == '<p><a href="https://example.com/x">a</a></p>\n'


def test_the_policy_forbids_inline_script_without_the_nonce():
    text = policy("abc")
    assert "script-src 'self' 'nonce-abc' 'unsafe-hashes' 'sha256-" in text
    assert "'unsafe-inline'" not in text.split("style-src")[0] and "object-src 'none'" in text
    assert "frame-ancestors 'none'" in text and "base-uri 'none'" in text


def test_every_html_answer_has_the_policy_and_the_root_cookie_is_http_only(db_path):
    with TestClient(create_app(db_path, root=True), base_url=LOCAL, follow_redirects=False) as client:
        response = client.get(root_login_path(client.app))
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("ds_actor=") and "HttpOnly" in cookie
        nonces = set()
        for path in ["/", "/archive", "/archive/chatgpt_message", "/-/search?q=x", "/-/dashboard", "/-/published",
                     "/-/c/nope", "/nope", "/archive/-/query?sql=select+1", "/-/permissions"]:
            response = client.get(path)
            assert "text/html" in response.headers["content-type"], path
            header = response.headers["content-security-policy"]
            nonce = header.split("'nonce-")[1].split("'")[0]
            nonces.add(nonce)
            # Every <script> the page has carries this response's nonce.
            assert response.text.count("<script") == response.text.count(f'<script nonce="{nonce}"'), path
        assert len(nonces) == 10  # a fresh nonce per response
        assert "content-security-policy" not in client.get("/archive/chatgpt_message.json").headers
        assert "content-security-policy" not in client.get("/api/health").headers
