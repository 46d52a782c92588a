"""Roles on every view, CSRF on every change, and the HTML error pages next to the JSON API."""
from __future__ import annotations

import pytest

from tests.dashboard.conftest import full_page, htmx_fragment

PUBLIC = {"dashboard.login", "dashboard.docs"}
ANY_ID = "00000000-0000-0000-0000-000000000000"


def dashboard_rules(app):
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("dashboard.")]


def _path(rule) -> str:
    return rule.rule.replace("<user_id>", ANY_ID).replace("<key_id>", ANY_ID).replace("<profile_id>", ANY_ID)


def test_every_dashboard_view_declares_who_may_use_it(app):
    for rule in dashboard_rules(app):
        view = app.view_functions[rule.endpoint]
        if rule.endpoint in PUBLIC:
            assert getattr(view, "public", False), rule.endpoint
        else:
            assert getattr(view, "allowed_roles", None), f"{rule.endpoint} has no @role_required"


def test_a_view_without_a_declaration_is_refused(ctx, login_as):
    """The guard fails closed: a view someone forgets to decorate answers 403, not its content."""
    view = ctx.view_functions["dashboard.home"]
    roles = view.allowed_roles
    del view.allowed_roles
    try:
        assert login_as("admin").get("/").status_code == 403
    finally:
        view.allowed_roles = roles


# Which roles may open each page.
PAGES = {
    "/": {"admin", "manager", "marketer", "viewer"},
    "/sender-profiles": {"admin", "manager", "marketer", "viewer"},
    "/api-keys": {"admin"},
    "/users": {"admin"},
}


@pytest.mark.parametrize("role", ["admin", "manager", "marketer", "viewer"])
def test_pages_by_role(login_as, role):
    browser = login_as(role)
    for path, roles in PAGES.items():
        expected = 200 if role in roles else 403
        assert browser.get(path).status_code == expected, (role, path)
        assert browser.get(path, htmx=True).status_code == expected, (role, path, "htmx")


@pytest.mark.parametrize("role", ["admin", "manager", "marketer", "viewer"])
def test_navigation_shows_only_what_the_role_may_open(login_as, role):
    html = login_as(role).get("/").get_data(as_text=True)
    nav = html.split('<ul class="nav">')[1].split("</ul>")[0]
    for path, roles in PAGES.items():
        assert (f'href="{path}"' in nav) == (role in roles), (role, path)
    assert 'href="/docs"' in nav


def test_viewer_gets_403_on_every_change(app, login_as):
    """Hand-crafted POSTs (with a valid CSRF token, as the viewer's own page would give) to every
    state-changing endpoint, as a form and as an HTMX request."""
    viewer = login_as("viewer")
    # Every user may sign out and change their own password (tests/security/test_passwords.py),
    # and end their other sessions (tests/security/test_sessions.py).
    posts = [rule for rule in dashboard_rules(app) if "POST" in rule.methods and rule.endpoint not in PUBLIC
             and rule.endpoint not in ("dashboard.logout", "dashboard.change_password",
                                       "dashboard.sign_out_everywhere_else")]
    assert len(posts) >= 11
    for rule in posts:
        form = {"role": "admin", "name": "x", "sender_id": "+4799999999"}
        assert viewer.post(_path(rule), form).status_code == 403, rule
        assert viewer.post(_path(rule), {"role": "admin"}, htmx=True).status_code == 403, rule


@pytest.mark.parametrize("role", ["manager", "marketer"])
def test_admin_only_changes_are_403_for_other_roles(login_as, role):
    browser = login_as(role)
    for path in ("/users", f"/users/{ANY_ID}/role", f"/users/{ANY_ID}/deactivate", "/api-keys",
                 f"/api-keys/{ANY_ID}/revoke", f"/sender-profiles/{ANY_ID}/approve",
                 f"/sender-profiles/{ANY_ID}/reject"):
        assert browser.post(path, {"role": "admin"}).status_code == 403, path


def test_every_change_needs_the_csrf_token(app, login_as):
    admin = login_as("admin")
    for rule in dashboard_rules(app):
        if "POST" in rule.methods:
            response = admin.post(_path(rule), {"name": "x"}, csrf=False)
            assert response.status_code == 400, rule
    # A token from another session does not do either.
    other = login_as("admin")
    assert admin.post("/api-keys", {"name": "x", "csrf_token": other.token}, csrf=False).status_code == 400


def test_csrf_failure_page_is_html_and_for_htmx_a_flash_message(login_as):
    admin = login_as("admin")
    page = admin.post("/api-keys", {"name": "x"}, csrf=False)
    assert page.status_code == 400
    assert "security token" in full_page(page)
    fragment = admin.request("POST", "/api-keys", data={"name": "x"}, htmx=True)
    assert fragment.status_code == 400
    assert 'class="flash error"' in htmx_fragment(fragment)


def test_the_json_api_is_exempt_from_csrf(client, auth, app):
    from app.extensions import csrf

    exempt = {bp.name for bp in csrf._exempt_blueprints}
    assert {"sms", "meta"} <= exempt
    assert "dashboard" not in exempt
    response = client.post("/v1/sms/send", json={"to": "+4799999999", "message": "Hi"}, headers=auth)
    assert response.status_code == 200, response.json
    response = client.post("/v1/dashboard/sms/send", json={"to": "+4799999999", "message": "Hi"}, headers=auth)
    assert response.status_code == 200, response.json


class TestErrorPages:
    def test_403_is_an_html_page(self, login_as):
        response = login_as("viewer").get("/users")
        assert response.status_code == 403
        assert "Not allowed" in full_page(response)

    def test_403_for_htmx_is_a_message_for_the_flash_area(self, login_as):
        response = login_as("viewer").get("/users", htmx=True)
        assert response.status_code == 403
        html = htmx_fragment(response)
        assert 'class="flash error"' in html and "Not allowed" in html

    def test_404_is_an_html_page_outside_the_api(self, login_as, browser):
        for who in (browser, login_as("viewer")):
            response = who.get("/no-such-page")
            assert response.status_code == 404
            assert "Not found" in full_page(response)

    def test_the_api_keeps_its_json_errors(self, client, auth):
        response = client.get("/v1/no-such-thing", headers=auth)
        assert response.status_code == 404
        assert response.json["error"]["code"] == "not_found"
        response = client.get("/v1/sms/messages/nope")
        assert response.status_code == 401 and response.is_json

    def test_405_page(self, login_as):
        response = login_as("admin").request("DELETE", "/users")
        assert response.status_code == 405
        assert "Allow" in response.headers
        assert "Method not allowed" in full_page(response)

    def test_500_is_an_html_page_and_logged(self, ctx, login_as, monkeypatch, caplog):
        import app.dashboard.home as home

        admin = login_as("admin")

        def broken(_account):
            raise RuntimeError("boom")

        monkeypatch.setattr(home, "service_status", broken)
        monkeypatch.setitem(ctx.config, "PROPAGATE_EXCEPTIONS", False)
        response = admin.get("/")
        assert response.status_code == 500
        html = full_page(response)
        assert "Something went wrong" in html and "boom" not in html
        assert "boom" in caplog.text
