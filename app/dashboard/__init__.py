"""The browser front door: server-rendered pages with HTMX fragments, signed in with Flask-Login.

Every view declares who may use it (``access.role_required`` or ``access.public``); a fragment is
served from the same URL as its page when the request carries ``HX-Request`` (``pages.render``).
"""
from __future__ import annotations

from flask import Blueprint, Flask

dashboard = Blueprint("dashboard", __name__)

# The modules below attach their views and hooks to ``dashboard`` when imported.
from app.dashboard import access, api_keys, auth, errors, home, pages, sender_profiles, users  # noqa: E402,F401


def register_dashboard(app: Flask) -> None:
    auth.configure_login()
    app.register_blueprint(dashboard)
