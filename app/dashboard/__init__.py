"""The browser front door: server-rendered pages with HTMX fragments, signed in with Flask-Login.

Every view declares who may use it (``access.role_required`` or ``access.public``); a fragment is
served from the same URL as its page when the request carries ``HX-Request`` (``pages.render``).
"""
from __future__ import annotations

from flask import Blueprint, Flask
from flask_login import current_user

from app.services import rate_limit

dashboard = Blueprint("dashboard", __name__)


@dashboard.before_request
def _limit_signed_in() -> None:
    """Every signed-in page, fragment and form counts against the user (``DASHBOARD_RATE_LIMIT``);
    the sign-in form itself is throttled per email instead (``auth.LoginThrottle``)."""
    if current_user.is_authenticated:
        rate_limit.limit_request("dashboard", f"user:{current_user.id}", "your sign-in")

# The modules below attach their views and hooks to ``dashboard`` when imported.
from app.dashboard import (  # noqa: E402,F401
    access, api_keys, auth, contact_import, errors, exports, home, pages, sender_profiles, users,
)
from app.dashboard import contacts, groups, optouts  # noqa: E402,F401
from app.dashboard import messages, send  # noqa: E402,F401
from app.dashboard import campaign_reports, campaigns, usage  # noqa: E402,F401
from app.dashboard import budget  # noqa: E402,F401
from app.dashboard import webhooks  # noqa: E402,F401
from app.dashboard import status  # noqa: E402,F401
from app.dashboard import inbox, keywords  # noqa: E402,F401
from app.dashboard import audit  # noqa: E402,F401


def register_dashboard(app: Flask) -> None:
    auth.configure_login()
    app.register_blueprint(dashboard)
