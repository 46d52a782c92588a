"""The OpenAPI 3 document of /v1, built from the same pydantic models that validate requests."""
from __future__ import annotations

from functools import cache

from app.api.schemas import EstimateBody, SendBody, SenderProfileBody

# (method, path, operationId, summary, request model, success status)
OPERATIONS = [
    ("post", "/v1/sms/send", "sendSms", "Send SMS to one or many recipients", SendBody, "200"),
    ("post", "/v1/sms/estimate", "estimateSms", "Encoding, parts, units and cost of a message", EstimateBody, "200"),
    ("get", "/v1/sms/messages", "listMessages", "List messages", None, "200"),
    ("get", "/v1/sms/messages/{message_id}", "getMessage", "Get a message", None, "200"),
    ("post", "/v1/sms/messages/{message_id}/cancel", "cancelMessage", "Cancel a scheduled or queued message", None, "200"),
    ("get", "/v1/sms/sender-profiles", "listSenderProfiles", "List sender profiles", None, "200"),
    ("post", "/v1/sms/sender-profiles", "createSenderProfile", "Create a sender profile", SenderProfileBody, "201"),
    ("delete", "/v1/sms/sender-profiles/{profile_id}", "deleteSenderProfile", "Delete a sender profile", None, "200"),
    ("get", "/v1/sms/status", "getStatus", "Service status", None, "200"),
    ("get", "/v1/sms/usage", "getUsage", "Usage for a billing period", None, "200"),
    ("get", "/v1/sms/stats", "getStats", "Statistics", None, "200"),
    ("get", "/v1/sms/pricing", "getPricing", "Price per unit per currency", None, "200"),
    ("get", "/v1/sms/pricing/messages", "getMessagePricing", "Price by message length", None, "200"),
]


def _operation(op_id: str, summary: str, model, success: str) -> dict:
    operation = {
        "operationId": op_id,
        "summary": summary,
        "security": [{"ApiKey": []}, {"Bearer": []}],
        "responses": {success: {"description": "Success"},
                      "401": {"$ref": "#/components/responses/Error"},
                      "422": {"$ref": "#/components/responses/Error"}},
    }
    if model is not None:
        operation["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}
    return operation


@cache
def openapi_document() -> dict:
    paths: dict = {}
    schemas = {}
    for method, path, op_id, summary, model, success in OPERATIONS:
        paths.setdefault(path, {})[method] = _operation(op_id, summary, model, success)
        if model is not None:
            schemas[model.__name__] = model.model_json_schema(ref_template="#/components/schemas/{model}")
    return {
        "openapi": "3.1.0",
        "info": {"title": "smsdesk SMS API", "version": "1.0.0",
                 "description": "A WAYSCloud-compatible SMS API. Every /v1/sms path is also served under /v1/dashboard/sms."},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                                "Bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {"Error": {"description": "Error", "content": {"application/json": {"schema": {
                "type": "object", "required": ["detail"],
                "properties": {"detail": {"type": "string"}, "error": {"type": "object"}}}}}}},
        },
    }
