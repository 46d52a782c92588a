"""HTML error pages for everything outside the JSON API.

The API registered an app-wide ``HTTPException`` handler that answers JSON under /v1 and hands any
other exception back. Handlers registered for a status code win over class handlers in Flask, so
ours first offer the error to that handler and render HTML only when it declines: the API keeps its
error shape without this module knowing which paths are the API's.
"""
from __future__ import annotations

import logging

from flask import current_app, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.dashboard import dashboard
from app.dashboard.pages import is_htmx
from app.extensions import db, login_manager
from app.services.errors import ServiceError

log = logging.getLogger(__name__)

TITLES = {400: "Bad request", 403: "Not allowed", 404: "Not found", 405: "Method not allowed",
          409: "Conflict", 422: "Not accepted", 429: "Too many requests", 500: "Something went wrong"}
MESSAGES = {
    403: "Your role does not allow this. Ask an admin if you need it.",
    404: "There is nothing here, or it belongs to another account.",
    500: "The error has been logged. Try again in a moment.",
}
CSRF_MESSAGE = "The form was sent without a valid security token. Reload the page and try again."


def error_page(status: int, message: str | None = None, headers: dict | None = None):
    """The page (or, for HTMX, a message for the flash area) for ``status``."""
    context = {"status": status, "title": TITLES.get(status, "Error"),
               "message": message or MESSAGES.get(status, "")}
    template = "errors/_message.html" if is_htmx() else f"errors/{status}.html"
    try:
        body = render_template([template, "errors/error.html"], **context)
    except Exception:  # the page itself failed (e.g. the database is down): say it plainly
        log.exception("error page %s failed to render", status)
        body, headers = f"{status} {context['title']}", {**(headers or {}), "Content-Type": "text/plain"}
    headers = {**(headers or {}), "Vary": "HX-Request"}
    return body, status, headers


def _offer_to_api(exc: HTTPException):
    handler = current_app.error_handler_spec[None][None].get(HTTPException)
    return handler(exc) if handler is not None else exc


def _http_error(exc: HTTPException):
    handled = _offer_to_api(exc)
    if not isinstance(handled, HTTPException):
        return handled
    if isinstance(exc, CSRFError) and not current_user.is_authenticated and request.endpoint != "dashboard.login":
        # The session ended (expired, signed out in another tab), taking its CSRF token along:
        # nothing was changed, so send the person to sign in rather than to an error.
        return login_manager.unauthorized()
    if exc.code == 500:
        db.session.rollback()  # the failed request may have left the session unusable
    message = CSRF_MESSAGE if isinstance(exc, CSRFError) else None
    if exc.code in (405, 429):
        message = exc.description
    # Keep what the exception says in headers (Retry-After, Allow); the body is ours.
    headers = {name: value for name, value in exc.get_headers() if name.lower() != "content-type"}
    return error_page(exc.code, message, headers)


for _status in (400, 403, 404, 405, 429, 500):
    dashboard.app_errorhandler(_status)(_http_error)


@dashboard.errorhandler(ServiceError)
def _service_error(exc: ServiceError):
    """A refusal a view did not turn into a form error: show the service's message."""
    return error_page(exc.status, exc.message)
