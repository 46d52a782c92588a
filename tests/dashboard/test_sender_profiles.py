"""The sender profiles page: everyone reads; admins and marketers add, pick the default, delete;
admins approve or reject brand senders. Validation is the API's (app.services.senders)."""
from __future__ import annotations

import pytest

from app.models import SenderProfile
from app.services.senders import create_profile, list_profiles
from tests.dashboard.conftest import fresh, full_page, htmx_fragment


def _brand(account, name="Brand", sender_id="ACME"):
    return create_profile(account, name, sender_id, brand_confirmation=True)


def test_page_lists_profiles_with_status_badges(login_as, account, other_account):
    _brand(account)
    create_profile(other_account[0], "Theirs", "+4791111111")
    html = full_page(login_as("admin").get("/sender-profiles"))
    assert '<span class="badge approved">approved</span>' in html
    assert '<span class="badge pending">pending</span>' in html
    assert '<span class="badge default">default</span>' in html
    assert "ACME" in html and "Theirs" not in html
    assert 'id="new-sender-profile"' in html


def test_htmx_get_returns_only_the_rows(login_as, account):
    _brand(account)
    html = htmx_fragment(login_as("viewer").get("/sender-profiles", htmx=True))
    assert html.lstrip().startswith('<tbody id="sender-profile-rows"')
    assert "ACME" in html and "new-sender-profile" not in html


@pytest.mark.parametrize("role", ["viewer", "manager"])
def test_read_only_roles_see_no_controls(login_as, account, role):
    _brand(account)
    html = login_as(role).get("/sender-profiles").get_data(as_text=True)
    assert "ACME" in html
    for control in ("new-sender-profile", ">Approve<", ">Reject<", ">Delete<", ">Make default<"):
        assert control not in html, control


def test_marketer_sees_edit_controls_but_not_approval(login_as, account):
    _brand(account)
    html = login_as("marketer").get("/sender-profiles").get_data(as_text=True)
    assert "new-sender-profile" in html and ">Delete<" in html
    assert ">Approve<" not in html and ">Reject<" not in html


@pytest.mark.parametrize("role", ["admin", "marketer"])
def test_create_a_number_sender(login_as, account, role):
    browser = login_as(role)
    response = browser.post("/sender-profiles", {"name": "Support", "sender_id": "+4791234567", "allow_reply": "y"})
    assert response.status_code == 303 and response.headers["Location"] == "/sender-profiles"
    assert "Added sender profile Support (+4791234567)." in browser.get("/sender-profiles").get_data(as_text=True)
    profile = next(p for p in list_profiles(account) if p.name == "Support")
    assert profile.approval_status == "approved" and profile.allow_reply and not profile.is_default


def test_create_with_htmx_returns_a_fresh_form_and_the_rows(login_as):
    response = login_as("marketer").post(
        "/sender-profiles", {"name": "Shop", "sender_id": "SHOP", "brand_confirmation": "y"}, htmx=True)
    assert response.status_code == 200
    html = htmx_fragment(response)
    assert html.lstrip().startswith('<form id="new-sender-profile"')
    assert 'value="Shop"' not in html
    assert '<tbody id="sender-profile-rows" hx-swap-oob="true">' in html
    assert '<span class="badge pending">pending</span>' in html
    assert "it can send once an admin approves it" in html


def test_brand_sender_needs_the_brand_confirmation_next_to_that_box(login_as):
    response = login_as("admin").post("/sender-profiles", {"name": "Shop", "sender_id": "SHOP"}, htmx=True)
    assert response.status_code == 422
    html = htmx_fragment(response)
    assert 'id="brand_confirmation-error">A custom alphanumeric sender ID requires brand_confirmation' in html


@pytest.mark.parametrize("sender_id, message", [
    ("BLÅBÆR", "Sender ID may not contain Æ, Ø or Å"),
    ("", "Sender ID must not be empty"),
    (" ACME", "Sender ID must not start or end with spaces"),
])
def test_invalid_sender_id_is_shown_next_to_the_sender_id(login_as, sender_id, message):
    response = login_as("admin").post(
        "/sender-profiles", {"name": "X", "sender_id": sender_id, "brand_confirmation": "y"})
    assert response.status_code == 422
    html = full_page(response)
    error = html.split('id="sender_id-error">')[1].split("</p>")[0]
    assert message in error


def test_empty_name_is_shown_next_to_the_name(login_as):
    response = login_as("admin").post("/sender-profiles", {"name": "", "sender_id": "+4791234567"}, htmx=True)
    assert response.status_code == 422
    assert 'id="name-error">name must be a non-empty string' in htmx_fragment(response)


