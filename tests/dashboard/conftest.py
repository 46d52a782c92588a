"""Dashboard fixtures: a browser-like test client and signed-in users of each role.

Each request runs in its own application context, as in production. The suite's ``ctx`` fixture
keeps one context open for the whole test, and Flask reuses an open context for requests, so
``g`` (where Flask-Login keeps the current user and Flask-WTF the CSRF token) and the database
session would otherwise carry over from one request, or one user, to the next.
"""
from __future__ import annotations

import itertools
import re

import pytest

from app.extensions import db

PASSWORD = "correct horse battery"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
_numbers = itertools.count(1)


class Browser:
    """A test client that uses the dashboard as a browser does: it reads the CSRF token from the
    last page it fetched and sends it with every POST (as a form field, or for HTMX requests as
    the ``X-CSRFToken`` header that base.html's ``hx-headers`` adds)."""

    def __init__(self, app, remote_addr: str = "127.0.0.1") -> None:
        self.app = app
        self.client = app.test_client()
        self.client.environ_base["REMOTE_ADDR"] = remote_addr
        self.token: str | None = None
        self.user = None

    def request(self, method: str, path: str, *, htmx: bool = False, headers: dict | None = None, **kwargs):
        headers = dict(headers or {})
        if htmx:
            headers["HX-Request"] = "true"
        with self.app.app_context():
            response = self.client.open(path, method=method, headers=headers, **kwargs)
        if found := CSRF_META.search(response.get_data(as_text=True)):
            self.token = found.group(1)
        return response

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path: str, data: dict | None = None, *, csrf: bool = True, htmx: bool = False,
             headers: dict | None = None, **kwargs):
        data = dict(data or {})
        headers = dict(headers or {})
        if csrf:
            if self.token is None:
                self.get("/login" if self.user is None else "/")
            if htmx:
                headers["X-CSRFToken"] = self.token
            else:
                data["csrf_token"] = self.token
        return self.request("POST", path, data=data, htmx=htmx, headers=headers, **kwargs)

    def login(self, email: str, password: str = PASSWORD, remember: bool = False):
        self.get("/login")
        form = {"email": email, "password": password}
        if remember:
            form["remember"] = "y"
        response = self.post("/login", form)
        if response.status_code == 303:
            self.get(response.headers["Location"])  # the new session's page, with its CSRF token
        return response

    def cookie(self, name: str):
        return self.client.get_cookie(name)


def fresh(model, object_id: str):
    """The row as the database has it now (requests commit through their own sessions)."""
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(model, object_id)


@pytest.fixture
def browser(ctx) -> Browser:
    """Nobody signed in yet."""
    return Browser(ctx)


@pytest.fixture
def make_user(account):
    from app.services.accounts import create_user

    def make(role: str = "admin", of_account=None, email: str | None = None, password: str = PASSWORD):
        email = email or f"{role}{next(_numbers)}@example.com"
        return create_user(of_account or account, email, password, role)

    return make


@pytest.fixture
def login_as(ctx, make_user):
    """``login_as("viewer")``: a Browser signed in as a new user with that role (of the ``account``
    fixture unless another is given), holding the CSRF token of its new session."""

    def login(role: str = "admin", of_account=None, remember: bool = False) -> Browser:
        user = make_user(role, of_account)
        browser = Browser(ctx)
        response = browser.login(user.email, remember=remember)
        assert response.status_code == 303, response.get_data(as_text=True)
        browser.user = user
        return browser

    return login


def htmx_fragment(response) -> str:
    """The body of an HTMX answer, checked to be a fragment rather than a whole page."""
    assert response.headers.get("Vary") and "HX-Request" in response.headers["Vary"]
    html = response.get_data(as_text=True)
    assert "<html" not in html and "<!doctype" not in html.lower()
    return html


def full_page(response) -> str:
    assert "HX-Request" in response.headers.get("Vary", "")
    html = response.get_data(as_text=True)
    assert html.lstrip().lower().startswith("<!doctype html>") and "</html>" in html
    return html
