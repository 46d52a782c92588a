"""Operations and response schemas of /v1/webhooks, field for field as ``app/api/webhooks.py``
builds them."""
from __future__ import annotations

from app.api.openapi.builders import (
    UNAUTHORIZED, Operation, array, boolean, error, integer, json_content, number, obj, ref, string, timestamp,
)
from app.api.webhooks import DEFAULT_PER_PAGE, MAX_PER_PAGE
from app.models.webhook import MAX_ATTEMPTS, RETRY_DELAYS, DeliveryState


def _query(name: str, description: str, schema: dict, **extra) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema, **extra}


WEBHOOK_PARAMETERS = {
    "DeliveryIdPath": {"name": "delivery_id", "in": "path", "required": True,
                       "description": "Delivery (event) ID: the webhook-id header of its requests",
                       "schema": {"type": "string"}},
    "DeliveryPerPage": _query("per_page", f"Deliveries per page (default {DEFAULT_PER_PAGE}; values above "
                                          f"{MAX_PER_PAGE} are read as {MAX_PER_PAGE})",
                              {"type": "integer", "minimum": 1, "default": DEFAULT_PER_PAGE}),
    "DeliveryPageSize": _query("page_size", "Alias of per_page (page_size wins if both are given)",
                               {"type": "integer", "minimum": 1, "default": DEFAULT_PER_PAGE}),
    "DeliveryState": _query("state", f"Only deliveries in this state (case-insensitive): one of "
                                     f"{', '.join(DeliveryState.ALL)}", {"type": "string"}, example="FAILED"),
    "DeliveryMessageId": _query("message_id", "Only the events of this message", {"type": "string"}),
    "DeliveryEndpoint": _query("endpoint", "Only the events sent to this endpoint: a receiver URL without its query "
                                           "string, exactly as GET /v1/webhooks/endpoints lists it",
                               {"type": "string"}, example="https://example.com/hooks/sms"),
}

_DELAYS = ", ".join(f"{s // 3600} h" if s >= 3600 else f"{s // 60} min" if s >= 60 else f"{s} s"
                    for s in RETRY_DELAYS)
LIFECYCLE = f"""A delivery is one event (sms.status or sms.inbound) for one receiver URL; its id is the event id, sent as the webhook-id header on every attempt, so receivers de-duplicate on it. States:
- PENDING: to be sent at next_attempt_at; a message's later events wait until its earlier ones are delivered or failed
- DELIVERED: a receiver answered 2xx
- FAILED: {MAX_ATTEMPTS} attempts without a 2xx (retries after {_DELAYS}), a 410 Gone answer, or an address smsdesk refuses to call
A replay sends a DELIVERED or FAILED event once more with the same id and payload."""

DELIVERY_404 = error("No webhook delivery with this id in your account (code webhook_delivery_not_found)")
SIGNING = ("Webhooks are signed the Standard Webhooks way: webhook-id (the event id), webhook-timestamp (Unix "
           "seconds of the attempt) and webhook-signature (v1,<base64 HMAC-SHA256 of \"{id}.{timestamp}.{body}\"> "
           "keyed with the base64-decoded part of the whsec_ secret; several space-separated signatures while a "
           "rotated-out secret still signs). How to verify: the README's section \"Verifying webhooks\", or the "
           "Standard Webhooks libraries: Webhook(secret).verify(body, headers).")


def webhook_operations() -> list[Operation]:
    one = ("DeliveryIdPath",)
    secret = {"description": "The signing secret", "content": json_content(ref("WebhookSecret"))}
    return [
        Operation(
            "get", "/v1/webhooks/deliveries", "listWebhookDeliveries", "List webhook deliveries",
            f"The account's webhook events, newest first. Paging: page (1-based) with per_page or page_size "
            f"(default {DEFAULT_PER_PAGE}, max {MAX_PER_PAGE}); the envelope is {{deliveries, total, page, "
            f"per_page, page_size, has_more}}.\n\n" + LIFECYCLE, "Webhooks",
            parameters=("Page", "DeliveryPerPage", "DeliveryPageSize", "DeliveryState", "DeliveryMessageId",
                        "DeliveryEndpoint"),
            responses={
                "200": {"description": "A page of deliveries", "content": json_content(ref("WebhookDeliveryList"))},
                "401": UNAUTHORIZED,
                "422": error("Invalid query: page or per_page not a positive whole number (code invalid_query), "
                             "unknown state (code invalid_state); the parameter is named in errors"),
            },
        ),
        Operation(
            "get", "/v1/webhooks/deliveries/{delivery_id}", "getWebhookDelivery", "Get webhook delivery",
            "One delivery with the payload it sends (the same bytes on every attempt, parsed here) and every "
            "attempt: when, the receiver's status code or why there was none, latency and the first KiB of the "
            "answer.\n\n" + SIGNING, "Webhooks", parameters=one,
            responses={"200": {"description": "The delivery and its attempts",
                               "content": json_content(ref("WebhookDeliveryDetail"))},
                       "401": UNAUTHORIZED, "404": DELIVERY_404},
        ),
        Operation(
            "post", "/v1/webhooks/deliveries/{delivery_id}/replay", "replayWebhookDelivery", "Replay webhook delivery",
            "Send a DELIVERED or FAILED event once more, with the same id and payload (receivers that "
            "de-duplicate on webhook-id will ignore it if they already took it). The delivery goes back to "
            "PENDING for one more attempt, made by the worker within seconds; the attempt log marks it as a "
            "replay. No request body.", "Webhooks", parameters=one,
            responses={
                "202": {"description": "Replay queued: the delivery, PENDING again",
                        "content": json_content(ref("WebhookDelivery"))},
                "401": UNAUTHORIZED,
                "404": DELIVERY_404,
                "409": error("The event is still PENDING: it is going to be sent anyway (code "
                             "webhook_delivery_pending; detail says when)"),
            },
        ),
        Operation(
            "get", "/v1/webhooks/endpoints", "listWebhookEndpoints", "Webhook endpoint health",
            "Every endpoint (receiver URL without its query string) the account's events went to in the last 24 "
            "hours, or that still has events pending, worst first, with its figures over those 24 hours. status: "
            "healthy (the last attempt worked and at least 95 % did), failing (the last attempt failed and none "
            "worked), degraded (in between), idle (no attempt in the window).", "Webhooks",
            responses={"200": {"description": "Endpoint health", "content": json_content(ref("WebhookEndpoints"))},
                       "401": UNAUTHORIZED},
        ),
        Operation(
            "get", "/v1/webhooks/secret", "getWebhookSecret", "Get webhook signing secret",
            "The secret the account's webhooks are signed with (answered with Cache-Control: no-store). After a "
            "rotation the previous secret keeps signing beside the new one until previous_secret_valid_until.\n\n"
            + SIGNING, "Webhooks", responses={"200": secret, "401": UNAUTHORIZED},
        ),
        Operation(
            "post", "/v1/webhooks/secret/rotate", "rotateWebhookSecret", "Rotate webhook signing secret",
            "Replace the signing secret with a new one. The old one keeps signing beside it (two signatures per "
            "request) until previous_secret_valid_until (WEBHOOK_SECRET_GRACE_HOURS, 24 h by default), so "
            "receivers can switch without rejecting an event. Rotating again within that time ends the older "
            "secret's grace at once. No request body.", "Webhooks",
            responses={"200": {"description": "The new secret", "content": json_content(ref("WebhookSecret"))},
                       "401": UNAUTHORIZED},
        ),
    ]


