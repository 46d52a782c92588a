"""The account's users (admins only): list, add, change role, deactivate and reactivate; and every
user's own password change and "sign out everywhere else"."""
from __future__ import annotations

from flask import current_app, flash, redirect, request, session, url_for
from flask_login import current_user, login_user

from app.dashboard import dashboard
from app.dashboard.access import EVERYONE, role_required
from app.dashboard.auth import LoginThrottle
from app.dashboard.forms import ROLE_CHOICES, PasswordChangeForm, RoleForm, UserForm
from app.dashboard.pages import is_htmx, owned_or_404, render, show_error
from app.services.accounts import change_role, set_active
from app.extensions import db
from app.models import User, scoped
from app.services import accounts
from app.services.errors import ServiceError

dashboard.add_app_template_global(ROLE_CHOICES, "role_choices")


def _account_users() -> list[User]:
    return list(db.session.scalars(scoped(User, current_user.account_id).order_by(User.email)))


@dashboard.get("/users")
@role_required("admin")
def users():
    return render("users/index.html", "users/_rows.html", users=_account_users(), form=UserForm())


@dashboard.post("/users")
@role_required("admin")
def create_user():
    form = UserForm()
    if form.validate_on_submit():
        try:
            user = accounts.create_user(current_user.account, form.email.data, form.password.data, form.role.data)
        except ServiceError as exc:
            show_error(form, exc, "password" if exc.message.startswith("Password") else "email")
        else:
            flash(f"Added {user.email} as {user.role}.", "success")
            if not is_htmx():
                return redirect(url_for("dashboard.users"), 303)
            return render("users/index.html", "users/_form.html", oob=("users/_rows.html",),
                          users=_account_users(), form=UserForm(formdata=None))
    return render("users/index.html", "users/_form.html", http_status=422, users=_account_users(), form=form)


@dashboard.post("/users/<user_id>/role")
@role_required("admin")
def change_user_role(user_id: str):
    user = owned_or_404(User, user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        return _row(user, error="; ".join(form.role.errors) or "Choose a role")
    try:
        change_role(current_user, user, form.role.data)
    except ServiceError as exc:
        return _row(user, error=exc.message)
    flash(f"{user.email} is now {user.role}.", "success")
    return _row(user)


@dashboard.post("/users/<user_id>/deactivate")
@role_required("admin")
def deactivate_user(user_id: str):
    return _set_active(owned_or_404(User, user_id), False)


@dashboard.post("/users/<user_id>/reactivate")
@role_required("admin")
def reactivate_user(user_id: str):
    return _set_active(owned_or_404(User, user_id), True)


def _set_active(user: User, active: bool):
    try:
        set_active(current_user, user, active)
    except ServiceError as exc:
        return _row(user, error=exc.message)
    flash(f"{user.email} is {'active again' if active else 'deactivated'}.", "success")
    return _row(user)


def _row(user: User, error: str | None = None):
    """HTMX: the user's row, redrawn (with the refusal in it). Without JavaScript: back to the list."""
    if not is_htmx():
        if error:
            flash(error, "error")
        return redirect(url_for("dashboard.users"), 303)
    return render("users/index.html", "users/_row.html", http_status=422 if error else 200, user=user, row_error=error)


@dashboard.route("/password", methods=["GET", "POST"])
@role_required(*EVERYONE)
def change_password():
    form = PasswordChangeForm()
    if not form.validate_on_submit():
        return render("users/password.html", "users/_password_form.html",
                      http_status=422 if form.is_submitted() else 200, form=form)
    if form.new.data != form.confirm.data:
        form.confirm.errors = ["The two new passwords differ"]
        return render("users/password.html", "users/_password_form.html", http_status=422, form=form)
    user = current_user._get_current_object()
    # Guessing the current password here (from a session left open) is limited like sign-in is.
    throttle = LoginThrottle(user.email, request.remote_addr or "")
    throttle.attempt()
    try:
        accounts.change_password(user, form.current.data, form.new.data)
    except ServiceError as exc:
        wrong_current = exc.message.startswith("Current")
        if not wrong_current:
            throttle.succeeded()
        show_error(form, exc, "current" if wrong_current else "new")
        return render("users/password.html", "users/_password_form.html", http_status=422, form=form)
    throttle.succeeded()
    _renew_session(user)
    flash("Your password is changed. Your other sessions are signed out.", "success")
    if is_htmx():
        return "", 204, {"HX-Redirect": url_for("dashboard.home")}
    return redirect(url_for("dashboard.home"), 303)


@dashboard.post("/password/sign-out-others")
@role_required(*EVERYONE)
def sign_out_everywhere_else():
    user = current_user._get_current_object()
    accounts.sign_out_everywhere_else(user)
    _renew_session(user)
    flash("You are signed out everywhere else; this browser stays signed in.", "success")
    if is_htmx():
        return "", 204, {"HX-Redirect": url_for("dashboard.change_password")}
    return redirect(url_for("dashboard.change_password"), 303)


def _renew_session(user: User) -> None:
    """Every session of the user has just ended (their token no longer matches); this one goes on
    under a fresh session, and a remember-me cookie is reissued with the new token."""
    remembered = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies
    session.clear()
    login_user(user, remember=remembered)
