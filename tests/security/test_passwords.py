"""Password policy (ASVS V2.1) wherever a password is set, and the hashing parameters (V2.4)."""
from __future__ import annotations

import hashlib
import hmac

import pytest
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from app.extensions import db
from app.models import AuditEvent, User
from app.services import passwords
from app.services.accounts import authenticate, create_user
from app.services.errors import Invalid
from tests.dashboard.conftest import PASSWORD, Browser, fresh, full_page

EMAIL = "kari.nordmann@example.com"


@pytest.mark.parametrize("password, problem", [
    ("correct horse battery", None),
    ("twelve chars", None),  # exactly the minimum
    ("eleven char", "at least 12 characters"),
    ("", "at least 12 characters"),
    ("x" * 1024 + "", "one character repeated"),  # long enough, but one character
    ("ab" * 512, None),  # the maximum is allowed ...
    ("ab" * 512 + "c", "at most 1024 characters"),  # ... and no more
    ("æøå 日本語 passphrase", None),  # any characters, no composition rules
    ("all lowercase no digits", None),
    ("            ", "one character repeated"),  # twelve spaces
    ("leavemealone", "most common passwords"),
    ("LeaveMeAlone", "most common passwords"),  # case does not make it rare
    ("1q2w3e4r5t6y", "most common passwords"),
    ("password1234", "most common passwords"),  # a common one with digits added to reach the length
    ("Iloveyou2024!", "most common passwords"),
    ("monkey business at noon", None),  # a common word inside a passphrase is fine
    ("my kari.nordmann@example.com pw", "email address"),
    ("KARI.NORDMANN-rocks-2024", "email address"),  # the name before the @
    ("kari likes long walks", None),  # a short name inside is an everyday word
])
def test_policy(password, problem):
    found = passwords.policy_problem(password, EMAIL)
    assert (found is None) if problem is None else (problem in found), found


def test_the_common_password_list_is_vendored_and_complete():
    common = passwords.common_passwords()
    assert len(common) == 10_000
    assert {"password", "123456", "qwerty", "letmein", "1q2w3e4r5t6y"} <= common
    assert passwords.COMMON_PASSWORDS_FILE.is_relative_to(passwords.COMMON_PASSWORDS_FILE.parents[2] / "app")


def test_hash_parameters_are_pinned_scrypt():
    """scrypt N=2**15, r=8, p=1, a 16-character salt and a 64-byte key: recomputed here with
    hashlib itself, so the stored string is exactly what it says it is."""
    stored = passwords.hash_password(PASSWORD)
    method, salt, digest = stored.split("$")
    assert method == "scrypt:32768:8:1" and len(salt) == 16 and len(digest) == 128
    expected = hashlib.scrypt(PASSWORD.encode(), salt=salt.encode(), n=32768, r=8, p=1, maxmem=132 * 32768 * 8, dklen=64)
    assert hmac.compare_digest(digest, expected.hex())
    assert passwords.hash_password(PASSWORD) != stored  # a new salt every time
    assert not passwords.needs_rehash(stored)


@pytest.mark.parametrize("method", ["pbkdf2:sha256:600000", "scrypt:16384:8:1", "scrypt"])
def test_old_hashes_are_replaced_at_sign_in(account, method):
    user = create_user(account, "old@example.com", PASSWORD, "viewer")
    user.password_hash = generate_password_hash(PASSWORD, method=method, salt_length=16 if method != "scrypt" else 8)
    db.session.commit()
    if method == "scrypt":  # Werkzeug's default, but a shorter salt than ours
        assert passwords.needs_rehash(user.password_hash)
    assert authenticate("old@example.com", "wrong password!") is None
    assert fresh(User, user.id).password_hash.split("$")[0] == user.password_hash.split("$")[0]  # untouched
    assert authenticate("old@example.com", PASSWORD) is not None
    rehashed = fresh(User, user.id).password_hash
    assert rehashed.startswith("scrypt:32768:8:1$") and not passwords.needs_rehash(rehashed)
    assert authenticate("old@example.com", PASSWORD) is not None  # and it still signs in


# -- enforced wherever a password is set -----------------------------------------------------------

def test_creating_a_user_applies_the_policy(account):
    for weak in ("short pw", "password1234", "kari.nordmann-2024!"):
        with pytest.raises(Invalid):
            create_user(account, EMAIL, weak, "viewer")
    assert create_user(account, EMAIL, "fjord ferry at dawn", "viewer").email == EMAIL


def test_the_users_page_applies_the_policy(login_as):
    admin = login_as("admin")
    response = admin.post("/users", {"email": "new@example.com", "role": "viewer", "password": "password1234"})
    assert response.status_code == 422
    assert "one of the most common passwords" in full_page(response)
    assert User.query.filter_by(email="new@example.com").count() == 0


def test_the_cli_applies_the_policy(app, account):
    runner = app.test_cli_runner()
    create = ["users", "create", "--account", "Acme", "--email", "cli@example.com", "--password"]
    weak = runner.invoke(args=[*create, "iloveyou1234"])
    assert weak.exit_code != 0 and "most common passwords" in weak.output
    fine = runner.invoke(args=[*create, "a long cli passphrase"])
    assert fine.exit_code == 0, fine.output