def _delivery_fields() -> dict:
    return {
        "id": string("Event id, sent as the webhook-id header", example="evt_3f0c9d2b7a8e4c1f9e6d5b4a3c2b1a09"),
        "event": string("Event type", enum=("sms.status", "sms.inbound")),
        "message_id": string("The message the event is about"),
        "url": string("Where it is POSTed"),
        "endpoint": string("url without its query string: what GET /v1/webhooks/endpoints groups by"),
        "state": string(enum=DeliveryState.ALL),
        "attempts": integer("Attempts made so far"),
        "max_attempts": integer("Attempts allowed before the delivery fails (one more after a replay)"),
        "next_attempt_at": timestamp("When the next attempt is due (PENDING only)", nullable=True),
        "created_at": timestamp("When the event happened"),
        "last_attempt_at": timestamp(nullable=True),
        "delivered_at": timestamp(nullable=True),
        "failed_at": timestamp(nullable=True),
        "last_status_code": integer("HTTP status of the last answer; null when none came", minimum=None,
                                    type=["integer", "null"]),
        "last_error": string("Why the last attempt did not count (e.g. HTTP 503, timed out)", nullable=True),
    }


def webhook_response_schemas() -> dict:
    return {
        "WebhookDelivery": obj(_delivery_fields(), description="One webhook event for one receiver URL."),
        "WebhookDeliveryDetail": obj({
            **_delivery_fields(),
            "payload": {"type": "object", "additionalProperties": True,
                        "description": "The JSON object POSTed (sms.status or sms.inbound event)"},
            "attempt_log": array(ref("WebhookAttempt"), "Every attempt, oldest first"),
        }, description="A delivery with its payload and attempt log."),
        "WebhookAttempt": obj({
            "number": integer("1 for the first attempt", minimum=1),
            "attempted_at": timestamp(),
            "status_code": integer("The receiver's HTTP status; null when no answer came", minimum=None,
                                   type=["integer", "null"]),
            "latency_ms": integer("Time to the answer (or to giving up)"),
            "error": string("Why no HTTP answer came", nullable=True,
                            enum=("refused", "unresolvable", "timeout", "tls", "connection")),
            "detail": string("More about the error", nullable=True),
            "response_excerpt": string("The first KiB of the answer's body", nullable=True),
            "replay": boolean("Whether a replay asked for this attempt"),
        }),
        "WebhookDeliveryList": obj({
            "deliveries": array(ref("WebhookDelivery")),
            "total": integer(),
            "page": integer(minimum=1),
            "per_page": integer(minimum=1, maximum=MAX_PER_PAGE),
            "page_size": integer("Same as per_page", minimum=1, maximum=MAX_PER_PAGE),
            "has_more": boolean(),
        }),
        "WebhookEndpoints": obj({
            "window_hours": integer("The figures cover this many hours back from now"),
            "endpoints": array(ref("WebhookEndpointHealth")),
        }),
        "WebhookEndpointHealth": obj({
            "endpoint": string("Receiver URL without its query string"),
            "status": string(enum=("healthy", "degraded", "failing", "idle")),
            "events": integer("Events created in the window, or still pending"),
            "delivered": integer(),
            "failed": integer(),
            "pending": integer(),
            "attempts": integer("Attempts made in the window"),
            "success_rate": number("Share of the attempts answered with a 2xx; null without attempts",
                                   type=["number", "null"], maximum=1),
            "average_latency_ms": integer(minimum=None, type=["integer", "null"]),
            "last_success_at": timestamp(nullable=True),
            "last_failure_at": timestamp(nullable=True),
        }),
        "WebhookSecret": obj({
            "secret": string("whsec_ followed by base64 (the HMAC key is the decoded part)", pattern="^whsec_"),
            "previous_secret_valid_until": timestamp("Until when the previous secret still signs beside this "
                                                     "one; null when it no longer does", nullable=True),
        }),
    }
