"""Text no field of smsdesk can hold, refused at the front doors with a clear message.

NUL cannot be stored in PostgreSQL text and breaks comparisons there; an unpaired UTF-16
surrogate (JSON allows ``"\\ud800"``) cannot be encoded as UTF-8 for any database. Neither has a
place in a message, a name or an id, so both are refused before they reach a query.
"""
from __future__ import annotations

from flask import abort, request

from app.services.errors import Invalid


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be accepted, or None."""
    if "\x00" in text:
        return "must not contain NUL characters (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "must not contain unpaired UTF-16 surrogates"
    return None


def refuse_unsafe_request_text() -> None:
    """``before_request`` for the whole app: path, query string and form fields. (JSON bodies are
    checked field by field where they are parsed, so the error can name the field.)"""
    if text_problem(request.path):
        abort(404)
    api = request.path.startswith("/v1/")
    # The API reads its body as JSON whatever the Content-Type (curl -d says form-urlencoded), so
    # only the dashboard's bodies are forms; reading request.form would consume an API body.
    sources = [("Query parameter", request.args)] + ([] if api else [("Form field", request.form)])
    for where, values in sources:
        for key, value in values.items(multi=True):
            if problem := text_problem(key) or text_problem(value):
                if api:
                    raise Invalid(f"{where} '{key[:40]}' {problem}", code="invalid_input")
                abort(400)
