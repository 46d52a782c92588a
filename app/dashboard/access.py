"""Who may use which dashboard view.

Every view declares its roles with ``@role_required(...)`` or is marked ``@public``; a guard on the
blueprint refuses any view that declares neither, so a forgotten decorator fails closed (403) rather
than open. Templates ask ``can(endpoint)``, which reads the same declaration, so a link or button is
shown exactly when its view would accept the click.
"""
from __future__ import annotations

from functools import wraps

from flask import abort, current_app, request
from flask_login import current_user

from app.dashboard import dashboard
from app.extensions import login_manager
from app.models import ROLES

EVERYONE = ROLES  # viewers included: read-only pages
SENDER_EDITORS = ("admin", "marketer")


def role_required(*roles: str):
    """Signed in with one of ``roles``, else: anonymous -> sign-in page, other roles -> 403."""
    unknown = set(roles) - set(ROLES)
    if not roles or unknown:
        raise ValueError(f"role_required needs roles from {ROLES}, got {roles}")

    def decorate(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        guarded.allowed_roles = frozenset(roles)
        return guarded

    return decorate


def operators_only(view):
    """Installation-wide pages (``/status``): among the roles the view allows, only operators.
    Apply below ``role_required``."""
    @wraps(view)
    def guarded(*args, **kwargs):
        if not is_operator(current_user):
            abort(403)
        return view(*args, **kwargs)

    guarded.operators_only = True
    return guarded


def is_operator(user) -> bool:
    # Figures for the whole installation reach across tenants, so a hosting installation names
    # its operators; one run for a single organisation leaves OPERATOR_EMAILS unset.
    operators = current_app.config["OPERATOR_EMAILS"]
    return not operators or user.email.lower() in operators


def public(view):
    """Open to everyone, signed in or not (the sign-in page, the API reference)."""
    view.public = True
    return view


@dashboard.app_template_global()
def can(endpoint: str) -> bool:
    view = current_app.view_functions.get(endpoint)
    if getattr(view, "public", False):
        return True
    roles = getattr(view, "allowed_roles", None)
    allowed = bool(roles) and current_user.is_authenticated and current_user.role in roles
    return allowed and (not getattr(view, "operators_only", False) or is_operator(current_user))


@dashboard.before_request
def _require_declared_access():
    view = current_app.view_functions.get(request.endpoint)
    if view is not None and not (getattr(view, "public", False) or getattr(view, "allowed_roles", None)):
        abort(403)
