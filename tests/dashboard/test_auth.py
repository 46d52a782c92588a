"""Signing in and out: sessions, remember-me, rate limiting, who may sign in at all."""
from __future__ import annotations

from app.extensions import db, redis_conn
from app.models import User
from tests.dashboard.conftest import PASSWORD, Browser, fresh, full_page


def test_anonymous_home_redirects_to_sign_in(browser):
    response = browser.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"


def test_anonymous_page_redirect_remembers_where_it_was_going(browser):
    response = browser.get("/users")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/users"


def test_anonymous_htmx_request_sends_the_window_to_sign_in(browser):
    response = browser.get("/sender-profiles", htmx=True)
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login"
    assert response.get_data(as_text=True) == ""


def test_docs_stay_public(browser):
    response = browser.get("/docs")
    assert response.status_code == 200
    assert "API reference" in response.get_data(as_text=True)


def test_login_page_has_a_csrf_token_in_meta_and_form(browser):
    html = full_page(browser.get("/login"))
    assert browser.token
    assert f'name="csrf_token" value="{browser.token}"' in html
    assert f'"X-CSRFToken": "{browser.token}"' in html


def test_sign_in_then_home_shows_user_and_account(browser, make_user, account):
    user = make_user("marketer")
    response = browser.login(user.email)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    html = browser.get("/").get_data(as_text=True)
    assert user.email in html and "Acme" in html and "marketer" in html
    assert fresh(User, user.id).last_login_at is not None


def test_sign_in_ignores_email_case_and_spaces(browser, make_user):
    user = make_user("viewer", email="mixed@example.com")
    assert browser.login("  MIXED@Example.com ").status_code == 303
    assert user.email in browser.get("/").get_data(as_text=True)


def test_sign_in_follows_a_local_next_only(browser, make_user):
    user = make_user("admin")
    browser.get("/login?next=/users")
    response = browser.post("/login?next=/users", {"email": user.email, "password": PASSWORD})
    assert response.headers["Location"] == "/users"

    other = Browser(browser.app)
    other.get("/login")
    for evil in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = other.post(f"/login?next={evil}", {"email": user.email, "password": PASSWORD})
        assert response.headers["Location"] == "/", evil
        other.post("/logout")
        other.get("/login")


def test_wrong_password_and_unknown_email_look_the_same(browser, make_user):
    user = make_user("admin")
    wrong = browser.post("/login", {"email": user.email, "password": "not the password"})
    unknown = browser.post("/login", {"email": "nobody@example.com", "password": "not the password"})
    assert wrong.status_code == unknown.status_code == 401
    message = "Incorrect email or password, or the user is not active."
    assert message in wrong.get_data(as_text=True) and message in unknown.get_data(as_text=True)
    assert browser.get("/").status_code == 302  # still signed out


def test_empty_form_is_refused_with_field_errors(browser):
    response = browser.post("/login", {"email": "", "password": ""})
    assert response.status_code == 422
    assert "This field is required." in response.get_data(as_text=True)


def test_inactive_user_cannot_sign_in(browser, make_user):
    user = make_user("admin")
    user.is_active = False
    db.session.commit()
    assert browser.login(user.email).status_code == 401


def test_users_of_an_inactive_account_cannot_sign_in(browser, make_user, account):
    user = make_user("admin")
    account.is_active = False
    db.session.commit()
    assert browser.login(user.email).status_code == 401


def test_deactivating_a_user_ends_their_session(login_as):
    viewer = login_as("viewer")
    assert viewer.get("/").status_code == 200
    fresh(User, viewer.user.id).is_active = False
    db.session.commit()
    assert viewer.get("/").status_code == 302


def test_login_post_without_csrf_token_is_rejected(browser, make_user):
    user = make_user("admin")
    response = browser.post("/login", {"email": user.email, "password": PASSWORD}, csrf=False)
    assert response.status_code == 400
    assert "security token" in full_page(response)
    assert browser.get("/").status_code == 302


def test_remember_me_cookie_only_when_asked(browser, make_user, app):
    user = make_user("admin")
    browser.login(user.email)
    assert browser.cookie("remember_token") is None

    remembered = Browser(app)
    remembered.login(user.email, remember=True)
    cookie = remembered.cookie("remember_token")
    assert cookie is not None and cookie.http_only and cookie.expires is not None


