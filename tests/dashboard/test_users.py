"""The users page: admins list, add, change roles, deactivate and reactivate their account's users."""
from __future__ import annotations

import pytest

from app.models import User
from app.services.errors import Conflict, Forbidden
from tests.dashboard.conftest import PASSWORD, fresh, full_page, htmx_fragment


@pytest.fixture
def admin(login_as):
    return login_as("admin")


def test_page_lists_the_accounts_users_only(admin, make_user, other_account):
    marketer = make_user("marketer")
    stranger = make_user("admin", of_account=other_account[0])
    html = full_page(admin.get("/users"))
    assert admin.user.email in html and marketer.email in html
    assert stranger.email not in html
    assert 'id="new-user"' in html


def test_htmx_get_returns_only_the_rows(admin, make_user):
    marketer = make_user("marketer")
    html = htmx_fragment(admin.get("/users", htmx=True))
    assert html.lstrip().startswith('<tbody id="user-rows"')
    assert marketer.email in html and 'id="new-user"' not in html


def test_add_user(admin):
    response = admin.post("/users", {"email": "New@Example.com", "role": "marketer", "password": "long enough pw"})
    assert response.status_code == 303 and response.headers["Location"] == "/users"
    html = admin.get("/users").get_data(as_text=True)
    assert "Added new@example.com as marketer." in html
    user = User.query.filter_by(email="new@example.com").one()
    assert user.account_id == admin.user.account_id and user.role == "marketer"
    assert user.check_password("long enough pw")


def test_add_user_with_htmx_returns_a_fresh_form_and_the_rows_out_of_band(admin):
    response = admin.post("/users", {"email": "hx@example.com", "role": "viewer", "password": "long enough pw"},
                          htmx=True)
    assert response.status_code == 200
    html = htmx_fragment(response)
    assert html.lstrip().startswith('<form id="new-user"')
    assert 'value="hx@example.com"' not in html  # the form is cleared
    assert '<tbody id="user-rows" hx-swap-oob="true">' in html and "hx@example.com" in html
    assert 'id="flashes" class="flashes" role="status" aria-live="polite" hx-swap-oob="true"' in html
    assert "Added hx@example.com as viewer." in html


def test_new_user_can_sign_in(admin, app):
    from tests.dashboard.conftest import Browser

    admin.post("/users", {"email": "fresh@example.com", "role": "viewer", "password": "long enough pw"})
    assert Browser(app).login("fresh@example.com", "long enough pw").status_code == 303


@pytest.mark.parametrize("htmx", [False, True])
def test_short_password_is_shown_next_to_the_field(admin, htmx):
    response = admin.post("/users", {"email": "a@example.com", "role": "viewer", "password": "short"}, htmx=htmx)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert '<p class="error" id="password-error">Password must be at least 12 characters</p>' in html
    assert 'value="a@example.com"' in html  # what was typed is kept
    assert User.query.filter_by(email="a@example.com").count() == 0
    if htmx:
        assert html.lstrip().startswith('<form id="new-user"')


def test_duplicate_email_is_shown_next_to_the_email(admin, make_user, other_account):
    taken = make_user("viewer", of_account=other_account[0])
    response = admin.post("/users", {"email": taken.email, "role": "viewer", "password": "long enough pw"})
    assert response.status_code == 422
    assert f"A user with email &#39;{taken.email}&#39; already exists" in response.get_data(as_text=True)


def test_unknown_role_is_refused(admin):
    response = admin.post("/users", {"email": "r@example.com", "role": "superuser", "password": "long enough pw"})
    assert response.status_code == 422
    assert "Not a valid choice" in response.get_data(as_text=True)


def test_script_in_an_email_is_rendered_escaped(admin):
    email = "<script>alert(1)</script>@example.com"
    admin.post("/users", {"email": email, "role": "viewer", "password": "long enough pw"})
    html = admin.get("/users").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;@example.com" in html
    assert "<script>alert(1)</script>" not in html


