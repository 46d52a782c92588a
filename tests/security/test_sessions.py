"""Dashboard sessions (ASVS V3): renewed at sign-in, ended on every device, remember-me cookies and
copied cookies included, by a sign-out, a password change, a deactivation or "sign out everywhere
else" (which keeps the browser that asked)."""
from __future__ import annotations

import pytest
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import select

from app.extensions import db
from app.models import User
from app.models.audit import AuditEvent
from app.services import accounts
from app.services.passwords import session_token
from tests.dashboard.conftest import PASSWORD, Browser, fresh

NEW_PASSWORD = "an entirely new passphrase"


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


def _copy(app, browser: Browser, *names: str) -> Browser:
    """Another browser holding copies of ``browser``'s cookies (taken from the wire, or stolen)."""
    other = Browser(app)
    for name in names:
        other.client.set_cookie(name, browser.cookie(name).value)
    return other


def _remembered(app, user) -> tuple[Browser, Browser]:
    """A browser signed in with remember-me, and a copy of its remember-me cookie alone (the
    browser was closed, or the cookie was taken)."""
    browser = Browser(app)
    browser.login(user.email, remember=True)
    return browser, _copy(app, browser, "remember_token")


# What raises the session version (ends every session of the user), and what leaves it alone.
BUMPS = [
    ("deactivation", lambda admin, user: accounts.set_active(admin, user, False), 1),
    ("reactivation", lambda admin, user: accounts.set_active(admin, user, True), 0),
    ("password change", lambda admin, user: accounts.change_password(user, PASSWORD, NEW_PASSWORD), 1),
    ("operator's reset", lambda admin, user: accounts.reset_password(user.email, NEW_PASSWORD), 1),
    ("sign-out", lambda admin, user: accounts.sign_out(user), 1),
    ("sign out everywhere else", lambda admin, user: accounts.sign_out_everywhere_else(user), 1),
    ("sign-in", lambda admin, user: accounts.record_login(user), 0),
    ("role change", lambda admin, user: accounts.change_role(admin, user, "manager"), 0),
]


@pytest.mark.parametrize("change, apply, raised", BUMPS, ids=[row[0] for row in BUMPS])
def test_what_raises_the_session_version(ctx, make_user, change, apply, raised):
    admin, user = make_user("admin"), make_user("viewer")
    before = fresh(User, user.id).session_version
    apply(admin, fresh(User, user.id))
    assert fresh(User, user.id).session_version == before + raised


def test_two_bumps_at_once_both_count(ctx, make_user):
    """Counted in SQL, not read-modify-write: a bump made by another request after this one read
    the user is not overwritten (with the same number, which would revive the sessions it ended)."""
    user = make_user("viewer")
    stale = fresh(User, user.id)
    assert stale.session_version == 0
    users = User.__table__
    db.session.execute(users.update().where(users.c.id == user.id).values(session_version=1))  # the other request
    accounts.end_sessions(stale)
    db.session.commit()
    assert fresh(User, user.id).session_version == 2


def test_version_zero_keeps_the_token_sessions_had_before_versions(ctx, make_user):
    """The upgrade to migration 0014 signs nobody out; any later version changes the token."""
    user = fresh(User, make_user("viewer").id)
    assert user.session_version == 0
    assert user.session_token() == session_token(user.password_hash)
    tokens = set()
    for version in range(4):
        user.session_version = version
        tokens.add(user.session_token())
    assert len(tokens) == 4
    db.session.rollback()


def test_reactivation_does_not_revive_old_sessions_or_remember_me_cookies(ctx, make_user, login_as):
    user = make_user("viewer")
    plain = Browser(ctx)
    plain.login(user.email)
    remembered, remember_copy = _remembered(ctx, user)
    admin = login_as("admin")

    assert admin.post(f"/users/{user.id}/deactivate").status_code == 303
    assert admin.post(f"/users/{user.id}/reactivate").status_code == 303
    assert fresh(User, user.id).is_active

    for browser in (plain, remembered, remember_copy):
        assert browser.get("/").status_code == 302
    again = Browser(ctx)
    assert again.login(user.email).status_code == 303  # a new sign-in works as ever
    assert again.get("/").status_code == 200


def test_sign_out_kills_a_copied_cookie(ctx, make_user):
    user = make_user("viewer")
    browser, remember_copy = _remembered(ctx, user)
    session_copy = _copy(ctx, browser, "session")
    assert session_copy.get("/").status_code == 200  # the copy works while the session lives

    assert browser.post("/logout").status_code == 303

    assert session_copy.get("/").status_code == 302
    assert remember_copy.get("/").status_code == 302
    assert _copy(ctx, browser, "session").get("/").status_code == 302


def test_sign_out_ends_the_users_other_browsers_too(ctx, make_user):
    """The price of killing copies: the server cannot tell a copy from another browser."""
    user = make_user("viewer")
    here, there = Browser(ctx), Browser(ctx)
    here.login(user.email)
    there.login(user.email)
    here.post("/logout")
    assert there.get("/").status_code == 302
    assert [e.action for e in _events_of(user)][-1] == "user.signed_out"


def _events_of(user) -> list[AuditEvent]:
    db.session.rollback()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.object_id == user.id)
                                   .order_by(AuditEvent.created_at, AuditEvent.id)))


@pytest.mark.parametrize("htmx", [False, True], ids=["form", "htmx"])
def test_sign_out_everywhere_else_keeps_this_browser_and_ends_the_others(ctx, make_user, htmx):
    user = make_user("viewer")
    here, here_remember_copy = _remembered(ctx, user)
    there, there_remember_copy = _remembered(ctx, user)
    assert 'action="/password/sign-out-others"' in here.get("/password").get_data(as_text=True)

    response = here.post("/password/sign-out-others", htmx=htmx)

    if htmx:
        assert response.status_code == 204 and response.headers["HX-Redirect"] == "/password"
    else:
        assert response.status_code == 303 and response.headers["Location"] == "/password"
    page = here.get("/password")
    assert page.status_code == 200 and "You are signed out everywhere else" in page.get_data(as_text=True)
    for ended in (there, there_remember_copy, here_remember_copy):
        assert ended.get("/").status_code == 302
    # This browser's remember-me cookie was reissued with the new token: it works on its own.
    assert _copy(ctx, here, "remember_token").get("/").status_code == 200
    assert here.post("/logout").status_code == 303  # and its CSRF token is the new session's
    assert [e.action for e in _events_of(user)][-2:] == ["user.signed_out_everywhere", "user.signed_out"]


def test_sign_out_everywhere_else_needs_post_and_the_csrf_token(ctx, make_user):
    user = make_user("viewer")
    here, there = Browser(ctx), Browser(ctx)
    here.login(user.email)
    there.login(user.email)
    assert here.get("/password/sign-out-others").status_code == 405
    assert here.post("/password/sign-out-others", csrf=False).status_code == 400
    assert there.get("/").status_code == 200
    nobody = Browser(ctx)
    nobody.get("/login")
    assert nobody.post("/password/sign-out-others").status_code == 302  # to the sign-in page
