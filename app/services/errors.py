"""Errors a service raises for the front door (API or dashboard) to show to the person or client.

Each carries an HTTP status because both front doors speak HTTP; the message is written for the
reader (a developer reading ``detail`` or a marketer reading a flash) and never reveals another
tenant's data.
"""
from __future__ import annotations


class ServiceError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, fields: list[dict] | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.fields = fields or []


class Invalid(ServiceError):
    status = 422
    code = "validation_error"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"