def test_script_in_a_name_is_rendered_escaped(login_as):
    browser = login_as("admin")
    browser.post("/sender-profiles", {"name": "<script>alert(1)</script>", "sender_id": "+4791234567"})
    html = browser.get("/sender-profiles").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)</script>" not in html


class TestReview:
    def test_admin_approves_with_htmx(self, login_as, account):
        brand = _brand(account)
        response = login_as("admin").post(f"/sender-profiles/{brand.id}/approve", htmx=True)
        assert response.status_code == 200
        html = htmx_fragment(response)
        assert html.lstrip().startswith('<tbody id="sender-profile-rows"')
        assert "Approved Brand." in html
        assert fresh(SenderProfile, brand.id).approval_status == "approved"

    def test_admin_rejects(self, login_as, account):
        brand = _brand(account)
        response = login_as("admin").post(f"/sender-profiles/{brand.id}/reject")
        assert response.status_code == 303
        assert fresh(SenderProfile, brand.id).approval_status == "rejected"

    def test_the_default_cannot_be_rejected(self, login_as, account):
        default = next(p for p in list_profiles(account) if p.is_default)
        response = login_as("admin").post(f"/sender-profiles/{default.id}/reject", htmx=True)
        assert response.status_code == 422
        assert "The default sender profile cannot be rejected" in htmx_fragment(response)
        assert fresh(SenderProfile, default.id).approval_status == "approved"

    @pytest.mark.parametrize("role", ["marketer", "manager", "viewer"])
    def test_only_admins_review(self, login_as, account, role):
        brand = _brand(account)
        browser = login_as(role)
        assert browser.post(f"/sender-profiles/{brand.id}/approve").status_code == 403
        assert browser.post(f"/sender-profiles/{brand.id}/reject", htmx=True).status_code == 403
        assert fresh(SenderProfile, brand.id).approval_status == "pending"


class TestDefault:
    def test_make_default(self, login_as, account):
        support = create_profile(account, "Support", "+4791234567")
        response = login_as("marketer").post(f"/sender-profiles/{support.id}/default", htmx=True)
        assert response.status_code == 200
        assert "Support is now the default sender." in htmx_fragment(response)
        assert [p.name for p in list_profiles(account) if fresh(SenderProfile, p.id).is_default] == ["Support"]

    def test_a_pending_profile_cannot_be_the_default(self, login_as, account):
        brand = _brand(account)
        admin = login_as("admin")
        response = admin.post(f"/sender-profiles/{brand.id}/default")
        assert response.status_code == 303
        assert "only an approved profile can be the default" in admin.get("/sender-profiles").get_data(as_text=True)
        assert not fresh(SenderProfile, brand.id).is_default


class TestDelete:
    def test_delete(self, login_as, account):
        support = create_profile(account, "Support", "+4791234567")
        response = login_as("marketer").post(f"/sender-profiles/{support.id}/delete", htmx=True)
        assert response.status_code == 200
        html = htmx_fragment(response)
        assert "Deleted Support." in html and "+4791234567" not in html
        assert fresh(SenderProfile, support.id) is None

    def test_the_only_profile_cannot_be_deleted(self, login_as, account):
        (only,) = list_profiles(account)
        browser = login_as("admin")
        response = browser.post(f"/sender-profiles/{only.id}/delete")
        assert response.status_code == 303
        assert "The only sender profile cannot be deleted" in browser.get("/sender-profiles").get_data(as_text=True)
        assert fresh(SenderProfile, only.id) is not None

    def test_deleting_the_default_hands_it_on(self, login_as, account):
        default = next(p for p in list_profiles(account) if p.is_default)
        support = create_profile(account, "Support", "+4791234567")
        login_as("admin").post(f"/sender-profiles/{default.id}/delete")
        assert fresh(SenderProfile, support.id).is_default


def test_another_accounts_profile_is_404_for_every_action(login_as, other_account):
    theirs = create_profile(other_account[0], "Theirs", "+4791111111")
    admin = login_as("admin")
    for action in ("default", "delete", "approve", "reject"):
        assert admin.post(f"/sender-profiles/{theirs.id}/{action}").status_code == 404, action
        assert admin.post(f"/sender-profiles/{theirs.id}/{action}", htmx=True).status_code == 404, action
    after = fresh(SenderProfile, theirs.id)
    assert after is not None and after.approval_status == "approved"
