"""Assembly of the document: paths (with the /v1/dashboard/sms mirror), components, tags, info.

Every ``/v1/sms/...`` operation is also served under ``/v1/dashboard/sms/...`` by the same handler;
those mirror operations are generated from the ``/v1/sms`` ones (distinct operationIds, bearer
security), never written twice.
"""
from __future__ import annotations

import copy
from functools import cache

from app.api.openapi.builders import API_VERSION, BEARER_SECURITY, OPENAPI_VERSION, error, error_schemas
from app.api.openapi.campaign_operations import CAMPAIGN_PARAMETERS, campaign_operations
from app.api.openapi.contact_operations import contact_operations
from app.api.openapi.keyword_operations import (
    KEYWORD_MODELS, KEYWORD_PARAMETERS, keyword_operations, keyword_response_schemas,
)
from app.api.openapi.meta_operations import meta_operations, meta_response_schemas
from app.api.openapi.parameters import PARAMETERS
from app.api.openapi.provider_operations import (
    CALLBACK_SCHEME, PROVIDER_PARAMETERS, provider_operations, provider_schemas,
)
from app.api.openapi.request_bodies import REQUEST_MODELS, ContactBody, request_schema
from app.api.openapi.responses_campaigns import campaign_response_schemas
from app.api.openapi.responses_contacts import contact_response_schemas
from app.api.openapi.responses_sms import sms_response_schemas
from app.api.openapi.sms_operations import sms_operations
from app.api.openapi.webhook_operations import (
    WEBHOOK_PARAMETERS, webhook_operations, webhook_response_schemas,
)

SMS_PREFIX = "/v1/sms"
MIRROR_PREFIX = "/v1/dashboard/sms"


def mirror(operation: dict, method: str, path: str) -> dict:
    """The /v1/dashboard/sms twin of a /v1/sms operation: same handler, other id and auth."""
    twin = copy.deepcopy(operation)
    op_id = operation["operationId"]
    twin["operationId"] = "dashboard" + op_id[0].upper() + op_id[1:]
    twin["tags"] = ["Dashboard mirror"]
    twin["description"] = (f"The same operation as {method.upper()} {path} (operationId {op_id}), at the path "
                           "the WAYSCloud guide uses; authenticated with Authorization: Bearer <key> "
                           "(X-API-Key is accepted too), or by a dashboard sign-in: the session cookie, "
                           "with the page's CSRF token in X-CSRFToken for changes, which only admins and "
                           "marketers may make (403 otherwise).\n\n"
                           + operation["description"])
    twin["security"] = copy.deepcopy(BEARER_SECURITY) + [{"DashboardSession": []}]
    return twin


INFO_DESCRIPTION = """A WAYSCloud-compatible SMS API.

Authentication: a service API key in the X-API-Key header (wayscloud_sms_<key id>_<secret>), or the same key as Authorization: Bearer <key>. Missing or invalid credentials: 401.

Contacts: the contact directory under /v1/contacts (contacts, groups, memberships) uses the same authentication, errors and paging; so do campaigns under /v1/campaigns (drafts to groups of contacts, preview, send now or schedule, pause, resume, cancel).

Errors: a JSON body {"detail": "...", "error": {"code", "message"}}; field validation problems are also listed in "errors" as {"loc", "msg", "type"}. 401 unauthenticated, 404 not found (also another account's object), 409 conflict or wrong state, 413 body too large, 422 invalid input, 429 too many requests (code rate_limited, with Retry-After in whole seconds). Unknown JSON fields are ignored.

Rate limits: each API key (or dashboard sign-in on the mirror) may make API_RATE_LIMIT requests per second with bursts of API_RATE_BURST (defaults 100 and 200); a send to 1,000 recipients is one request. Every counted response carries X-RateLimit-Limit (the burst), X-RateLimit-Remaining and X-RateLimit-Reset (seconds until the full burst is back). Provider callbacks, /v1/ping, /healthz and this document are not limited.

Times are UTC, ISO 8601 with Z. List endpoints page with page (1-based) and page_size or per_page (default 50, max 500).

Every /v1/sms/... operation is also served under /v1/dashboard/sms/... (the paths of the WAYSCloud guide) by the same handler; only authentication differs (bearer token)."""