def test_remember_me_cookie_signs_in_a_new_session_and_logout_clears_it(browser, make_user):
    user = make_user("admin")
    browser.login(user.email, remember=True)
    browser.client.delete_cookie("session")  # the browser was closed
    assert browser.get("/").status_code == 200

    response = browser.post("/logout")
    assert response.status_code == 303
    assert browser.cookie("remember_token") is None
    assert browser.get("/").status_code == 302


def test_session_cookie_flags(browser, make_user):
    user = make_user("admin")
    response = browser.login(user.email)
    set_cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie


def test_logout_signs_out(login_as):
    admin = login_as("admin")
    response = admin.post("/logout")
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert "You are signed out." in admin.get("/login").get_data(as_text=True)
    assert admin.get("/").status_code == 302


def test_logout_needs_post_with_csrf_token(login_as):
    admin = login_as("admin")
    assert admin.get("/logout").status_code == 405
    assert admin.post("/logout", csrf=False).status_code == 400
    assert admin.get("/").status_code == 200  # still signed in


def test_signed_in_user_visiting_login_goes_home(login_as):
    assert login_as("viewer").get("/login").headers["Location"] == "/"


class TestRateLimit:
    def test_429_after_the_limit_of_failures_even_with_the_right_password(self, browser, make_user, app, monkeypatch):
        monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", 3)
        user = make_user("admin")
        for _ in range(3):
            assert browser.post("/login", {"email": user.email, "password": "wrong password"}).status_code == 401
        response = browser.post("/login", {"email": user.email, "password": PASSWORD})
        assert response.status_code == 429
        assert 0 < int(response.headers["Retry-After"]) <= app.config["LOGIN_RATE_WINDOW_SECONDS"]
        html = full_page(response)
        assert "Too many failed sign-in attempts" in html
        assert browser.get("/").status_code == 302

    def test_limit_is_per_email_and_ip(self, browser, make_user, app, monkeypatch):
        monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", 2)
        user, other = make_user("admin"), make_user("viewer")
        for _ in range(2):
            browser.post("/login", {"email": user.email, "password": "wrong password"})
        assert browser.post("/login", {"email": user.email, "password": PASSWORD}).status_code == 429
        # Another email from the same address, and the same email from another address, still work.
        assert browser.login(other.email).status_code == 303
        elsewhere = Browser(app, remote_addr="10.1.2.3")
        assert elsewhere.login(user.email).status_code == 303

    def test_success_resets_the_count(self, browser, make_user, app, monkeypatch):
        monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", 3)
        user = make_user("admin")
        for _ in range(2):
            browser.post("/login", {"email": user.email, "password": "wrong password"})
        assert browser.login(user.email).status_code == 303
        browser.post("/logout")
        browser.get("/login")
        for _ in range(3):
            assert browser.post("/login", {"email": user.email, "password": "wrong password"}).status_code == 401

    def test_window_expires(self, browser, make_user, app, monkeypatch):
        monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", 1)
        user = make_user("admin")
        browser.post("/login", {"email": user.email, "password": "wrong password"})
        assert browser.post("/login", {"email": user.email, "password": PASSWORD}).status_code == 429
        for key in redis_conn().scan_iter("smsdesk:login-attempts:*"):
            redis_conn().delete(key)  # as if the window had passed
        assert browser.login(user.email).status_code == 303

    def test_sign_in_still_works_when_redis_is_down(self, browser, make_user, app, monkeypatch):
        from redis import Redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        user = make_user("admin")
        down = Redis(port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
        monkeypatch.setitem(app.extensions, "redis", down)
        assert browser.login(user.email).status_code == 303


def test_a_post_after_the_session_ended_goes_to_sign_in(login_as):
    """The session (and its CSRF token) is gone: nothing changes, and the person is asked to sign in."""
    admin = login_as("admin")
    admin.client.delete_cookie("session")
    response = admin.post("/api-keys", {"name": "x"})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    response = admin.post("/api-keys", {"name": "x"}, htmx=True)
    assert response.status_code == 401 and response.headers["HX-Redirect"] == "/login"
