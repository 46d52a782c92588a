"""Security headers on every kind of response, and templates that keep the dashboard's strict
Content-Security-Policy possible (nothing inline to allow). The browser side, that htmx and
Chart.js really run under the policy, is checked by the e2e journeys (no "Refused to" in the
console)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.security_headers import API_CSP, DASHBOARD_CSP, EVERY_RESPONSE, HSTS
from tests.dashboard.conftest import PASSWORD, Browser

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def assert_common_headers(response) -> None:
    for name, value in EVERY_RESPONSE.items():
        assert response.headers.get(name) == value, name


def test_the_policies_say_what_the_brief_asks():
    assert DASHBOARD_CSP == (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; "
        "object-src 'none'")
    assert API_CSP == "default-src 'none'; frame-ancestors 'none'"
    assert EVERY_RESPONSE == {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
        "Cross-Origin-Opener-Policy": "same-origin",
    }


@pytest.mark.parametrize("path", ["/login", "/docs"])
def test_dashboard_pages_get_the_dashboard_policy(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == DASHBOARD_CSP
    assert_common_headers(response)
    assert "Strict-Transport-Security" not in response.headers


def test_a_signed_in_dashboard_page_and_its_htmx_fragment(ctx, account):
    from app.services.accounts import create_user

    admin = Browser(ctx)
    assert admin.login(create_user(account, "csp-admin@example.com", PASSWORD, "admin").email).status_code == 303
    for htmx in (False, True):
        response = admin.get("/contacts", htmx=htmx)
        assert response.status_code == 200
        assert response.headers["Content-Security-Policy"] == DASHBOARD_CSP
        assert_common_headers(response)


def test_api_responses_get_the_api_policy(client, auth):
    for path, headers, status in [("/v1/ping", {}, 200), ("/v1/openapi.json", {}, 200),
                                  ("/v1/sms/messages", auth, 200), ("/v1/sms/messages", {}, 401),
                                  ("/v1/no-such-thing", auth, 404)]:
        response = client.get(path, headers=headers)
        assert response.status_code == status, path
        assert response.headers["Content-Security-Policy"] == API_CSP, path
        assert_common_headers(response)


def test_error_page_and_static_file(client):
    missing = client.get("/no-such-page")
    assert missing.status_code == 404
    assert missing.headers["Content-Security-Policy"] == DASHBOARD_CSP
    assert_common_headers(missing)

    for path in ["/static/app.css", "/static/vendor/htmx.min.js"]:
        static = client.get(path)
        assert static.status_code == 200, path
        assert static.headers["Content-Security-Policy"] == DASHBOARD_CSP
        assert_common_headers(static)
        static.close()


@pytest.mark.parametrize("path", ["/login", "/v1/ping", "/no-such-page", "/static/app.css"])
def test_hsts_only_over_https(client, path):
    plain = client.get(path)
    secure = client.get(path, base_url="https://localhost")
    assert "Strict-Transport-Security" not in plain.headers
    assert secure.headers["Strict-Transport-Security"] == HSTS
    assert_common_headers(secure)
    plain.close()
    secure.close()


def test_a_header_a_view_set_is_kept(app):
    from flask import Response

    from app.security_headers import add_security_headers

    own = Response("ok", headers={"X-Frame-Options": "SAMEORIGIN", "Content-Security-Policy": "default-src *"})
    with app.test_request_context("/docs"):
        response = add_security_headers(own)
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["Content-Security-Policy"] == "default-src *"
    assert response.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


# What the dashboard policy would block (or what would need 'unsafe-eval' in htmx): any of it in a
# template breaks the page in the browser, silently but for a console line.
INLINE = [
    ("inline <script> with content", re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>\s*\S", re.I)),
    ("on*= event handler attribute", re.compile(r"\son[a-z]+\s*=", re.I)),
    ("style= attribute", re.compile(r"\sstyle\s*=", re.I)),
    ("<style> block", re.compile(r"<style\b", re.I)),
    ("hx-on attribute", re.compile(r"\b(?:data-)?hx-on", re.I)),
]
TEMPLATE_FILES = sorted(TEMPLATES.rglob("*.html"))


def test_templates_are_found():
    assert len(TEMPLATE_FILES) > 50
    assert TEMPLATES / "base.html" in TEMPLATE_FILES


@pytest.mark.parametrize("template", TEMPLATE_FILES, ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_no_inline_script_or_style_in_templates(template):
    text = template.read_text(encoding="utf-8")
    found = [f"{what}: {m.group(0)!r}" for what, pattern in INLINE for m in pattern.finditer(text)]
    assert not found, found


@pytest.mark.parametrize("what, snippet", [
    ("inline <script> with content", '<script>alert(1)</script>'),
    ("inline <script> with content", '<script type="module">\n x()</script>'),
    ("on*= event handler attribute", '<button onclick="go()">'),
    ("style= attribute", '<div style="color: red">'),
    ("<style> block", '<style>.a{}</style>'),
    ("hx-on attribute", '<button hx-on:click="x()">'),
    ("hx-on attribute", '<button hx-on::after-request="x()">'),
])
def test_the_scan_catches_each_kind(what, snippet):
    pattern = dict(INLINE)[what]
    assert pattern.search(snippet)


@pytest.mark.parametrize("snippet", [
    '<script src="/static/app.js" defer></script>',
    '<button data-confirm="x" hx-confirm="Delete?">',
    '<p class="hint">Turn the option on=off</p>',
])
def test_the_scan_allows_what_is_fine(snippet):
    assert not any(pattern.search(snippet) for _, pattern in INLINE)
