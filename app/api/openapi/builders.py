"""The vocabulary the document is written in: schema helpers, the one error shape, Operation.

Response objects are built with ``obj``, which lists every field in ``required`` (unless named
optional) and forbids others, so ``tests/api/test_openapi.py`` catches a response field that is
added, renamed or dropped without the document following.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

from pydantic import BaseModel

from app.sms import CURRENCIES

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"

API_KEY_SECURITY = [{"ApiKey": []}, {"Bearer": []}]
BEARER_SECURITY = [{"Bearer": []}]

ENCODINGS = ("GSM-7", "UCS-2")
DIRECTIONS = ("OUTBOUND", "INBOUND")
MESSAGE_TYPES = ("PLAIN", "REPLY", "VERIFY")

# --------------------------------------------------------------------------------------------------
# Schema building blocks
# --------------------------------------------------------------------------------------------------

# UTC ISO 8601 with a trailing Z, e.g. 2026-03-30T10:00:00Z (app.models.base.iso).
TIMESTAMP_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$"


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _type(kind: str, nullable: bool) -> str | list[str]:
    return [kind, "null"] if nullable else kind


def string(description: str = "", *, nullable: bool = False, enum=None, fmt: str | None = None,
           example=None, **extra) -> dict:
    schema: dict = {"type": _type("string", nullable)}
    if enum is not None:
        schema["enum"] = [*enum, None] if nullable else list(enum)
    if fmt:
        schema["format"] = fmt
    if description:
        schema["description"] = description
    if example is not None:
        schema["example"] = example
    schema.update(extra)
    return schema


def uuid(description: str = "", *, nullable: bool = False) -> dict:
    return string(description, nullable=nullable, fmt="uuid")


def timestamp(description: str = "", *, nullable: bool = False) -> dict:
    return string(description or "UTC, ISO 8601 with Z", nullable=nullable, fmt="date-time",
                  pattern=TIMESTAMP_PATTERN)


def integer(description: str = "", *, minimum: int | None = 0, **extra) -> dict:
    schema: dict = {"type": "integer"}
    if minimum is not None:
        schema["minimum"] = minimum
    if description:
        schema["description"] = description
    schema.update(extra)
    return schema


def number(description: str = "", *, minimum: float | None = 0, **extra) -> dict:
    schema: dict = {"type": "number"}
    if minimum is not None:
        schema["minimum"] = minimum
    if description:
        schema["description"] = description
    schema.update(extra)
    return schema


def boolean(description: str = "", **extra) -> dict:
    return {"type": "boolean", **({"description": description} if description else {}), **extra}


def array(items: dict, description: str = "", **extra) -> dict:
    return {"type": "array", "items": items, **({"description": description} if description else {}), **extra}


def nullable_ref(name: str, description: str = "") -> dict:
    schema: dict = {"anyOf": [ref(name), {"type": "null"}]}
    if description:
        schema["description"] = description
    return schema


def obj(properties: dict, *, optional: tuple[str, ...] = (), description: str = "", **extra) -> dict:
    """A response object: every field not in ``optional`` is always present; nothing else is."""
    schema: dict = {"type": "object"}
    if description:
        schema["description"] = description
    schema["properties"] = properties
    schema["required"] = [name for name in properties if name not in optional]
    schema["additionalProperties"] = False
    schema.update(extra)
    return schema


def currency(description: str = "Currency code (ISO 4217)") -> dict:
    return string(description, enum=CURRENCIES)


# --------------------------------------------------------------------------------------------------
# The one error shape (components/schemas) and error responses
# --------------------------------------------------------------------------------------------------

ERROR_CODES_NOTE = (
    "Machine-readable code, e.g. unauthorized, not_found, conflict, not_cancellable, "
    "idempotency_key_reused, payload_too_large, rate_limited, validation_error, invalid_json, invalid_query, "
    "invalid_message, invalid_number, no_valid_recipients, too_many_recipients, invalid_schedule, "
    "invalid_timezone, invalid_sender_id, brand_confirmation_required, invalid_period, spending_limit_reached"
)


def error_schemas() -> dict:
    return {
        "Error": obj({
            "detail": string("Human-readable explanation (the field the official WAYSCloud clients read)"),
            "error": ref("ErrorInfo"),
            "errors": array(ref("FieldError"), "Field problems; present for field validation errors only",
                            minItems=1),
        }, optional=("errors",), description="The one error shape of the API."),
        "ErrorInfo": obj({
            "code": string(ERROR_CODES_NOTE),
            "message": string("Same text as detail"),
        }),
        "FieldError": obj({
            "loc": array({"type": ["string", "integer"]}, "Where the problem is, e.g. [\"body\", \"message\"]"),
            "msg": string("What is wrong"),
            "type": string("Kind of problem, e.g. missing, string_type, value_error"),
        }),
    }


def json_content(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


def error(description: str) -> dict:
    return {"description": description, "content": json_content(ref("Error"))}


UNAUTHORIZED = error("Missing, invalid or revoked credentials (code unauthorized)")

# Rate limits (app/services/rate_limit.py): every request authenticated by an API key (or a dashboard
# sign-in on the mirror) counts against it; provider callbacks and the meta endpoints are not limited.
# Header values are text: the schemas say which text (whole numbers).
_COUNT = {"type": "string", "pattern": "^[0-9]+$"}
RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": {"description": "Requests this key may make at once (the burst); the sustained rate "
                                         "is API_RATE_LIMIT per second", "schema": _COUNT},
    "X-RateLimit-Remaining": {"description": "Requests that would be accepted right now", "schema": _COUNT},
    "X-RateLimit-Reset": {"description": "Seconds until the full burst is available again (a delay, not a time)",
                          "schema": _COUNT},
}
RATE_LIMITED = {
    "description": "Too many requests for this API key (code rate_limited); wait Retry-After seconds",
    "headers": {"Retry-After": {"description": "Whole seconds (at least 1) until a request is accepted again",
                                "required": True, "schema": {"type": "string", "pattern": "^[1-9][0-9]*$"}},
                **copy.deepcopy(RATE_LIMIT_HEADERS)},
    "content": json_content(ref("Error")),
}


def _with_rate_limits(responses: dict) -> dict:
    """Every documented answer may carry the X-RateLimit-* headers (not on a 401: nothing was counted)."""
    out = copy.deepcopy(responses)
    for status, response in out.items():
        if status != "401" and "$ref" not in response:
            response.setdefault("headers", {}).update(copy.deepcopy(RATE_LIMIT_HEADERS))
    out["429"] = copy.deepcopy(RATE_LIMITED)
    return out
PAYLOAD_TOO_LARGE = error("Request body larger than the server's limit (1 MiB by default; code payload_too_large)")


@dataclass
class Operation:
    method: str
    path: str
    operation_id: str
    summary: str
    description: str
    tag: str
    responses: dict
    parameters: tuple[str, ...] = ()
    body: type[BaseModel] | None = None
    body_required: bool = True
    security: list | None = field(default_factory=lambda: API_KEY_SECURITY)

    def document(self) -> dict:
        operation: dict = {
            "tags": [self.tag],
            "operationId": self.operation_id,
            "summary": self.summary,
            "description": self.description,
        }
        if self.parameters:
            operation["parameters"] = [{"$ref": f"#/components/parameters/{p}"} for p in self.parameters]
        if self.body is not None:
            operation["requestBody"] = {"required": self.body_required,
                                        "content": json_content(ref(self.body.__name__))}
        limited = bool(self.security) and not any("CallbackToken" in scheme for scheme in self.security)
        operation["responses"] = _with_rate_limits(self.responses) if limited else copy.deepcopy(self.responses)
        operation["security"] = copy.deepcopy(self.security) if self.security is not None else []
        return operation
