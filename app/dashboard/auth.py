"""Signing in and out of the dashboard (Flask-Login sessions)."""
from __future__ import annotations

import hashlib
import hmac
import logging
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from redis.exceptions import RedisError
from werkzeug.exceptions import TooManyRequests

from app.dashboard import dashboard
from app.dashboard.access import EVERYONE, public, role_required
from app.dashboard.forms import LoginForm
from app.dashboard.pages import is_htmx
from app.services import audit
from app.services.accounts import authenticate, record_login, sign_out
from app.extensions import db, login_manager, redis_conn
from app.models import User

log = logging.getLogger(__name__)


def configure_login() -> None:
    login_manager.user_loader(_load_user)
    login_manager.unauthorized_handler(_unauthorized)
    # "basic", not "strong": fixation is handled by renewing the session at sign-in and by the
    # session token in it (``User.get_id``); "strong" would also tie a session to the client's IP
    # (which Flask-Login reads from a client-supplied X-Forwarded-For) and sign out anyone whose
    # phone or laptop changes network, remember-me cookie included.
    login_manager.session_protection = "basic"


def _load_user(user_id: str) -> User | None:
    # Checked on every request, so deactivating a user or an account, changing the password or
    # signing out ends their sessions (and remember-me cookies) at once. ``user_id`` is
    # ``User.get_id()``: the id and the token of the password and session version it was issued under.
    raw_id, _, token = user_id.partition(":")
    user = db.session.get(User, raw_id)
    if user is None or not user.is_active or not user.account.is_active:
        return None
    if not hmac.compare_digest(token.encode(), user.session_token().encode()):
        return None
    return user


def _unauthorized():
    if is_htmx():
        # A fragment swapped into the page must not be the sign-in form: send the whole window there.
        return "", 401, {"HX-Redirect": url_for("dashboard.login")}
    target = request.full_path.rstrip("?") if request.method == "GET" and request.path != "/" else None
    return redirect(url_for("dashboard.login", next=target))


@dashboard.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.home"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 422 if form.is_submitted() else 200
    throttle = LoginThrottle(form.email.data, request.remote_addr or "")
    throttle.attempt()
    user = authenticate(form.email.data, form.password.data)
    if user is None:
        audit.sign_in_failed(form.email.data)
        form.form_errors.append("Incorrect email or password, or the user is not active.")
        return render_template("auth/login.html", form=form), 401
    throttle.succeeded()
    # A fresh session: nothing set before sign-in (by anyone who planted a cookie) survives it,
    # and the CSRF token changes with it.
    session.clear()
    login_user(user, remember=form.remember.data)
    record_login(user)
    return redirect(_safe_next() or url_for("dashboard.home"), 303)


@dashboard.post("/logout")
@role_required(*EVERYONE)
def logout():
    sign_out(current_user._get_current_object())  # ends copies of this cookie, and other browsers
    session.clear()
    logout_user()  # after clear(): it leaves the note that deletes the remember-me cookie
    flash("You are signed out. Your other browsers are signed out too.", "info")
    return redirect(url_for("dashboard.login"), 303)


def _safe_next() -> str | None:
    """Only a path on this site: ``next`` comes from the URL, so it must not send people elsewhere."""
    target = request.args.get("next", "")
    parts = urlsplit(target)
    if not target.startswith("/") or target.startswith("//") or "\\" in target or parts.scheme or parts.netloc:
        return None
    return target


class LoginThrottle:
    """Sign-in attempts per email and client IP in a fixed window (``LOGIN_RATE_LIMIT`` per
    ``LOGIN_RATE_WINDOW_SECONDS``), counted in Redis so every web process shares the count.

    The attempt is counted before the password is checked, so a burst of parallel guesses cannot
    slip past the limit; a success resets the count, which leaves only failures counted. If Redis is
    down, sign-in still works (logged): the dashboard must stay usable to see what is wrong."""

    def __init__(self, email: str, ip: str) -> None:
        digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
        self.key = f"smsdesk:login-attempts:{digest}:{ip}"
        self.limit = current_app.config["LOGIN_RATE_LIMIT"]
        self.window = current_app.config["LOGIN_RATE_WINDOW_SECONDS"]

    def attempt(self) -> None:
        """Count this attempt; 429 with ``Retry-After`` once the limit is used up."""
        try:
            redis = redis_conn()
            attempts = redis.incr(self.key)
            ttl = redis.ttl(self.key)
            if attempts == 1 or ttl < 0:
                redis.expire(self.key, self.window)
                ttl = self.window
        except RedisError:
            log.warning("login throttle unavailable (Redis down); sign-in attempts are not limited")
            return
        if attempts > self.limit:
            minutes = -(-max(ttl, 1) // 60)
            raise TooManyRequests(f"Too many failed sign-in attempts for this email. Try again in {minutes} "
                                  f"minute{'s' if minutes != 1 else ''}.", retry_after=max(ttl, 1))

    def succeeded(self) -> None:
        try:
            redis_conn().delete(self.key)
        except RedisError:
            pass