def test_the_demo_seed_applies_the_policy_and_its_default_passes(ctx):
    from app.services import demo

    assert passwords.policy_problem(ctx.config["DEMO_PASSWORD"], demo.DEMO_EMAIL) is None
    demo.seed(ctx.config["DEMO_PASSWORD"])
    assert authenticate(demo.DEMO_EMAIL, ctx.config["DEMO_PASSWORD"]) is not None
    with pytest.raises(Invalid):
        demo.seed("password")  # the existing demo user keeps its password
    assert authenticate(demo.DEMO_EMAIL, ctx.config["DEMO_PASSWORD"]) is not None


# -- changing one's own password ----------------------------------------------------------------------

NEW = "a brand new passphrase"


def test_change_password_page(login_as):
    viewer = login_as("viewer")
    page = viewer.get("/password")
    assert page.status_code == 200 and 'autocomplete="current-password"' in full_page(page)
    assert 'href="/password"' in viewer.get("/").get_data(as_text=True)


@pytest.mark.parametrize("form, field, message", [
    ({"current": "not my password", "new": NEW, "confirm": NEW}, "current", "Current password is not correct"),
    ({"current": PASSWORD, "new": NEW, "confirm": NEW + "x"}, "confirm", "The two new passwords differ"),
    ({"current": PASSWORD, "new": "password1234", "confirm": "password1234"}, "new", "most common passwords"),
    ({"current": PASSWORD, "new": "too short", "confirm": "too short"}, "new", "at least 12 characters"),
    ({"current": PASSWORD, "new": PASSWORD, "confirm": PASSWORD}, "new", "must differ"),
])
@pytest.mark.parametrize("htmx", [False, True])
def test_change_password_refusals(login_as, form, field, message, htmx):
    viewer = login_as("viewer")
    response = viewer.post("/password", form, htmx=htmx)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html and message in html
    assert fresh(User, viewer.user.id).check_password(PASSWORD)


def test_change_password_keeps_this_session_and_ends_the_others(login_as, ctx):
    viewer = login_as("viewer")
    elsewhere = Browser(ctx)
    assert elsewhere.login(viewer.user.email).status_code == 303
    remembered = Browser(ctx)
    assert remembered.login(viewer.user.email, remember=True).status_code == 303
    remembered.client.delete_cookie("session")  # only the remember-me cookie is left

    response = viewer.post("/password", {"current": PASSWORD, "new": NEW, "confirm": NEW})
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert viewer.get("/").status_code == 200
    assert elsewhere.get("/").status_code == 302
    assert remembered.get("/").status_code == 302

    assert Browser(ctx).login(viewer.user.email, PASSWORD).status_code == 401
    assert Browser(ctx).login(viewer.user.email, NEW).status_code == 303


def test_change_password_reissues_a_remember_me_cookie(login_as, ctx, make_user):
    user = make_user("viewer")
    browser = Browser(ctx)
    browser.login(user.email, remember=True)
    old = browser.cookie("remember_token").value
    browser.post("/password", {"current": PASSWORD, "new": NEW, "confirm": NEW})
    assert browser.cookie("remember_token").value != old
    browser.client.delete_cookie("session")
    assert browser.get("/").status_code == 200  # the new remember-me cookie signs in


def test_change_password_needs_sign_in_and_csrf(browser, login_as):
    assert browser.get("/password").status_code == 302
    viewer = login_as("viewer")
    response = viewer.post("/password", {"current": PASSWORD, "new": NEW, "confirm": NEW}, csrf=False)
    assert response.status_code == 400
    assert fresh(User, viewer.user.id).check_password(PASSWORD)


def test_the_cli_resets_a_password_under_the_policy_and_ends_sessions(app, ctx, make_user):
    user = make_user("admin")
    browser = Browser(ctx)
    browser.login(user.email)
    runner = app.test_cli_runner()
    weak = runner.invoke(args=["users", "set-password", "--email", user.email], input="password1234\npassword1234\n")
    assert weak.exit_code != 0 and "most common passwords" in weak.output
    assert browser.get("/").status_code == 200
    unknown = runner.invoke(args=["users", "set-password", "--email", "nobody@example.com", "--password", NEW])
    assert unknown.exit_code != 0 and "No user" in unknown.output
    done = runner.invoke(args=["users", "set-password", "--email", user.email], input=f"{NEW}\n{NEW}\n")
    assert done.exit_code == 0, done.output
    assert NEW not in done.output  # not echoed
    assert browser.get("/").status_code == 302
    assert Browser(ctx).login(user.email, NEW).status_code == 303
    reset = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "user.password_reset")).all()
    assert [(e.object_id, e.actor_type, e.details) for e in reset] == [(user.id, "system", {"email": user.email})]
    assert NEW not in str([e.details for e in db.session.scalars(select(AuditEvent))])


def test_guessing_the_current_password_is_throttled_like_sign_in(login_as, app, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", 2)
    viewer = login_as("viewer")
    guess = {"current": "a guess at it", "new": NEW, "confirm": NEW}
    assert [viewer.post("/password", guess).status_code for _ in range(2)] == [422, 422]
    refused = viewer.post("/password", {**guess, "current": PASSWORD})
    assert refused.status_code == 429 and refused.headers.get("Retry-After")
    assert fresh(User, viewer.user.id).check_password(PASSWORD)


def test_change_password_with_htmx_redirects_the_whole_window(login_as):
    viewer = login_as("viewer")
    response = viewer.post("/password", {"current": PASSWORD, "new": NEW, "confirm": NEW}, htmx=True)
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/"
    assert "Your password is changed" in viewer.get("/").get_data(as_text=True)
