"""Security headers on every response, set in one place.

The dashboard loads only its own scripts and styles (no inline <script>, <style>, style="" or
on*= attributes anywhere in templates/, which tests/test_security_headers.py checks), so its
Content-Security-Policy can forbid everything inline: an injected snippet of HTML cannot run.
The /v1 API returns JSON only and needs no content of any kind. A header a view set on purpose is
kept (``setdefault``)."""
from __future__ import annotations

from flask import Flask, Response, request

DASHBOARD_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "object-src 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"

EVERY_RESPONSE = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# Only over HTTPS: sent on plain http it would pin a host that may have no certificate yet
# (browsers ignore it there anyway). ProxyFix makes request.is_secure honest behind a proxy.
HSTS = "max-age=31536000"


def content_security_policy(path: str) -> str:
    return API_CSP if path == "/v1" or path.startswith("/v1/") else DASHBOARD_CSP


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy(request.path))
    for name, value in EVERY_RESPONSE.items():
        headers.setdefault(name, value)
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_security_headers)
