"""The API keys page: a key is shown in full once, when created; revoking takes effect at once."""
from __future__ import annotations

import re

import pytest

from app.models import ApiKey
from app.services.accounts import create_api_key
from tests.dashboard.conftest import fresh, full_page, htmx_fragment

KEY_TEXT = re.compile(r'id="new-key-text" class="secret" value="([^"]+)"')


@pytest.fixture
def admin(login_as):
    return login_as("admin")


def test_page_lists_keys_without_secrets(admin, account, other_account):
    key, text = create_api_key(account, "billing")
    stranger, _ = create_api_key(other_account[0], "their key")
    html = full_page(admin.get("/api-keys"))
    assert key.display in html and "billing" in html and "never" in html
    assert text not in html and text.rsplit("_", 1)[1] not in html
    assert stranger.key_id not in html and "their key" not in html


def test_htmx_get_returns_only_the_rows(admin, account):
    key, _ = create_api_key(account, "billing")
    html = htmx_fragment(admin.get("/api-keys", htmx=True))
    assert html.lstrip().startswith('<tbody id="api-key-rows"')
    assert key.display in html and "new-api-key" not in html


def test_create_shows_the_full_key_once_and_it_works(admin, client):
    response = admin.post("/api-keys", {"name": "crm"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = full_page(response)
    text = KEY_TEXT.search(html).group(1)
    assert "it is not shown again" in html and 'data-copy="new-key-text"' in html
    assert client.get("/v1/sms/stats", headers={"X-API-Key": text}).status_code == 200

    later = admin.get("/api-keys").get_data(as_text=True)
    assert text not in later and "crm" in later
    with admin.client.session_transaction() as session:
        assert text not in repr(dict(session))  # never parked in the (client-side) session


def test_create_with_htmx_returns_the_key_panel_and_rows(admin):
    response = admin.post("/api-keys", {"name": "hx"}, htmx=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    html = htmx_fragment(response)
    assert html.lstrip().startswith('<section id="new-api-key">')
    text = KEY_TEXT.search(html).group(1)
    key = ApiKey.query.filter_by(name="hx").one()
    assert text.startswith(f"{key.prefix}_{key.key_id}_")
    assert '<tbody id="api-key-rows" hx-swap-oob="true">' in html and key.display in html


def test_name_too_long_is_refused(admin):
    response = admin.post("/api-keys", {"name": "x" * 121}, htmx=True)
    assert response.status_code == 422
    assert "Field cannot be longer than 120 characters." in htmx_fragment(response)
    assert ApiKey.query.count() == 0


def test_script_in_a_key_name_is_rendered_escaped(admin):
    admin.post("/api-keys", {"name": "<script>alert(1)</script>"})
    html = admin.get("/api-keys").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)</script>" not in html


def test_revoke_with_htmx_redraws_the_row_and_the_key_stops_working(admin, account, client):
    key, text = create_api_key(account, "old")
    response = admin.post(f"/api-keys/{key.id}/revoke", htmx=True)
    assert response.status_code == 200
    html = htmx_fragment(response)
    assert html.lstrip().startswith(f'<tr id="api-key-{key.id}"')
    assert "revoked" in html and "Revoke</button>" not in html
    assert fresh(ApiKey, key.id).revoked_at is not None
    assert client.get("/v1/sms/stats", headers={"X-API-Key": text}).status_code == 401


def test_revoke_without_javascript_redirects(admin, account):
    key, _ = create_api_key(account, "old")
    response = admin.post(f"/api-keys/{key.id}/revoke")
    assert response.status_code == 303 and response.headers["Location"] == "/api-keys"
    assert "Revoked" in admin.get("/api-keys").get_data(as_text=True)


def test_another_accounts_key_is_404(admin, other_account, client):
    key, text = create_api_key(other_account[0], "theirs")
    assert admin.post(f"/api-keys/{key.id}/revoke").status_code == 404
    assert admin.post(f"/api-keys/{key.id}/revoke", htmx=True).status_code == 404
    assert fresh(ApiKey, key.id).revoked_at is None
    assert client.get("/v1/sms/stats", headers={"X-API-Key": text}).status_code == 200


@pytest.mark.parametrize("role", ["manager", "marketer", "viewer"])
def test_only_admins_manage_keys(login_as, account, role):
    key, _ = create_api_key(account, "k")
    browser = login_as(role)
    assert browser.get("/api-keys").status_code == 403
    assert browser.post("/api-keys", {"name": "x"}).status_code == 403
    assert browser.post(f"/api-keys/{key.id}/revoke", htmx=True).status_code == 403
    assert fresh(ApiKey, key.id).revoked_at is None
