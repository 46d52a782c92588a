"""Operations and response schemas of liveness, health and this document."""
from __future__ import annotations

from app.api.openapi.builders import OPENAPI_VERSION, Operation, array, json_content, obj, ref, string


def meta_response_schemas() -> dict:
    return {
        "Health": obj({
            "status": string(enum=("ok", "unavailable")),
            "database": string(enum=("ok", "unreachable")),
            "redis": string(enum=("ok", "unreachable")),
        }),
        "Ping": obj({"pong": {"type": "boolean", "const": True}}),
        "OpenApiDocument": obj({
            "openapi": string(enum=(OPENAPI_VERSION,)),
            "info": {"type": "object", "additionalProperties": True},
            "paths": {"type": "object", "additionalProperties": True},
            "components": {"type": "object", "additionalProperties": True},
            "tags": array({"type": "object", "additionalProperties": True}),
        }, description="This document."),
    }


def meta_operations() -> list[Operation]:
    return [
        Operation(
            "get", "/v1/ping", "ping", "Liveness",
            "Answers without touching the database or Redis. No authentication.", "Meta", security=None,
            responses={"200": {"description": "Alive", "content": json_content(ref("Ping"))}},
        ),
        Operation(
            "get", "/healthz", "healthz", "Health",
            "Checks the database and Redis. No authentication.", "Meta", security=None,
            responses={
                "200": {"description": "Healthy", "content": json_content(ref("Health"))},
                "503": {"description": "The database or Redis is unreachable", "content": json_content(ref("Health"))},
            },
        ),
        Operation(
            "get", "/v1/openapi.json", "getOpenApi", "This OpenAPI document",
            "The OpenAPI 3.1 description of the API (also rendered at /docs). No authentication.", "Meta",
            security=None,
            responses={"200": {"description": "The document", "content": json_content(ref("OpenApiDocument"))}},
        ),
    ]