class TestChangeRole:
    def test_change_role_with_htmx_redraws_the_row(self, admin, make_user):
        viewer = make_user("viewer")
        response = admin.post(f"/users/{viewer.id}/role", {"role": "manager"}, htmx=True)
        assert response.status_code == 200
        html = htmx_fragment(response)
        assert html.lstrip().startswith(f'<tr id="user-{viewer.id}"')
        assert '<option value="manager" selected>' in html
        assert f"{viewer.email} is now manager." in html
        assert fresh(User, viewer.id).role == "manager"

    def test_change_role_without_javascript_redirects(self, admin, make_user):
        viewer = make_user("viewer")
        response = admin.post(f"/users/{viewer.id}/role", {"role": "marketer"})
        assert response.status_code == 303 and response.headers["Location"] == "/users"
        assert fresh(User, viewer.id).role == "marketer"

    def test_cannot_change_own_role(self, admin):
        response = admin.post(f"/users/{admin.user.id}/role", {"role": "viewer"}, htmx=True)
        assert response.status_code == 422
        assert "You cannot change your own role" in htmx_fragment(response)
        assert fresh(User, admin.user.id).role == "admin"

    def test_invalid_role_in_the_row(self, admin, make_user):
        viewer = make_user("viewer")
        response = admin.post(f"/users/{viewer.id}/role", {"role": "root"}, htmx=True)
        assert response.status_code == 422
        assert fresh(User, viewer.id).role == "viewer"

    def test_another_accounts_user_is_404(self, admin, make_user, other_account):
        stranger = make_user("viewer", of_account=other_account[0])
        for path in (f"/users/{stranger.id}/role", f"/users/{stranger.id}/deactivate",
                     f"/users/{stranger.id}/reactivate"):
            assert admin.post(path, {"role": "admin"}).status_code == 404, path
            assert admin.post(path, {"role": "admin"}, htmx=True).status_code == 404, path
        assert fresh(User, stranger.id).role == "viewer" and fresh(User, stranger.id).is_active

    def test_unknown_id_is_404(self, admin):
        assert admin.post("/users/nope/role", {"role": "admin"}).status_code == 404


class TestActivation:
    def test_deactivate_and_reactivate(self, admin, make_user, app):
        from tests.dashboard.conftest import Browser

        marketer = make_user("marketer")
        response = admin.post(f"/users/{marketer.id}/deactivate", htmx=True)
        assert response.status_code == 200
        html = htmx_fragment(response)
        assert "deactivated" in html and "Reactivate" in html
        assert not fresh(User, marketer.id).is_active
        assert Browser(app).login(marketer.email).status_code == 401

        response = admin.post(f"/users/{marketer.id}/reactivate")
        assert response.status_code == 303
        assert fresh(User, marketer.id).is_active
        assert Browser(app).login(marketer.email).status_code == 303

    def test_cannot_deactivate_yourself(self, admin):
        response = admin.post(f"/users/{admin.user.id}/deactivate", htmx=True)
        assert response.status_code == 422
        assert "You cannot deactivate yourself" in htmx_fragment(response)
        assert fresh(User, admin.user.id).is_active

        response = admin.post(f"/users/{admin.user.id}/deactivate")
        assert response.status_code == 303
        assert "You cannot deactivate yourself" in admin.get("/users").get_data(as_text=True)

    def test_own_row_has_no_role_or_deactivate_controls(self, admin):
        html = admin.get("/users").get_data(as_text=True)
        own_row = html.split(f'<tr id="user-{admin.user.id}"')[1].split("</tr>")[0]
        assert "Deactivate" not in own_row and "<select" not in own_row


class TestLastActiveAdmin:
    """The rule behind the page (which also never offers an admin to change themselves)."""

    def test_the_last_active_admin_cannot_be_demoted_or_deactivated(self, make_user, account):
        from app.services.accounts import change_role, set_active

        only_admin = make_user("admin")
        other_admin = make_user("admin")
        other_admin.is_active = False
        actor = make_user("manager")  # whoever asks, the account keeps an active admin
        with pytest.raises(Conflict):
            change_role(actor, only_admin, "viewer")
        with pytest.raises(Conflict):
            set_active(actor, only_admin, False)
        assert fresh(User, only_admin.id).role == "admin" and fresh(User, only_admin.id).is_active

    def test_with_another_active_admin_it_may(self, make_user):
        from app.services.accounts import change_role

        first, second = make_user("admin"), make_user("admin")
        change_role(second, first, "viewer")
        assert fresh(User, first.id).role == "viewer"

    def test_nobody_changes_themselves(self, make_user):
        from app.services.accounts import change_role, set_active

        first, _ = make_user("admin"), make_user("admin")
        with pytest.raises(Forbidden):
            change_role(first, first, "viewer")
        with pytest.raises(Forbidden):
            set_active(first, first, False)


def test_password_is_never_echoed(admin):
    response = admin.post("/users", {"email": "bad", "role": "viewer", "password": PASSWORD})
    assert response.status_code == 422
    assert PASSWORD not in response.get_data(as_text=True)
