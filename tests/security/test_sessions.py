"""Dashboard sessions (ASVS V3): renewed at sign-in, cleared at sign-out, ended by a password change
or a deactivation, on every device, remember-me cookies included."""
from __future__ import annotations

from flask.sessions import SecureCookieSessionInterface

from app.extensions import db
from app.models import User
from tests.dashboard.conftest import PASSWORD, Browser, fresh


def _session_of(app, cookie_value: str) -> dict:
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    return dict(serializer.loads(cookie_value))


def test_a_session_planted_before_sign_in_never_carries_the_user(ctx, make_user):
    """An attacker who gives the victim a session cookie (and keeps a copy) gains nothing: sign-in
    issues a new session, and the planted cookie stays anonymous."""
    user = make_user("admin")
    victim = Browser(ctx)
    victim.get("/login")
    with victim.client.session_transaction() as session:
        session["planted"] = "by an attacker"
    planted = victim.cookie("session").value
    anonymous_token = victim.token

    assert victim.login(user.email).status_code == 303

    signed_in = victim.cookie("session").value
    assert signed_in != planted
    assert "planted" not in _session_of(ctx, signed_in)
    assert _session_of(ctx, signed_in)["_user_id"] == user.get_id()
    assert victim.token != anonymous_token  # the CSRF token is renewed with the session

    attacker = Browser(ctx)
    attacker.client.set_cookie("session", planted)
    assert attacker.get("/").status_code == 302  # still nobody


def test_the_session_names_the_user_with_a_password_token(ctx, make_user):
    user = make_user("viewer")
    user_id, _, token = user.get_id().partition(":")
    assert user_id == user.id and len(token) == 20
    assert user.password_hash not in user.get_id()
    forged = Browser(ctx)
    with forged.client.session_transaction() as session:
        session["_user_id"] = user.id  # a bare id, as a session without the token would carry
        session["_fresh"] = True
    assert forged.get("/").status_code == 302


def test_sign_out_clears_the_session_and_the_remember_me_cookie(ctx, make_user):
    user = make_user("viewer")
    browser = Browser(ctx)
    browser.login(user.email, remember=True)
    assert browser.post("/logout").status_code == 303
    assert browser.cookie("remember_token") is None
    session = _session_of(ctx, browser.cookie("session").value)
    assert "_user_id" not in session and set(session) <= {"_flashes", "_remember", "csrf_token", "_fresh", "_id"}
    assert browser.get("/").status_code == 302


def test_a_password_change_by_the_user_ends_sessions_everywhere_else(ctx, make_user):
    user = make_user("viewer")
    here, there = Browser(ctx), Browser(ctx)
    here.login(user.email)
    there.login(user.email, remember=True)
    copied_remember = there.cookie("remember_token").value

    new = "an entirely new passphrase"
    assert here.post("/password", {"current": PASSWORD, "new": new, "confirm": new}).status_code == 303
    assert here.get("/").status_code == 200
    assert there.get("/").status_code == 302
    stolen = Browser(ctx)
    stolen.client.set_cookie("remember_token", copied_remember)
    assert stolen.get("/").status_code == 302


def test_a_password_set_by_anyone_ends_the_users_sessions(ctx, make_user):
    """The token follows the stored hash, whoever sets it (the CLI, an operator's script)."""
    user = make_user("viewer")
    browser = Browser(ctx)
    browser.login(user.email)
    fresh(User, user.id).set_password("set by the operator")
    db.session.commit()
    assert browser.get("/").status_code == 302


def test_deactivation_ends_sessions_and_remember_me_cookies(ctx, make_user):
    user = make_user("viewer")
    plain, remembered = Browser(ctx), Browser(ctx)
    plain.login(user.email)
    remembered.login(user.email, remember=True)
    remembered.client.delete_cookie("session")
    fresh(User, user.id).is_active = False
    db.session.commit()
    assert plain.get("/").status_code == 302
    assert remembered.get("/").status_code == 302