TAGS = [
    {"name": "SMS", "description": "Send, estimate, list, get and cancel messages"},
    {"name": "Sender profiles", "description": "The sender IDs an account may send from"},
    {"name": "Usage and pricing", "description": "Status, usage for billing, statistics and prices"},
    {"name": "Contacts", "description": "The contact directory"},
    {"name": "Contact groups", "description": "Named groups of contacts and their members"},
    {"name": "Campaigns", "description": "Campaign drafts, their preview, sending, scheduling, pause, resume "
                                         "and cancel"},
    {"name": "Keywords", "description": "Inbound keyword routing: webhooks and auto-replies"},
    {"name": "Webhooks", "description": "Signed webhook events: the attempt log, replay, endpoint health and the "
                                        "signing secret"},
    {"name": "Provider callbacks", "description": "Inbound texts and delivery reports from SMS providers, "
                                                  "authenticated with the provider's callback token"},
    {"name": "Meta", "description": "Liveness, health and this document"},
    {"name": "Dashboard mirror", "description": "The /v1/sms operations under /v1/dashboard/sms"},
]


def refuse_unsafe_query_text(paths: dict) -> None:
    """The answer every operation may give to a query string holding NUL, which no field can hold:
    ``app/text.py`` refuses it for the whole app before any view runs, whatever parameters the
    operation reads (422 invalid_input on /v1, 400 bad_request elsewhere)."""
    for path, operations in paths.items():
        status, code = ("422", "invalid_input") if path.startswith("/v1/") else ("400", "bad_request")
        for operation in operations.values():
            responses = operation["responses"]
            responses.setdefault(status, error("A query parameter holding NUL (\\u0000), which no field can hold, "
                                               f"even one this operation does not read (code {code})"))
            operation["responses"] = dict(sorted(responses.items()))


@cache
def openapi_document() -> dict:
    paths: dict = {}
    for op in [*sms_operations(), *keyword_operations()]:
        paths.setdefault(SMS_PREFIX + op.path, {})[op.method] = op.document()
    for path, operations in list(paths.items()):
        twin_path = MIRROR_PREFIX + path[len(SMS_PREFIX):]
        for method, operation in operations.items():
            paths.setdefault(twin_path, {})[method] = mirror(operation, method, path)
    for op in [*contact_operations(), *campaign_operations(), *webhook_operations(), *provider_operations(),
               *meta_operations()]:
        paths.setdefault(op.path, {})[op.method] = op.document()
    refuse_unsafe_query_text(paths)

    schemas = {model.__name__: request_schema(model) for model in REQUEST_MODELS if model is not None}
    schemas.update(error_schemas())
    schemas.update(sms_response_schemas())
    schemas.update(meta_response_schemas())
    if ContactBody is not None:
        schemas.update(contact_response_schemas())
    schemas.update(campaign_response_schemas())
    schemas.update({model.__name__: request_schema(model) for model in KEYWORD_MODELS})
    schemas.update(keyword_response_schemas())
    schemas.update(webhook_response_schemas())
    schemas.update(provider_schemas())
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "smsdesk SMS API", "version": API_VERSION, "description": INFO_DESCRIPTION},
        "tags": TAGS,
        "paths": paths,
        "components": {
            "schemas": schemas,
            "parameters": {**PARAMETERS, **CAMPAIGN_PARAMETERS, **KEYWORD_PARAMETERS, **WEBHOOK_PARAMETERS,
                           **PROVIDER_PARAMETERS},
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                           "description": "Service API key: wayscloud_sms_<key id>_<secret>"},
                "Bearer": {"type": "http", "scheme": "bearer",
                           "description": "Authorization: Bearer <key>: the service API key as a bearer token"},
                "CallbackToken": CALLBACK_SCHEME,
                "DashboardSession": {"type": "apiKey", "in": "cookie", "name": "session",
                                     "description": "A dashboard sign-in (/v1/dashboard/sms paths only)"},
            },
        },
    }
