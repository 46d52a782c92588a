"""The account's users (admins only): list, add, change role, deactivate and reactivate."""
from __future__ import annotations

from flask import flash, redirect, url_for
from flask_login import current_user

from app.dashboard import dashboard
from app.dashboard.access import role_required
from app.dashboard.forms import ROLE_CHOICES, RoleForm, UserForm
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
