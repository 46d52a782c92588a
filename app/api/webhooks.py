"""``/v1/webhooks``: the attempt log of the account's webhook events, replay, the health of each
receiving endpoint, and the signing secret (read and rotate). The API key already has full rights
over the account, so it may read the secret, as Stripe's and Svix's APIs allow.

Each view parses input, calls one service (``webhook_log`` to read, ``webhooks`` to change),
renders JSON.
"""
from __future__ import annotations

import json

from flask import Blueprint, g, jsonify, request

from app.api.auth import authenticate
from app.api.params import MAX_PAGE
from app.models import Account, WebhookAttempt, WebhookDelivery, utcnow
from app.models.base import iso
from app.services import webhook_log, webhooks as webhook_service
from app.services.errors import Invalid

webhooks = Blueprint("webhooks", __name__)

DEFAULT_PER_PAGE = 50
# Lower than the API's usual 500: a delivery row carries its URL, and the log is read by people.
MAX_PER_PAGE = 100


@webhooks.before_request
def _authenticate() -> None:
    authenticate()


# -- JSON shapes ----------------------------------------------------------------------------------

def delivery_json(d: WebhookDelivery) -> dict:
    return {
        "id": d.id,
        "event": d.event,
        "message_id": d.message_id,
        "url": d.url,
        "endpoint": d.endpoint,
        "state": d.state,
        "attempts": d.attempts,
        "max_attempts": d.max_attempts,
        "next_attempt_at": iso(d.next_attempt_at),
        "created_at": iso(d.created_at),
        "last_attempt_at": iso(d.last_attempt_at),
        "delivered_at": iso(d.delivered_at),
        "failed_at": iso(d.failed_at),
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
    }


def attempt_json(a: WebhookAttempt) -> dict:
    return {
        "number": a.number,
        "attempted_at": iso(a.attempted_at),
        "status_code": a.status_code,
        "latency_ms": a.latency_ms,
        "error": a.error,
        "detail": a.detail,
        "response_excerpt": a.response_excerpt,
        "replay": a.replay,
    }


def delivery_detail_json(d: WebhookDelivery, attempts: list[WebhookAttempt]) -> dict:
    # The payload is stored as the exact text that is signed and sent; clients get it parsed. Here
    return {**delivery_json(d), "payload": json.loads(d.payload), "attempt_log": [attempt_json(a) for a in attempts]}


def health_json(h: webhook_log.EndpointHealth) -> dict:
    return {
        "endpoint": h.endpoint,
        "status": h.status,
        "events": h.events,
        "delivered": h.delivered,
        "failed": h.failed,
        "pending": h.pending,
        "attempts": h.attempts,
        "success_rate": h.success_rate,
        "average_latency_ms": h.average_latency_ms,
        "last_success_at": iso(h.last_success_at),
        "last_failure_at": iso(h.last_failure_at),
    }


def secret_json(account: Account) -> dict:
    # The previous secret signs only while signing_secrets says so; after that it is not worth naming.
    still_signing = len(webhook_service.signing_secrets(account, utcnow())) > 1
    return {"secret": account.webhook_secret,
            "previous_secret_valid_until": iso(account.webhook_secret_previous_until) if still_signing else None}


# -- query parameters -----------------------------------------------------------------------------

def _bad_query(name: str, message: str, kind: str):
    raise Invalid(message, code="invalid_query", fields=[{"loc": ["query", name], "msg": message, "type": kind}])


def _whole_number(name: str, default: int, maximum: int | None = None) -> int:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        _bad_query(name, f"{name} must be a whole number, not '{raw[:32]}'", "int_parsing")
    if value < 1:
        _bad_query(name, f"{name} must be at least 1", "greater_than_equal")
    if maximum is not None and value > maximum:
        _bad_query(name, f"{name} must be at most {maximum}", "less_than_equal")
    return value


def _paging() -> tuple[int, int]:
    """``page`` and ``per_page`` (or its alias ``page_size``, which wins, as on every list); a
    page size above 100 is read as 100."""
    page = _whole_number("page", 1, MAX_PAGE)
    name = "page_size" if (request.args.get("page_size") or "").strip() else "per_page"
    return page, min(_whole_number(name, DEFAULT_PER_PAGE), MAX_PER_PAGE)


def _text(name: str) -> str | None:
    return (request.args.get(name) or "").strip() or None


# -- views ----------------------------------------------------------------------------------------

@webhooks.get("/deliveries")
def list_deliveries():
    page, per_page = _paging()
    state = _text("state")
    rows, total = webhook_log.list_deliveries(
        g.account, page=page, per_page=per_page, state=state.upper() if state else None,
        message_id=_text("message_id"), endpoint=_text("endpoint"))
    return jsonify({"deliveries": [delivery_json(d) for d in rows], "total": total, "page": page,
                    "per_page": per_page, "page_size": per_page, "has_more": page * per_page < total})


@webhooks.get("/deliveries/<delivery_id>")
def get_delivery(delivery_id: str):
    return jsonify(delivery_detail_json(*webhook_log.get_delivery(g.account, delivery_id)))


@webhooks.post("/deliveries/<delivery_id>/replay")
def replay_delivery(delivery_id: str):
    return jsonify(delivery_json(webhook_service.replay(g.account, delivery_id))), 202


@webhooks.get("/endpoints")
def list_endpoints():
    return jsonify({"window_hours": int(webhook_log.HEALTH_WINDOW.total_seconds() // 3600),
                    "endpoints": [health_json(h) for h in webhook_log.endpoint_health(g.account)]})


@webhooks.get("/secret")
def get_secret():
    return _no_store(jsonify(secret_json(g.account)))


@webhooks.post("/secret/rotate")
def rotate_secret():
    webhook_service.rotate_secret(g.account)
    return _no_store(jsonify(secret_json(g.account)))


def _no_store(response):
    # A secret must not sit in a shared or browser cache.
    response.headers["Cache-Control"] = "no-store"
    return response
