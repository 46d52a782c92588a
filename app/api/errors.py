"""The one error shape of the API: ``{"detail": "...", "error": {"code", "message"}}``.

``detail`` is what both official WAYSCloud clients read; field problems are also listed in
``errors`` as ``{"loc", "msg", "type"}``.
"""
from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from app.services.errors import ServiceError
from app.sms.errors import SmsError

log = logging.getLogger(__name__)


def error_response(status: int, message: str, code: str, fields: list | None = None, headers=None):
    body = {"detail": message, "error": {"code": code, "message": message}}
    if fields:
        body["errors"] = fields
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _service_error(exc: ServiceError):
    return error_response(exc.status, exc.message, exc.code, exc.fields)


def _sms_error(exc: SmsError):
    return error_response(422, exc.message, exc.code)


def _validation_error(exc: ValidationError):
    fields = [
        {"loc": ["body", *map(str, e["loc"])], "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_input=False, include_context=False)
    ]
    summary = "; ".join(f"{'.'.join(f['loc'][1:]) or 'body'}: {f['msg']}" for f in fields)
    return error_response(422, summary, "validation_error", fields)


# Headers an HTTP error must keep when it is re-rendered as JSON (405 must say what is allowed).
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


def _http_error(exc: HTTPException):
    codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large", 400: "bad_request",
             401: "unauthorized", 403: "forbidden", 429: "rate_limited"}
    message = {413: "Request body too large", 404: "Not found"}.get(exc.code, exc.description)
    headers = {name: value for name, value in exc.get_headers() if name in _KEPT_HEADERS}
    return error_response(exc.code or 500, message, codes.get(exc.code, "http_error"), headers=headers)


def _unexpected(exc: Exception):
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "Internal server error", "internal_error")


def register_api_errors(app: Flask) -> None:
    """JSON errors for every path under /v1 (HTML pages keep their own error pages)."""
    def is_api() -> bool:
        return request.path.startswith("/v1/") or request.path in ("/v1", "/healthz")

    def wrap(handler):
        def handle(exc):
            if is_api():
                return handler(exc)
            if isinstance(exc, HTTPException):
                return exc
            raise exc
        return handle

    app.register_error_handler(ServiceError, wrap(_service_error))
    app.register_error_handler(SmsError, wrap(_sms_error))
    app.register_error_handler(ValidationError, wrap(_validation_error))
    app.register_error_handler(HTTPException, wrap(_http_error))
    app.register_error_handler(Exception, wrap(_unexpected))
